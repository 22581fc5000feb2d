package gnmiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openconfig/gnmi/cache"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/protobuf/proto"
)

// feedRetry is the pause before restarting Source.Updates after it failed.
const feedRetry = time.Second

// SnapshotSource is a Source that can stream its current tree as
// notifications (updates with paths relative to the root, like those of
// Updates). The server then seeds the subscription cache from Snapshot
// instead of converting the whole tree of Current at once, so seeding a
// large table holds one batch of notifications in memory, not the table.
type SnapshotSource interface {
	Source
	Snapshot(ctx context.Context, fn func([]*gpb.Notification) error) error
}

// The subscription cache only serves Subscribe. A feed run (Updates, then
// the seeding, then the deltas) is started by its first user and stopped
// when the last one has been gone for the linger time: Serve is a user for
// as long as it serves, unless WithLazyFeed, where only Subscribe calls
// are, and a source whose table changes in bulk (100k sessions in one
// commit) pays nothing for gNMI when nobody watches.

// feedRun is one run of the feed, from a first subscriber until it stops.
type feedRun struct {
	ready  chan struct{} // closed once the cache is seeded, or seeding failed
	err    error         // the seeding's failure; set before ready is closed
	cancel context.CancelFunc
	done   chan struct{} // closed when the run's goroutine ends
}

// useFeed makes sure the cache is fed and seeded, for a subscriber; every
// successful call is paired with releaseFeed.
func (s *Server) useFeed(ctx context.Context) error {
	s.mu.Lock()
	if s.feedCtx == nil || s.feedCtx.Err() != nil {
		s.mu.Unlock()
		return errors.New("the server is not serving")
	}
	s.users++
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	r := s.run
	if r == nil {
		fctx, cancel := context.WithCancel(s.feedCtx)
		r = &feedRun{ready: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
		prev := s.last
		s.run, s.last = r, r
		go s.feed(fctx, r, prev)
	}
	s.mu.Unlock()
	select {
	case <-r.ready:
		if r.err == nil {
			return nil
		}
		s.releaseFeed()
		return r.err
	case <-ctx.Done():
		s.releaseFeed()
		return ctx.Err()
	}
}

// releaseFeed ends a subscriber's use of the feed.
func (s *Server) releaseFeed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users--
	if s.users > 0 || s.run == nil {
		return
	}
	r := s.run
	s.idle = time.AfterFunc(s.linger, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.users == 0 && s.run == r {
			s.stopRunLocked()
		}
	})
}

// stopRunLocked stops the current run (mu held).
func (s *Server) stopRunLocked() {
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	if s.run != nil {
		s.run.cancel()
		s.run = nil
	}
}

// waitFeed waits until the last run's goroutine has ended.
func (s *Server) waitFeed() {
	s.mu.Lock()
	r := s.last
	s.mu.Unlock()
	if r != nil {
		<-r.done
	}
}

// feed keeps the cache in step with the source until ctx ends. The
// seeding's outcome is reported through r; later failures of
// Source.Updates are logged and followed by a full resync.
func (s *Server) feed(ctx context.Context, r *feedRun, prev *feedRun) {
	defer close(r.done)
	if prev != nil {
		<-prev.done
	}
	// Whatever an earlier run left in the cache is stale; nobody is
	// subscribed yet (they wait for ready), so a reset is enough.
	s.cache.Reset(s.target)
	first := true
	for {
		err := s.feedOnce(ctx, !first, func(err error) {
			if first {
				r.err = err
				close(r.ready)
				first = false
			}
		})
		if first { // cancelled before seeding was reported
			r.err = fmt.Errorf("gnmiserver: feed stopped: %w", err)
			close(r.ready)
		}
		if r.err != nil || ctx.Err() != nil {
			s.mu.Lock()
			if s.run == r {
				s.run = nil
			}
			s.mu.Unlock()
			return
		}
		s.log.Warn("gnmi: source updates ended; resyncing", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(feedRetry):
		}
	}
}

