package simfw_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
)

func TestFailWriteAt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      int
		batches []int // sizes of consecutive upserts; the last one fails
		applied int
	}{
		{"first", 1, []int{3}, 0},
		{"middle", 2, []int{3}, 1},
		{"last", 3, []int{3}, 2},
		{"carried over to the next call", 5, []int{3, 3}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := sim()
			f.FailWriteAt(tc.at)
			var all []*flow.Session
			for i, n := range tc.batches {
				b := batch(len(all), n)
				all = append(all, b...)
				err := f.Upsert(t.Context(), b)
				if i < len(tc.batches)-1 {
					if err != nil {
						t.Fatalf("Upsert %d: %v", i, err)
					}
					continue
				}
				var be *backend.BatchError
				if !errors.As(err, &be) || !errors.Is(err, backend.ErrRefused) {
					t.Fatalf("Upsert = %v, want a BatchError wrapping ErrRefused", err)
				}
				if be.Applied != tc.applied || be.ID != id(b[tc.applied]) {
					t.Errorf("BatchError Applied %d ID %s, want %d %s", be.Applied, be.ID, tc.applied, id(b[tc.applied]))
				}
			}
			want := all[:len(all)-tc.batches[len(tc.batches)-1]+tc.applied]
			if diff := cmp.Diff(ids(want), ids(f.Snapshot())); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			// Once: the retry succeeds.
			upsert(t, f, all...)
			if f.Len() != len(all) {
				t.Errorf("Len after retry = %d, want %d", f.Len(), len(all))
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		f := sim()
		f.FailWriteAt(1)
		f.FailWriteAt(0)
		upsert(t, f, batch(0, 3)...)
	})
}

