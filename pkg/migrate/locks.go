package migrate

import (
	"context"
	"slices"
	"sync"
)

// deviceLocks serializes transactions per device inside one orchestrator.
// A migration takes all its devices at once, in name order, so two
// migrations that share devices never hold one each and wait for the other.
type deviceLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

func newDeviceLocks() *deviceLocks { return &deviceLocks{locks: make(map[string]chan struct{})} }

func (l *deviceLocks) get(name string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.locks[name]
	if !ok {
		ch = make(chan struct{}, 1)
		l.locks[name] = ch
	}
	return ch
}

// acquire takes every device in names (sorted, deduplicated) or none: when
// ctx ends first, what was taken is released. The returned func releases.
func (l *deviceLocks) acquire(ctx context.Context, names []string) (func(), error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var held []chan struct{}
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			<-held[i]
		}
		held = nil
	}
	for _, n := range names {
		ch := l.get(n)
		select {
		case ch <- struct{}{}:
			held = append(held, ch)
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() { once.Do(release) }, nil
}

// busy reports which of names are held now (for the daemon's queue view).
func (l *deviceLocks) busy(names []string) []string {
	var out []string
	for _, n := range names {
		if len(l.get(n)) > 0 {
			out = append(out, n)
		}
	}
	return out
}
