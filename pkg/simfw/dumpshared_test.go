package simfw_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
)

// DumpShared gives what Dump gives (timers counted down to now), in new
// session structs whose own fields the caller may change.
func TestDumpShared(t *testing.T) {
	c := newClock()
	f := sim(simfw.WithClock(c.Now))
	upsert(t, f, mixed()...)
	upsert(t, f, nth(1, withTimers(100, 100)), nth(2))
	noRemaining := nth(3, withTimers(100, 100))
	noRemaining.Timers.Remaining = nil
	upsert(t, f, noRemaining)
	c.Advance(30 * time.Second)
	var deep, shared []*flow.Session
	if err := f.Dump(t.Context(), func(s *flow.Session) error { deep = append(deep, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.DumpShared(t.Context(), func(s *flow.Session) error { shared = append(shared, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(deep, shared); diff != "" {
		t.Fatalf("DumpShared differs from Dump (-Dump +DumpShared):\n%s", diff)
	}
	for _, s := range shared {
		s.Mark = ygot.Uint32(99)
		s.Counters = nil
		if s.Timers != nil {
			s.Timers.Remaining = ygot.Uint32(1)
		}
	}
	if diff := cmp.Diff(deep, f.Snapshot()); diff != "" {
		t.Errorf("changing the sessions' own fields and timers reached the table (-before +after):\n%s", diff)
	}
	f.Close()
	if err := f.DumpShared(t.Context(), func(*flow.Session) error { return nil }); err == nil {
		t.Error("DumpShared of a closed firewall succeeded")
	}
}

// WatchShared delivers what Watch delivers.
func TestWatchShared(t *testing.T) {
	f := sim()
	events, _ := watch(t, f)
	shared := make(chan *flow.Session, 8)
	go func() {
		_ = f.WatchShared(t.Context(), func(e backend.Event) error { shared <- e.Session; return nil })
	}()
	waitFor(t, func() bool { return f.Watchers() == 2 })
	upsert(t, f, mixed()...)
	for range mixed() {
		want := (<-events).Session
		select {
		case got := <-shared:
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("WatchShared event differs (-Watch +WatchShared):\n%s", diff)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
}