// A fault after reordering: the table holds exactly the sessions of the
// caller's slice before Applied.
func TestFailWriteAtReordered(t *testing.T) {
	master := nth(1, withHelper("ftp"))
	related := nth(2, withMaster(id(master)))
	other := nth(3)
	// Write order: master, related, other (the master is pulled in before
	// the related session).
	for _, tc := range []struct {
		at      int
		applied int
		present []string
	}{
		{1, 0, nil}, // master refused
		{2, 0, nil}, // master written, related refused: ss[0] missing, master rolled back
		{3, 2, []string{id(master), id(related)}}, // other refused
	} {
		t.Run(fmt.Sprint(tc.at), func(t *testing.T) {
			f := sim()
			f.FailWriteAt(tc.at)
			err := f.Upsert(t.Context(), []*flow.Session{related, master, other})
			var be *backend.BatchError
			if !errors.As(err, &be) {
				t.Fatalf("Upsert = %v, want a BatchError", err)
			}
			if be.Applied != tc.applied {
				t.Errorf("Applied = %d, want %d", be.Applied, tc.applied)
			}
			got := ids(f.Snapshot())
			slices.Sort(tc.present)
			if diff := cmp.Diff(tc.present, got, cmpEmpty); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpEmpty = cmp.FilterValues(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

func TestFailDeleteAt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      int
		batches []int // sizes of consecutive deletes; the last one fails
		deleted int   // sessions of the failing call deleted before the fault
	}{
		{"first", 1, []int{3}, 0},
		{"middle", 2, []int{3}, 1},
		{"last", 3, []int{3}, 2},
		{"carried over to the next call", 5, []int{3, 3}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := sim()
			var all []*flow.Session
			for _, n := range tc.batches {
				all = append(all, batch(len(all), n)...)
			}
			upsert(t, f, all...)
			// Sessions not in the table do not count.
			if err := f.Delete(t.Context(), batch(100, 2)); err != nil {
				t.Fatal(err)
			}
			f.FailDeleteAt(tc.at)
			done := 0
			for i, n := range tc.batches {
				b := all[done : done+n]
				err := f.Delete(t.Context(), b)
				if i < len(tc.batches)-1 {
					if err != nil {
						t.Fatalf("Delete %d: %v", i, err)
					}
					done += n
					continue
				}
				var be *backend.BatchError
				if !errors.As(err, &be) || !errors.Is(err, backend.ErrRefused) {
					t.Fatalf("Delete = %v, want a BatchError wrapping ErrRefused", err)
				}
				if be.Applied != tc.deleted || be.ID != id(b[tc.deleted]) {
					t.Errorf("BatchError Applied %d ID %s, want %d %s", be.Applied, be.ID, tc.deleted, id(b[tc.deleted]))
				}
				done += tc.deleted
			}
			if diff := cmp.Diff(ids(all[done:]), ids(f.Snapshot())); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
			// Once: the retry succeeds.
			if err := f.Delete(t.Context(), all); err != nil || f.Len() != 0 {
				t.Errorf("Delete after the fault: %v, %d left", err, f.Len())
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		f := sim()
		upsert(t, f, batch(0, 3)...)
		f.FailDeleteAt(1)
		f.FailDeleteAt(0)
		if err := f.Delete(t.Context(), batch(0, 3)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDisconnect(t *testing.T) {
	f := sim()
	upsert(t, f, nth(1))
	events, done := watch(t, f)
	f.Disconnect()
	if err := result(t, done); !errors.Is(err, simfw.ErrUnreachable) {
		t.Errorf("Watch = %v, want ErrUnreachable", err)
	}
	ctx := t.Context()
	calls := map[string]func() error{
		"Upsert": func() error { return f.Upsert(ctx, []*flow.Session{nth(2)}) },
		"Delete": func() error { return f.Delete(ctx, []*flow.Session{nth(1)}) },
		"Dump":   func() error { return f.Dump(ctx, func(*flow.Session) error { return nil }) },
		"Capabilities": func() error {
			_, err := f.Capabilities(ctx)
			return err
		},
		"Watch": func() error { return f.Watch(ctx, func(backend.Event) error { return nil }) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, simfw.ErrUnreachable) || errors.Is(err, backend.ErrClosed) {
				t.Errorf("%s = %v, want ErrUnreachable", name, err)
			}
		})
	}
	// The device keeps running; its events reach nobody.
	f.Touch(id(nth(1)), 1, 1)
	noMore(t, events)
	f.Reconnect()
	for name, call := range calls {
		if name == "Watch" {
			continue
		}
		if err := call(); err != nil {
			t.Errorf("%s after Reconnect: %v", name, err)
		}
	}
	if diff := cmp.Diff([]string{id(nth(2))}, ids(f.Snapshot())); diff != "" {
		t.Errorf("table after Reconnect (-want +got):\n%s", diff)
	}

	t.Run("during dump", func(t *testing.T) {
		f := sim()
		upsert(t, f, batch(0, 3)...)
		n := 0
		err := f.Dump(t.Context(), func(*flow.Session) error {
			n++
			f.Disconnect()
			return nil
		})
		if !errors.Is(err, simfw.ErrUnreachable) || n != 1 {
			t.Errorf("Dump = %v after %d sessions, want ErrUnreachable after 1", err, n)
		}
	})
}

func TestLatency(t *testing.T) {
	f := sim()
	f.SetLatency(time.Hour)
	ctx := t.Context()
	calls := map[string]func(context.Context) error{
		"Upsert": func(ctx context.Context) error { return f.Upsert(ctx, []*flow.Session{nth(1)}) },
		"Delete": func(ctx context.Context) error { return f.Delete(ctx, []*flow.Session{nth(1)}) },
		"Dump":   func(ctx context.Context) error { return f.Dump(ctx, func(*flow.Session) error { return nil }) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := call(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s = %v, want DeadlineExceeded", name, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s took %v despite the cancelled context", name, d)
			}
		})
	}
	if f.Len() != 0 {
		t.Errorf("Len = %d, want 0: the cancelled Upsert wrote", f.Len())
	}
	f.SetLatency(30 * time.Millisecond)
	start := time.Now()
	upsert(t, f, nth(1))
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Upsert took %v, want at least the latency", d)
	}
	f.SetLatency(0)
	if _, err := f.Capabilities(ctx); err != nil {
		t.Error(err)
	}
}
