package sami_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
)

// A Watch cancelled while it reads the table to seed its mirror leaves the
// connection, and the transaction on it, alone: a pre-copy stops its watch
// at the freeze and then goes on writing through the same driver.
func TestWatchCancelledDuringItsReadKeepsTheTransaction(t *testing.T) {
	a, fw := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	if err := fw.Upsert(ctxT(t), []*flow.Session{devicetest.Session(1)}); err != nil {
		t.Fatal(err)
	}
	d := openT(t, a.Config())
	if err := d.Lock(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	fw.SetLatency(time.Second) // every read of the table takes a second
	wctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- d.Watch(wctx, nil, func(device.Delta) error { return nil }) }()
	time.Sleep(500 * time.Millisecond) // subscribed, reading
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch = %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not end")
	}
	fw.SetLatency(0)
	if err := d.Stage(ctxT(t), func(yield func(*flow.Session) bool) { yield(devicetest.Session(2)) }); err != nil {
		t.Fatalf("stage after the watch ended: %v", err)
	}
	if err := d.Commit(ctxT(t), device.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if fw.Len() != 2 {
		t.Errorf("device holds %d sessions, want 2", fw.Len())
	}
}