// feedOnce runs one Source.Updates session: it starts Updates, seeds the
// cache (Snapshot, or Current; removing what the cache held before when
// resync is set), reports the seeding through seeded, then applies the
// deltas, which were buffered meanwhile. Deltas that happened before the
// seeding read are applied again on top of it; they are absolute (set a
// value, delete a path), so the cache converges to the source.
func (s *Server) feedOnce(ctx context.Context, resync bool, seeded func(error)) error {
	uctx, ucancel := context.WithCancel(ctx)
	defer ucancel()
	ch := make(chan []*gpb.Notification, 256)
	errc := make(chan error, 1)
	go func() {
		errc <- s.src.Updates(uctx, func(ns []*gpb.Notification) error {
			select {
			case ch <- ns:
				return nil
			case <-uctx.Done():
				return uctx.Err()
			}
		})
	}()
	err := s.seed(ctx, resync)
	if err != nil {
		seeded(err)
		ucancel()
		<-errc
		return err
	}
	seeded(nil)
	for {
		select {
		case ns := <-ch:
			s.apply(ns)
		case err := <-errc:
		drain:
			for {
				select {
				case ns := <-ch:
					s.apply(ns)
				default:
					break drain
				}
			}
			if err == nil {
				err = errors.New("updates returned")
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// seed loads the source's current tree into the cache. With resync, the
// top-level nodes are deleted first (subscribers see the deletes, then the
// data again).
func (s *Server) seed(ctx context.Context, resync bool) error {
	if resync {
		ts := s.timestamp(0)
		d := &gpb.Notification{Timestamp: ts, Prefix: &gpb.Path{Target: s.target}}
		for name := range s.schema.RootSchema().Dir {
			d.Delete = append(d.Delete, &gpb.Path{Elem: []*gpb.PathElem{{Name: name}}})
		}
		if len(d.Delete) > 0 {
			if err := s.cache.GnmiUpdate(d); err != nil {
				return fmt.Errorf("clearing cache: %w", err)
			}
		}
	}
	if ss, ok := s.src.(SnapshotSource); ok {
		if err := ss.Snapshot(ctx, func(ns []*gpb.Notification) error { s.apply(ns); return nil }); err != nil {
			return fmt.Errorf("reading the current tree: %w", err)
		}
		return nil
	}
	root, err := s.src.Current(ctx)
	if err != nil {
		return err
	}
	ns, err := ygot.TogNMINotifications(root, s.timestamp(0), ygot.GNMINotificationsConfig{UsePathElem: true})
	if err != nil {
		return fmt.Errorf("converting the current tree: %w", err)
	}
	for _, n := range ns {
		if n.Prefix == nil {
			n.Prefix = &gpb.Path{}
		}
		n.Prefix.Target = s.target
		if err := s.cache.GnmiUpdate(n); err != nil && !errors.Is(err, cache.ErrStale) {
			return fmt.Errorf("loading cache: %w", err)
		}
	}
	return nil
}

// apply feeds deltas from the source into the cache, with the server's
// target and strictly increasing timestamps (so that a delete removes every
// older leaf under its path). The source's notification is not modified.
// The cache keeps one notification per leaf: given several updates, it
// clones the notification (prefix and all) for each; a notification per
// leaf made here shares one copy of the prefix instead, which the cache
// stores as it is (the clones were most of the cost of seeding a table).
func (s *Server) apply(ns []*gpb.Notification) {
	for _, n := range ns {
		if n == nil {
			continue
		}
		prefix := &gpb.Path{}
		if n.Prefix != nil {
			prefix = proto.Clone(n.Prefix).(*gpb.Path)
		}
		prefix.Target = s.target
		if s.isModelOrigin(prefix.Origin) {
			prefix.Origin = ""
		}
		// The cache appends leaf paths to the prefix's elements: with no
		// spare capacity every append copies, so the shared prefix is safe.
		prefix.Elem = prefix.Elem[:len(prefix.Elem):len(prefix.Elem)]
		ts := s.timestamp(n.Timestamp)
		if n.Atomic || len(n.Update)+len(n.Delete) <= 1 {
			s.update(&gpb.Notification{Timestamp: ts, Prefix: prefix, Update: n.Update, Delete: n.Delete, Atomic: n.Atomic})
			continue
		}
		// The cache's order: updates, then deletes.
		for _, u := range n.Update {
			s.update(&gpb.Notification{Timestamp: ts, Prefix: prefix, Update: []*gpb.Update{u}})
		}
		for _, d := range n.Delete {
			s.update(&gpb.Notification{Timestamp: ts, Prefix: prefix, Delete: []*gpb.Path{d}})
		}
	}
}

func (s *Server) update(n *gpb.Notification) {
	if err := s.cache.GnmiUpdate(n); err != nil && !errors.Is(err, cache.ErrStale) {
		s.log.Warn("gnmi: delta rejected by cache", "err", err)
	}
}
