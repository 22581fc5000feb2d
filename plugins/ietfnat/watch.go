package ietfnat

import (
	"context"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
)

// Watch polls the mapping table every watch-interval (RFC 8512 has no
// per-entry notifications) and reports what changed between two reads:
// Upserted for a new session or one whose canonical form changed (volatile
// leaves do not count, so a lifetime counting down is no change), Removed
// for one that is gone. The first read is the baseline and is not
// reported: device.Live follows it. It keeps a digest per matching session (some 100 bytes each).
// It returns ctx's error when ctx ends, a Read error (wrapping a device
// sentinel) when a poll fails, and fn's error as it is.
func (d *Driver) Watch(ctx context.Context, m *flow.Matcher, fn func(device.Delta) error) error {
	prev, err := d.snapshot(ctx, m)
	if err != nil {
		return err
	}
	if err := fn(device.Delta{Type: device.Live, Time: time.Now()}); err != nil {
		return err
	}
	t := time.NewTicker(d.opts.watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		cur := make(map[string]flow.Digest, len(prev))
		var dg flow.Digester
		var ferr error
		err := d.Read(ctx, m, func(s *flow.Session) error {
			dg.Reset()
			if err := dg.Add(s); err != nil {
				return nil // not digestible: cannot be compared, so not reported
			}
			sum := dg.Sum()
			id := s.GetId()
			cur[id] = sum
			if old, ok := prev[id]; ok && old == sum {
				return nil
			}
			if err := fn(device.Delta{Type: device.Upserted, ID: id, Session: s, Time: time.Now()}); err != nil {
				ferr = err
				return err
			}
			return nil
		})
		if ferr != nil {
			return ferr
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		for id := range prev {
			if _, ok := cur[id]; !ok {
				if err := fn(device.Delta{Type: device.Removed, ID: id, Time: time.Now()}); err != nil {
					return err
				}
			}
		}
		prev = cur
	}
}

func (d *Driver) snapshot(ctx context.Context, m *flow.Matcher) (map[string]flow.Digest, error) {
	snap := map[string]flow.Digest{}
	var dg flow.Digester
	err := d.Read(ctx, m, func(s *flow.Session) error {
		dg.Reset()
		if dg.Add(s) == nil {
			snap[s.GetId()] = dg.Sum()
		}
		return nil
	})
	return snap, err
}
