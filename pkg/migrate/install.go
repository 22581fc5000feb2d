package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
)

// install writes every destination's copy into its candidate, commits it
// confirmed (persist id from the journal), and verifies it by read-back.
func (r *run) install(ctx context.Context) error {
	dests := slices.Sorted(slices.Values(r.req.Destinations))
	r.digests = make(map[string]flow.Digest)
	for _, dst := range dests {
		ss := r.perDest[dst]
		d, err := flow.DigestSessions(ss)
		if err != nil {
			return err
		}
		r.digests[dst] = d
		if err := r.step(ctx, PhaseStage, dst, &stepData{Sessions: len(ss), Digest: digestString(d)}); err != nil {
			return err
		}
		err = r.timed(PhaseStage, func() error {
			r.set(dst, func(s *devState) { s.staged = true })
			return r.drivers[dst].Stage(ctx, slices.Values(ss))
		})
		if err != nil {
			return fmt.Errorf("stage at %s: %w", dst, err)
		}
		r.emit(Event{Phase: PhaseStage, Device: dst, Done: len(ss), Total: len(ss)})
	}
	for _, dst := range dests {
		if err := r.step(ctx, PhaseCommit, dst, &stepData{Persist: r.persist[dst]}); err != nil {
			return err
		}
		err := r.timed(PhaseCommit, func() error {
			r.set(dst, func(s *devState) { s.committed = true })
			return r.drivers[dst].Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: r.req.ConfirmTimeout, Persist: r.persist[dst]})
		})
		if err != nil {
			return fmt.Errorf("confirmed commit at %s: %w", dst, err)
		}
	}
	for _, dst := range dests {
		if err := r.step(ctx, PhaseVerify, dst, nil); err != nil {
			return err
		}
		if err := r.timed(PhaseVerify, func() error { return r.verify(ctx, dst) }); err != nil {
			return err
		}
	}
	return nil
}

// verify reads dst back and compares the canonical digest of the sessions
// written with what it holds under their ids (an incomplete or damaged
// copy fails here, before anything is confirmed).
func (r *run) verify(ctx context.Context, dst string) error {
	want := make(map[string]bool, len(r.perDest[dst]))
	for _, s := range r.perDest[dst] {
		want[s.GetId()] = true
	}
	var got []*flow.Session
	var dg flow.Digester
	err := r.drivers[dst].Read(ctx, r.matcherFor(dst), func(s *flow.Session) error {
		if flow.SetKey(s) != nil || !want[s.GetId()] {
			return nil
		}
		got = append(got, s)
		return dg.Add(s)
	})
	if err != nil {
		return fmt.Errorf("read-back from %s: %w", dst, err)
	}
	sum := dg.Sum()
	if sum != r.digests[dst] {
		return &VerifyError{Device: dst, Want: r.digests[dst], Got: sum, Diff: flow.Diff(r.perDest[dst], got)}
	}
	r.rep.DestinationDigest = digestString(sum)
	r.emit(Event{Phase: PhaseVerify, Device: dst, Done: len(got), Total: len(want)})
	return nil
}

// matcherFor selects what to read back at dst: the endpoint's sessions,
// unless a transform renamed what the matcher keys on (then everything).
func (r *run) matcherFor(dst string) *flow.Matcher {
	return r.matcher
}

// confirmAll confirms every destination. The first confirm's journal entry
// carries what the sources must lose, so Recover can finish the move.
func (r *run) confirmAll(ctx context.Context) error {
	for i, dst := range slices.Sorted(slices.Values(r.req.Destinations)) {
		data := &stepData{Persist: r.persist[dst], Digest: digestString(r.digests[dst])}
		if i == 0 {
			data.Remove = r.remove
		}
		if err := r.step(ctx, PhaseConfirm, dst, data); err != nil {
			return err
		}
		err := r.timed(PhaseConfirm, func() error { return r.drivers[dst].Confirm(ctx, r.persist[dst]) })
		if err != nil {
			return fmt.Errorf("confirm at %s: %w", dst, err)
		}
		r.set(dst, func(s *devState) { s.confirmed = true })
	}
	return nil
}

func (r *run) cutover(ctx context.Context) error {
	if r.req.Cutover == nil || r.req.Kind == PreCopy {
		return nil
	}
	if err := r.step(ctx, PhaseCutover, "", nil); err != nil {
		return err
	}
	return r.timed(PhaseCutover, func() error { return r.req.Cutover(ctx) })
}

