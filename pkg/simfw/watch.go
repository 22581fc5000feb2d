package simfw

import (
	"context"
	"time"

	"github.com/sami-netops/sami/pkg/backend"
)

type watcher struct {
	ch   chan backend.Event
	done chan struct{} // closed when the firewall drops the watcher
	err  error         // why; set before done is closed
}

// Watch implements backend.Backend; see the package documentation. It
// returns ctx's error when ctx ends, fn's error when fn fails, ErrOverflow
// when the watcher fell behind, ErrUnreachable on Disconnect and
// backend.ErrClosed on Close. Each event's session is a copy of its own.
func (f *Firewall) Watch(ctx context.Context, fn func(backend.Event) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &watcher{ch: make(chan backend.Event, f.watchBuf), done: make(chan struct{})}
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

	deliver := func(ev backend.Event) error {
		c, err := deepCopy(ev.Session)
		if err != nil {
			return err
		}
		ev.Session = c
		return fn(ev)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-w.ch:
			if err := deliver(ev); err != nil {
				return err
			}
		case <-w.done:
			// Deliver what was queued before the stream broke.
			for {
				select {
				case ev := <-w.ch:
					if err := ctx.Err(); err != nil {
						return err
					}
					if err := deliver(ev); err != nil {
						return err
					}
				default:
					return w.err
				}
			}
		}
	}
}

// emitLocked queues an event for every watcher; f.mu is held for writing.
// The event carries one copy of the session shared by the watchers' queues,
// never mutated (Watch copies it again for fn).
func (f *Firewall) emitLocked(typ backend.EventType, e *entry, now time.Time) {
	if len(f.watchers) == 0 {
		return
	}
	ev := backend.Event{Type: typ, Session: e.view(now)}
	for w := range f.watchers {
		select {
		case w.ch <- ev:
		default:
			f.dropLocked(w, ErrOverflow)
			f.log.Info("simfw: watcher dropped", "err", ErrOverflow)
		}
	}
}

// dropLocked ends watcher w with err; f.mu is held for writing.
func (f *Firewall) dropLocked(w *watcher, err error) {
	delete(f.watchers, w)
	w.err = err
	close(w.done)
}
