package simfw

import (
	"context"
	"sync"
	"time"

	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
)

// watcher is one Watch call's queue. Events refer to the stored entries
// (immutable) and the time they happened; the session copy each event
// carries is made when it is delivered, on the watcher's goroutine, not
// while the table is locked.
type watcher struct {
	mu    sync.Mutex
	queue []pending

	wake chan struct{} // 1-buffered: the queue has events
	done chan struct{} // closed when the firewall drops the watcher
	err  error         // why; set before done is closed
}

type pending struct {
	typ backend.EventType
	e   *entry
	at  time.Time
}

// Watch implements backend.Backend; see the package documentation. It
// returns ctx's error when ctx ends, fn's error when fn fails, ErrOverflow
// when the watcher fell behind, ErrUnreachable on Disconnect and
// backend.ErrClosed on Close. Each event's session is a copy of its own.
func (f *Firewall) Watch(ctx context.Context, fn func(backend.Event) error) error {
	return f.watch(ctx, (*entry).view, fn)
}

// WatchShared is Watch with the sessions of DumpShared: new session
// structs whose parts are the table's (never changed), for a watcher that
// only reads them (the sami agent's gNMI feed).
func (f *Firewall) WatchShared(ctx context.Context, fn func(backend.Event) error) error {
	return f.watch(ctx, (*entry).shared, fn)
}

func (f *Firewall) watch(ctx context.Context, view func(*entry, time.Time) *flow.Session, fn func(backend.Event) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &watcher{wake: make(chan struct{}, 1), done: make(chan struct{})}
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		return backend.ErrClosed
	case f.down.Load():
		f.mu.Unlock()
		return ErrUnreachable
	}
	f.watchers[w] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.watchers, w)
		f.mu.Unlock()
	}()

	var spare []pending
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue = spare[:0]
		w.mu.Unlock()
		for i, p := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := fn(backend.Event{Type: p.typ, Session: view(p.e, p.at)})
			batch[i] = pending{} // let the entry go
			if err != nil {
				return err
			}
		}
		spare = batch
		if len(batch) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wake:
		case <-w.done:
			// Deliver what was queued before the stream broke.
			w.mu.Lock()
			empty := len(w.queue) == 0
			w.mu.Unlock()
			if empty {
				return w.err
			}
		}
	}
}

// publishLocked queues the events of one write (a batch, a touch, a sweep)
// for every watcher; f.mu is held for writing. A watcher is dropped with
// ErrOverflow when it still has a full buffer of events queued when the
// write comes: a batch is queued whole, so a watcher that keeps up is never
// dropped for the size of a single write (the events refer to the stored
// entries, so a queued batch costs a few words a session, not a copy).
func (f *Firewall) publishLocked(evs []pending) {
	if len(evs) == 0 {
		return
	}
	for w := range f.watchers {
		w.mu.Lock()
		full := len(w.queue) >= f.watchBuf
		if !full {
			w.queue = append(w.queue, evs...)
		}
		w.mu.Unlock()
		if full {
			f.dropLocked(w, ErrOverflow)
			f.log.Info("simfw: watcher dropped", "err", ErrOverflow)
			continue
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// dropLocked ends watcher w with err; f.mu is held for writing.
func (f *Firewall) dropLocked(w *watcher, err error) {
	delete(f.watchers, w)
	w.err = err
	close(w.done)
}
