package simfw_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/simfw"
)

// A write larger than the watch buffer is queued whole: a watcher that
// keeps up is not dropped for the size of one batch.
func TestWatchBatchLargerThanBuffer(t *testing.T) {
	f := sim(simfw.WithWatchBuffer(4))
	events, done := watch(t, f)
	upsert(t, f, batch(0, 500)...)
	// The watcher keeps up: it has taken the first batch when the second
	// write comes (one still queued then is a full buffer: dropped).
	got := next(t, events, 500)
	if err := f.Delete(t.Context(), batch(0, 500)); err != nil {
		t.Fatal(err)
	}
	got = append(got, next(t, events, 500)...)
	for i, e := range got {
		want := backend.Created
		if i >= 500 {
			want = backend.Destroyed
		}
		if e.Type != want {
			t.Fatalf("event %d: %v, want %v", i, e.Type, want)
		}
	}
	noMore(t, events)
	if f.Watchers() != 1 {
		t.Errorf("Watchers = %d, want the watcher kept", f.Watchers())
	}
	f.Close()
	if err := result(t, done); !errors.Is(err, backend.ErrClosed) {
		t.Errorf("Watch = %v, want ErrClosed", err)
	}
}

// A watcher still holding a full buffer when the next write comes is
// dropped, after the events queued before are delivered.
func TestWatchOverflowAfterBigBatch(t *testing.T) {
	f := sim(simfw.WithWatchBuffer(4))
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	done := make(chan error, 1)
	n := 0
	go func() {
		done <- f.Watch(t.Context(), func(backend.Event) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-block
			n++
			return nil
		})
	}()
	waitFor(t, func() bool { return f.Watchers() == 1 })
	upsert(t, f, nth(0)) // taken by the watcher, stuck in fn
	// Wait for it: a watcher waking only after the batch would take the
	// batch with it and leave the queue empty for the next write.
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher never received the first event")
	}
	upsert(t, f, batch(1, 10)...) // queued whole
	upsert(t, f, nth(11))         // the queue is full: dropped
	if f.Watchers() != 0 {
		t.Errorf("Watchers = %d, want the slow one dropped", f.Watchers())
	}
	close(block)
	if err := result(t, done); !errors.Is(err, simfw.ErrOverflow) {
		t.Errorf("Watch = %v, want ErrOverflow", err)
	}
	if n != 11 {
		t.Errorf("delivered %d events, want the 11 queued before the overflow", n)
	}
}

// An event carries the session as it was when it happened, even when it
// is delivered later: remaining counted down to the event, not to the
// delivery.
func TestWatchEventTimers(t *testing.T) {
	c := newClock()
	f := sim(simfw.WithClock(c.Now))
	block := make(chan struct{})
	got := make(chan uint32, 2)
	go func() {
		_ = f.Watch(t.Context(), func(e backend.Event) error {
			<-block
			got <- e.Session.GetTimers().GetRemaining()
			return nil
		})
	}()
	waitFor(t, func() bool { return f.Watchers() == 1 })
	s := nth(1, withTimers(100, 100))
	upsert(t, f, s)
	c.Advance(10 * time.Second)
	upsert(t, f, s) // rewritten: 100 s again
	c.Advance(30 * time.Second)
	close(block)
	for i, want := range []uint32{100, 100} {
		select {
		case r := <-got:
			if r != want {
				t.Errorf("event %d: remaining %d, want %d", i, r, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
}
