package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/simfw"
)

type boundary struct {
	phase     migrate.Phase
	dev       string
	journaled bool
}

// boundaries records the phase boundaries of a successful migration.
func boundaries(t *testing.T) []boundary {
	l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	l.seed("fwA", vmSessions(vm, 10)...)
	var out []boundary
	e := l.engine(migrate.WithHook(func(_ context.Context, _ string, p migrate.Phase, dev string, journaled bool) error {
		out = append(out, boundary{p, dev, journaled})
		return nil
	}))
	if _, err := e.Migrate(context.Background(), migrate.Request{Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"}}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCrashAtEveryPhase kills the orchestrator at every phase boundary in
// turn (the hook abandons the run: connections dropped, nothing cleaned up),
// starts a new engine on the same journal and recovers. Whatever the
// boundary: no session is on neither side, either the source is complete
// and the destination untouched or the destination holds everything, and
// the journal ends the migration done or rolled back.
func TestCrashAtEveryPhase(t *testing.T) {
	for i, b := range boundaries(t) {
		when := "before-journal"
		if b.journaled {
			when = "journaled"
		}
		t.Run(fmt.Sprintf("%02d-%s-%s-%s", i, b.phase, b.dev, when), func(t *testing.T) {
			ctx := context.Background()
			l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
			moving := vmSessions(vm, 10)
			l.seed("fwA", moving...)
			l.seed("fwB", plain("10.9.9.9", 2)...)
			want, b0 := idsOf(moving), l.ids("fwB")
			n := 0
			crash := l.engine(migrate.WithHook(func(_ context.Context, _ string, p migrate.Phase, dev string, _ bool) error {
				if n++; n == i+1 {
					return errors.New("kill -9")
				}
				return nil
			}))
			rep, err := crash.Migrate(ctx, migrate.Request{Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"}})
			if !errors.Is(err, migrate.ErrAbandoned) {
				t.Fatalf("crash run: %v", err)
			}
			// No session on neither side, even right after the crash.
			checkNotLost(t, l, want)
			// Restart: a new engine on the same journal file.
			l.j.Close()
			l.openJournal()
			reps, err := l.engine().Recover(ctx)
			if err != nil {
				t.Fatalf("recover: %v", err)
			}
			checkNotLost(t, l, want)
			a, bIDs := l.ids("fwA"), l.ids("fwB")
			moved := subset(want, bIDs) && disjoint(want, a)
			stayed := cmp.Equal(a, want) && cmp.Equal(bIDs, b0)
			if !moved && !stayed {
				t.Errorf("after recovery: fwA %d fwB %d sessions: neither moved nor rolled back", len(a), len(bIDs))
			}
			rec, gerr := l.j.Get(ctx, rep.ID)
			switch {
			case errors.Is(gerr, journal.ErrNotFound):
				if !stayed {
					t.Error("no journal record but the state moved")
				}
				return // crashed before the record was created
			case gerr != nil:
				t.Fatal(gerr)
			}
			if rec.Status != journal.Done && rec.Status != journal.RolledBack {
				t.Errorf("journal status %s after recovery", rec.Status)
			}
			if (rec.Status == journal.Done) != moved {
				t.Errorf("journal says %s, devices say moved=%v", rec.Status, moved)
			}
			if len(reps) != 1 {
				t.Errorf("recover reported %d migrations, want 1", len(reps))
			}
			t.Logf("crash at %s %s (%s) -> %s", b.phase, b.dev, when, rec.Status)
		})
	}
}

func checkNotLost(t *testing.T, l *lab, want []string) {
	t.Helper()
	a, b := l.ids("fwA"), l.ids("fwB")
	for _, id := range want {
		_, inA := slices.BinarySearch(a, id)
		_, inB := slices.BinarySearch(b, id)
		if !inA && !inB {
			t.Fatalf("session %s is on neither device", id)
		}
	}
}

// TestDestinationRefusesMidWrite: the destination refuses the 7th session
// of the write; the migration rolls back, the destination holds what it
// had, the source is untouched.
func TestDestinationRefusesMidWrite(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	l.seed("fwA", vmSessions(vm, 20)...)
	l.seed("fwB", plain("10.9.9.9", 2)...)
	a0, b0 := l.ids("fwA"), l.ids("fwB")
	l.fws["fwB"].FailWriteAt(7)
	rep, err := l.engine().Migrate(ctx, migrate.Request{Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"}})
	if err == nil {
		t.Fatal("migration succeeded through a refused write")
	}
	t.Logf("error: %v", err)
	if rep.Status != journal.RolledBack {
		t.Errorf("status %s, want rolled-back", rep.Status)
	}
	if !cmp.Equal(l.ids("fwA"), a0) || !cmp.Equal(l.ids("fwB"), b0) {
		t.Errorf("devices changed: fwA %d (was %d) fwB %d (was %d)", len(l.ids("fwA")), len(a0), len(l.ids("fwB")), len(b0))
	}
}

// TestSourceVanishesMidRead: the source drops off while being read; nothing
// is written anywhere and the migration ends rolled back.
func TestSourceVanishesMidRead(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	l.seed("fwA", vmSessions(vm, 20)...)
	b0 := l.ids("fwB")
	e := l.engine(migrate.WithHook(func(_ context.Context, _ string, p migrate.Phase, dev string, journaled bool) error {
		if p == migrate.PhaseSnapshot && journaled {
			// The dump is slow; the device drops off while it runs.
			l.fws["fwA"].SetLatency(300 * time.Millisecond)
			time.AfterFunc(100*time.Millisecond, l.agents["fwA"].Stop)
		}
		return nil
	}))
	rep, err := e.Migrate(ctx, migrate.Request{Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"}})
	if err == nil {
		t.Fatal("migration succeeded without its source")
	}
	t.Logf("error: %v", err)
	if rep.Status != journal.RolledBack {
		t.Errorf("status %s, want rolled-back", rep.Status)
	}
	if !cmp.Equal(l.ids("fwB"), b0) || len(l.ids("fwA")) != 20 {
		t.Errorf("devices changed")
	}
}
