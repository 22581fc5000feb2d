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

// feed keeps the subscription cache in step with the source until ctx ends.
// The first seeding's outcome is sent on synced; later failures of
// Source.Updates are logged and followed by a full resync.
func (s *Server) feed(ctx context.Context, synced chan<- error) {
	defer close(s.done)
	first := true
	for {
		err := s.feedOnce(ctx, !first, func(err error) {
			if first {
				synced <- err
				first = false
			}
		})
		if ctx.Err() != nil {
			return
		}
		if first { // the initial seeding failed and was reported
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
// cache from Current (removing what the cache held before when resync is
// set), reports the seeding through seeded, then applies the deltas, which
// were buffered meanwhile. Deltas that happened before Current are applied
// again on top of it; they are absolute (set a value, delete a path), so the
// cache converges to the source.
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
	root, err := s.src.Current(ctx)
	if err == nil {
		err = s.seed(root, resync)
	}
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

// seed loads root into the cache. With resync, the top-level nodes are
// deleted first (subscribers see the deletes, then the data again).
func (s *Server) seed(root ygot.GoStruct, resync bool) error {
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
// older leaf under its path).
func (s *Server) apply(ns []*gpb.Notification) {
	for _, n := range ns {
		if n == nil {
			continue
		}
		c := proto.Clone(n).(*gpb.Notification)
		if c.Prefix == nil {
			c.Prefix = &gpb.Path{}
		}
		c.Prefix.Target = s.target
		if s.isModelOrigin(c.Prefix.Origin) {
			c.Prefix.Origin = ""
		}
		c.Timestamp = s.timestamp(c.Timestamp)
		if err := s.cache.GnmiUpdate(c); err != nil && !errors.Is(err, cache.ErrStale) {
			s.log.Warn("gnmi: delta rejected by cache", "err", err)
		}
	}
}
