package migrate_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/simfw"
)

// TestPreCopy: traffic keeps touching the endpoint's sessions and creating
// new ones while they are copied; after the cutover everything, including
// the last changes, is on the destination, the source is clean, and the
// freeze window is reported.
func TestPreCopy(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	moving := vmSessions(vm, 200)
	for _, s := range moving { // traffic restarts their lifetime (simfw Touch)
		s.Timers.IdleTimeout, s.Timers.Remaining = ygot.Uint32(3600), ygot.Uint32(1800)
	}
	l.seed("fwA", moving...)
	// A slow destination makes the copy last several seconds, so lifetimes
	// restarted meanwhile must be carried over (not just new content).
	l.fws["fwB"].SetLatency(300 * time.Millisecond)
	extra := vmSessions(vm, 230)[200:]
	var stop atomic.Bool
	done, seeded := make(chan struct{}), make(chan struct{})
	go func() { // traffic while the copy runs: counters move, new flows appear
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			l.fws["fwA"].Touch(moving[i%len(moving)].GetId(), 1, 100)
			if i < len(extra) {
				if err := l.fws["fwA"].Upsert(ctx, extra[i:i+1]); err != nil {
					t.Error(err)
				}
			} else if i == len(extra) {
				close(seeded)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	var cut time.Time
	var atCut []*flow.Session
	rep, err := l.engine().Migrate(ctx, migrate.Request{
		Kind: migrate.PreCopy, Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"},
		Cutover: func(context.Context) error {
			<-seeded
			stop.Store(true)
			<-done
			cut, atCut = time.Now(), l.fws["fwA"].Snapshot()
			return nil
		},
	})
	if err != nil {
		t.Fatalf("pre-copy: %v", err)
	}
	if cut.IsZero() {
		t.Fatal("cutover hook not called")
	}
	if n := len(l.ids("fwA")); n != 0 {
		t.Errorf("fwA still holds %d sessions", n)
	}
	if n := len(l.ids("fwB")); n != 230 {
		t.Errorf("fwB holds %d sessions, want 230", n)
	}
	if rep.Blackout <= 0 || rep.Status != journal.Done {
		t.Errorf("report: blackout %v status %s", rep.Blackout, rep.Status)
	}
	// Every flow expires at fwB when it would have expired at fwA.
	checked, bAt := time.Now(), map[string]*flow.Session{}
	for _, s := range l.fws["fwB"].Snapshot() {
		bAt[s.GetId()] = s
	}
	for _, a := range atCut {
		b := bAt[a.GetId()]
		if b == nil {
			continue
		}
		expA := cut.Add(time.Duration(a.GetTimers().GetRemaining()) * time.Second)
		expB := checked.Add(time.Duration(b.GetTimers().GetRemaining()) * time.Second)
		if d := expA.Sub(expB); d > 3*time.Second || d < -3*time.Second {
			t.Errorf("%s expires at fwB %v off its expiry at fwA at the cutover", a.GetId(), d.Round(time.Second))
			break
		}
	}
	t.Logf("pre-copy: %d sessions, %d rounds, blackout %v, %d late changes, %d lifetimes refreshed", rep.Sessions, rep.Rounds, rep.Blackout, rep.Late, rep.Refreshed)
}

// TestUnplannedMove: replication runs for fwA; fwA dies; the unplanned move
// installs the last checkpoint on fwB and reports its age.
func TestUnplannedMove(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	l.seed("fwA", vmSessions(vm, 40)...)
	l.seed("fwA", vmSessions("10.1.0.77", 5)...)
	e := l.engine()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var checkpoints atomic.Int32
	var last atomic.Int32 // sessions in the last checkpoint
	go e.Replicate(rctx, "fwA", migrate.ReplicateOptions{Interval: 50 * time.Millisecond, Retry: 50 * time.Millisecond,
		Status: func(st migrate.ReplicaStatus) {
			if st.Err == nil {
				last.Store(int32(st.Sessions))
				if st.Sessions == 45 {
					checkpoints.Add(1)
				}
			}
		}})
	waitUntil(t, "a second checkpoint of fwA", func() bool { return checkpoints.Load() >= 2 })
	// A checkpoint is taken once the change stream is live (Replicate
	// reads the table after device.Live): a flow created now travels on it.
	l.seed("fwA", vmSessions(vm, 41)[40]) // a late flow, replicated by the stream
	waitUntil(t, "a checkpoint with the late flow", func() bool { return last.Load() == 46 })
	l.agents["fwA"].Stop() // the firewall dies
	rep, err := e.Migrate(ctx, migrate.Request{Kind: migrate.Unplanned, Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"}})
	if err != nil {
		t.Fatalf("unplanned: %v", err)
	}
	if rep.Sessions != 41 || len(l.ids("fwB")) != 41 {
		t.Errorf("saved %d flows, fwB holds %d; want 41", rep.Sessions, len(l.ids("fwB")))
	}
	if rep.CheckpointAge <= 0 || rep.CheckpointAge > 5*time.Second {
		t.Errorf("checkpoint age %v", rep.CheckpointAge)
	}
	t.Logf("unplanned: %d flows saved from a checkpoint %v old", rep.Sessions, rep.CheckpointAge)

	// Without replication there is nothing to install.
	_, err = e.Migrate(ctx, migrate.Request{Kind: migrate.Unplanned, Endpoints: endpoint(vm), Sources: []string{"fwZ"}, Destinations: []string{"fwB"}})
	if !errors.Is(err, migrate.ErrNoCheckpoint) {
		t.Errorf("unplanned without checkpoint: %v, want ErrNoCheckpoint", err)
	}
}

// waitUntil polls cond until it holds, for at most 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !within(20*time.Second, cond) {
		t.Fatalf("not within 20 s: %s", what)
	}
}

// within polls cond for up to d and reports whether it held.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestPreCopyReadsAfterStreamLive: a source whose change stream takes a
// while to come up, and a flow created before it does. The snapshot is
// read once the stream says it is live, so the flow is copied with the
// rest, not found late by the reconcile read after the freeze.
func TestPreCopyReadsAfterStreamLive(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	l.seed("fwA", vmSessions(vm, 20)...)
	early := vmSessions(vm, 21)[20]
	l.wrap = func(d device.Driver) device.Driver {
		return slowWatch{d, func() { l.seed("fwA", early) }}
	}
	rep, err := l.engine().Migrate(ctx, migrate.Request{Kind: migrate.PreCopy, Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"}})
	if err != nil {
		t.Fatalf("pre-copy: %v", err)
	}
	if n := len(l.ids("fwB")); n != 21 {
		t.Errorf("fwB holds %d sessions, want 21", n)
	}
	if rep.Late != 0 {
		t.Errorf("%d changes found late by the reconcile read, want 0 (the snapshot is read after the stream is live)", rep.Late)
	}
}

// slowWatch is a driver whose change stream comes up late: Watch waits,
// runs before (a change the stream will not see), then subscribes.
type slowWatch struct {
	device.Driver
	before func()
}

func (s slowWatch) Watch(ctx context.Context, m *flow.Matcher, fn func(device.Delta) error) error {
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	s.before()
	return s.Driver.Watch(ctx, m, fn)
}