// eliminate removes the moved sessions at the sources, each with a
// confirmed commit verified by read-back (R6). The destinations hold them
// already, so a failure here loses nothing.
func (r *run) eliminate(ctx context.Context) error {
	for _, src := range slices.Sorted(slices.Values(r.req.Eliminate)) {
		ids := r.remove[src]
		if err := r.step(ctx, PhaseEliminate, src, &stepData{Persist: r.persist[src], Sessions: len(ids)}); err != nil {
			return err
		}
		d := r.drivers[src]
		err := r.timed(PhaseEliminate, func() error {
			r.set(src, func(s *devState) { s.removing = true })
			if err := d.Remove(ctx, ids); err != nil {
				return err
			}
			if err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: r.req.ConfirmTimeout, Persist: r.persist[src]}); err != nil {
				return err
			}
			r.set(src, func(s *devState) { s.removed = true })
			return r.checkGone(ctx, src, ids)
		})
		if err != nil {
			return fmt.Errorf("eliminate at %s: %w", src, err)
		}
		if err := r.step(ctx, PhaseSourceDone, src, &stepData{Persist: r.persist[src]}); err != nil {
			return err
		}
		if err := r.timed(PhaseEliminate, func() error { return d.Confirm(ctx, r.persist[src]) }); err != nil {
			return fmt.Errorf("confirm elimination at %s: %w", src, err)
		}
		r.set(src, func(s *devState) { s.srcConfirmed = true })
		r.emit(Event{Phase: PhaseEliminate, Device: src, Done: len(ids), Total: len(ids)})
	}
	return nil
}

// checkGone verifies a source no longer holds the removed ids.
func (r *run) checkGone(ctx context.Context, src string, ids []string) error {
	gone := make(map[string]bool, len(ids))
	for _, id := range ids {
		gone[id] = true
	}
	var still []string
	err := r.drivers[src].Read(ctx, r.matcher, func(s *flow.Session) error {
		if flow.SetKey(s) == nil && gone[s.GetId()] {
			still = append(still, s.GetId())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read-back: %w", err)
	}
	if len(still) > 0 {
		return fmt.Errorf("%w: %d sessions still present after removal (first %s)", ErrVerify, len(still), still[0])
	}
	return nil
}

// failed handles an error: before any destination confirmed, undo every
// destination (cancel its confirmed commit or discard its staged changes)
// so the sources stay the only copy; after, keep going is Recover's job.
// It returns the error to report.
func (r *run) failed(ctx context.Context, cause error) error {
	anyConfirmed := false
	for _, s := range r.state {
		anyConfirmed = anyConfirmed || s.confirmed
	}
	if anyConfirmed {
		// Both sides hold the state. Pending source eliminations are
		// cancelled (the source keeps its copy); the journal keeps the
		// migration open for Recover.
		for _, src := range slices.Sorted(slices.Values(r.req.Eliminate)) {
			st := r.state[src]
			if st.removed && !st.srcConfirmed {
				if err := r.drivers[src].Cancel(ctx, r.persist[src]); err != nil && !errors.Is(err, device.ErrNoPendingCommit) {
					r.e.log.Warn("cancel elimination", "migration", r.id, "device", src, "err", err)
				}
			} else if st.removing && !st.removed {
				r.drivers[src].Discard(ctx)
			}
		}
		r.rep.Status = journal.Running
		return fmt.Errorf("%w (the destinations hold the state; the sources were not all eliminated: the migration stays open in the journal for resume)", cause)
	}
	if err := r.step(ctx, PhaseRollback, "", nil); err != nil && errors.Is(err, ErrAbandoned) {
		return err
	}
	var undoErrs []error
	for _, dst := range slices.Sorted(slices.Values(r.req.Destinations)) {
		st := r.state[dst]
		d := r.drivers[dst]
		switch {
		case st.committed:
			err := d.Cancel(ctx, r.persist[dst])
			if err != nil && !errors.Is(err, device.ErrNoPendingCommit) {
				undoErrs = append(undoErrs, fmt.Errorf("cancel-commit at %s: %w (its confirm timeout of %v will roll it back)", dst, err, r.req.ConfirmTimeout))
			}
		case st.staged:
			if err := d.Discard(ctx); err != nil {
				undoErrs = append(undoErrs, fmt.Errorf("discard-changes at %s: %w", dst, err))
			}
		}
	}
	if len(undoErrs) > 0 {
		r.rep.Status = journal.Running // Recover cancels again
		return fmt.Errorf("%w; rollback incomplete: %w", cause, errors.Join(undoErrs...))
	}
	r.rep.Status = journal.RolledBack
	return fmt.Errorf("%w (rolled back: the sources are untouched)", cause)
}
