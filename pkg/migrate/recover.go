package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/journal"
)

// Recover finishes or rolls back every migration the journal holds as
// unfinished (run it at start-up, before accepting new migrations):
//
//   - no destination confirmed yet: roll back. Each destination's
//     persistent confirmed commit is cancelled by its persist id (one that
//     already timed out is fine); the sources were never touched.
//   - some destination confirmed: roll forward. Pending commits are
//     resolved by persist id (destinations confirmed, unfinished source
//     eliminations cancelled), then the migration runs again under the same
//     id. Every write is idempotent, so steps that had happened do no harm,
//     and a destination whose commit timed out is written again from the
//     sources, which still hold the state.
//
// A migration whose devices cannot be reached stays unfinished (Recover
// can run again); the error lists them.
func (e *Engine) Recover(ctx context.Context) ([]*Report, error) {
	recs, err := e.j.Unfinished(ctx)
	if err != nil {
		return nil, err
	}
	var reps []*Report
	var errs []error
	for _, rec := range recs {
		rep, err := e.recoverRecord(ctx, rec, false)
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("migration %s: %w", rec.ID, err))
		}
	}
	return reps, errors.Join(errs...)
}

// Resume recovers one unfinished migration (sami journal resume).
func (e *Engine) Resume(ctx context.Context, id string) (*Report, error) {
	rec, err := e.j.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.Status != journal.Running {
		return nil, fmt.Errorf("%w: migration %s is %s", journal.ErrFinished, id, rec.Status)
	}
	return e.recoverRecord(ctx, rec, false)
}

// Rollback undoes an unfinished migration whose destinations have not
// confirmed (sami journal rollback). After a confirm the state is in use at
// the destinations and only Resume is possible.
func (e *Engine) Rollback(ctx context.Context, id string) (*Report, error) {
	rec, err := e.j.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.Status != journal.Running {
		return nil, fmt.Errorf("%w: migration %s is %s", journal.ErrFinished, id, rec.Status)
	}
	return e.recoverRecord(ctx, rec, true)
}

type entryKey struct {
	phase Phase
	dev   string
}

func (e *Engine) recoverRecord(ctx context.Context, rec *journal.Record, rollbackOnly bool) (*Report, error) {
	var plan planRecord
	if err := json.Unmarshal(rec.Plan, &plan); err != nil {
		return nil, fmt.Errorf("journal record %s: plan unreadable: %w", rec.ID, err)
	}
	seen := make(map[entryKey]bool)
	confirmed := false
	for _, en := range rec.Entries {
		seen[entryKey{Phase(en.Phase), en.Device}] = true
		confirmed = confirmed || Phase(en.Phase) == PhaseConfirm
	}
	req := Request{
		ID: rec.ID, Requester: rec.Requester, Kind: plan.Kind, Sources: plan.Sources, Destinations: plan.Destinations,
		Eliminate: plan.Eliminate, Feeders: plan.Feeders, Domains: plan.Domains, AllowDomains: plan.AllowDomains, Transforms: plan.Transforms,
		Partial: plan.Partial, StripUnsupported: plan.Strip, KeepSource: plan.KeepSource, ConfirmTimeout: plan.ConfirmTimeout,
	}
	if req.Eliminate == nil {
		req.Eliminate = []string{} // keep the recorded (empty) list
	}
	for _, s := range plan.Endpoints {
		ep, err := ParseEndpoint(s)
		if err != nil {
			return nil, fmt.Errorf("journal record %s: %w", rec.ID, err)
		}
		req.Endpoints = append(req.Endpoints, ep)
	}
	r := e.newRun(req)
	r.persist = plan.Persist
	r.created, r.resumed = true, true
	r.rep.Started = rec.Created
	defer r.closeDrivers()
	resolve := func(dev string, op func(device.Driver, string) error) error {
		if err := r.open(ctx, dev); err != nil {
			return err
		}
		err := op(r.drivers[dev], r.persist[dev])
		if err != nil && !errors.Is(err, device.ErrNoPendingCommit) {
			return fmt.Errorf("%s: %w", dev, err)
		}
		return nil
	}
	if !confirmed {
		var errs []error
		for _, dst := range slices.Sorted(slices.Values(plan.Destinations)) {
			if seen[entryKey{PhaseCommit, dst}] {
				errs = append(errs, resolve(dst, func(d device.Driver, p string) error { return d.Cancel(ctx, p) }))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("roll back: %w", err)
		}
		r.step(ctx, PhaseRollback, "", nil)
		r.rep.Status = journal.RolledBack
		r.rep.Error = "rolled back after a restart: no destination had confirmed; the sources are untouched"
		return r.finish(ctx, nil)
	}
	if rollbackOnly {
		return nil, fmt.Errorf("%w: migration %s: destinations confirmed already; resume it instead", ErrInvalidRequest, rec.ID)
	}
	var errs []error
	for _, dst := range slices.Sorted(slices.Values(plan.Destinations)) {
		if seen[entryKey{PhaseCommit, dst}] {
			errs = append(errs, resolve(dst, func(d device.Driver, p string) error { return d.Confirm(ctx, p) }))
		}
	}
	for _, src := range slices.Sorted(slices.Values(plan.Eliminate)) {
		switch {
		case seen[entryKey{PhaseSourceDone, src}]:
			errs = append(errs, resolve(src, func(d device.Driver, p string) error { return d.Confirm(ctx, p) }))
		case seen[entryKey{PhaseEliminate, src}]:
			errs = append(errs, resolve(src, func(d device.Driver, p string) error { return d.Cancel(ctx, p) }))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("resolve pending commits: %w", err)
	}
	// A cutover hook is gone with the process that had it: when it had not
	// run yet, the sources keep their copy (both sides hold the state).
	note := ""
	if plan.HasCutover && plan.Kind == Planned && !seen[entryKey{PhaseCutover, ""}] {
		r.req.Eliminate = nil
		note = "the cutover hook had not run before the restart: the sources were kept"
	}
	if r.req.Kind == PreCopy {
		r.req.Kind = Planned // the freeze happened before any confirm
	}
	var err error
	if r.req.Kind == Unplanned {
		err = r.unplanned(ctx)
	} else {
		err = r.planned(ctx)
	}
	rep, err := r.finish(ctx, err)
	if note != "" && rep != nil {
		rep.Error = note
	}
	return rep, err
}
