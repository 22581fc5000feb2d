package sami_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/plugins"
)

// exampleT stands in for a test's *testing.T, which agenttest needs.
type exampleT struct {
	testing.TB
	dir      string
	cleanups []func()
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) TempDir() string {
	if t.dir == "" {
		t.dir, _ = os.MkdirTemp("", "sami-example")
	}
	return t.dir
}
func (t *exampleT) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	os.RemoveAll(t.dir)
}

// Example moves one session onto a device the way the migration engine
// does: lock, stage, confirmed commit, verify by reading back, confirm.
func Example() {
	t := &exampleT{}
	defer t.done()
	agent, _ := agenttest.StartSim(t, "fw-b", simfw.Vendors()["sami-sim"]) // a sami-agent on loopback
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	reg := device.NewRegistry()
	if err := plugins.Register(reg); err != nil {
		panic(err)
	}
	d, err := reg.Open(ctx, agent.Config()) // Driver "sami", verified host key, key auth
	if err != nil {
		panic(err)
	}
	defer d.Close()

	caps, err := d.Capabilities(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("writable:", caps.Writable, "confirmed commit:", caps.ConfirmedCommit)

	s := devicetest.Session(1)
	steps := []func() error{
		func() error { return d.Lock(ctx) },
		func() error { return d.Stage(ctx, slices.Values([]*flow.Session{s})) },
		func() error { return d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute}) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			panic(err)
		}
	}
	var back []*flow.Session
	if err := d.Read(ctx, nil, func(s *flow.Session) error { back = append(back, s); return nil }); err != nil {
		panic(err)
	}
	if flow.Diff([]*flow.Session{s}, back).Empty() {
		err = d.Confirm(ctx, "")
	} else {
		err = d.Cancel(ctx, "")
	}
	if err != nil {
		panic(err)
	}
	fmt.Println("confirmed:", back[0].GetId())
	fmt.Println(d.Unlock(ctx))
	// Output:
	// writable: true confirmed commit: true
	// confirmed: 0/6/10.1.0.2/1025/192.0.2.10/443
	// <nil>
}
