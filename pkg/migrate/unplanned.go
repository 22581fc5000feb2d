package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
)

// unplanned installs the last replicated checkpoint of the sources at the
// destinations: the sources are gone, so nothing is read from or removed
// at them. The report gives the checkpoint's age.
func (r *run) unplanned(ctx context.Context) error {
	if err := r.timed(PhasePlan, func() error {
		if err := r.step(ctx, PhasePlan, "", nil); err != nil {
			return err
		}
		return r.open(ctx, r.req.Destinations...)
	}); err != nil {
		return err
	}
	if err := r.timed(PhaseNegotiate, func() error { return r.negotiate(ctx) }); err != nil {
		return err
	}
	if !r.req.DryRun {
		if err := r.createRecord(ctx); err != nil {
			return err
		}
		if err := r.timed(PhaseLock, func() error { return r.lock(ctx) }); err != nil {
			return err
		}
	}
	if err := r.timed(PhaseSnapshot, func() error { return r.fromCheckpoints(ctx) }); err != nil {
		return err
	}
	if err := r.timed(PhaseTransform, func() error { return r.transform(ctx) }); err != nil {
		return err
	}
	if r.req.DryRun {
		r.rep.Status = journal.Done
		return nil
	}
	if err := r.install(ctx); err != nil {
		return err
	}
	if err := r.confirmAll(ctx); err != nil {
		return err
	}
	r.rep.Status = journal.Done
	return r.step(ctx, PhaseDone, "", nil)
}

// fromCheckpoints is the unplanned snapshot: the endpoint's sessions from
// each source's last checkpoint.
func (r *run) fromCheckpoints(ctx context.Context) error {
	r.remove = make(map[string][]string)
	r.bySrc = make(map[string][]*flow.Session)
	byID := make(map[string]*flow.Session)
	var oldest time.Time
	for _, src := range slices.Sorted(slices.Values(r.req.Sources)) {
		if err := r.step(ctx, PhaseSnapshot, src, nil); err != nil {
			return err
		}
		taken, data, err := r.e.j.Checkpoint(ctx, src)
		if errors.Is(err, journal.ErrNotFound) {
			return fmt.Errorf("%w: %s was never replicated (run replication for it before it fails)", ErrNoCheckpoint, src)
		}
		if err != nil {
			return err
		}
		ss, err := decodeCheckpoint(data)
		if err != nil {
			return fmt.Errorf("checkpoint of %s: %w", src, err)
		}
		n := 0
		for _, s := range ss {
			if !r.matcher.Match(s) {
				continue
			}
			n++
			r.bySrc[src] = append(r.bySrc[src], s)
			if _, dup := byID[s.GetId()]; !dup {
				byID[s.GetId()] = s
			}
		}
		if oldest.IsZero() || taken.Before(oldest) {
			oldest = taken
		}
		r.emit(Event{Phase: PhaseSnapshot, Device: src, Done: n, Total: n, Message: "checkpoint taken " + taken.Format(time.RFC3339Nano)})
	}
	r.rep.CheckpointAge = r.e.now().Sub(oldest)
	r.moving = make([]*flow.Session, 0, len(byID))
	for _, s := range byID {
		r.moving = append(r.moving, s)
	}
	slices.SortFunc(r.moving, func(a, b *flow.Session) int { return cmpStr(a.GetId(), b.GetId()) })
	return nil
}
