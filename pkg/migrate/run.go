package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
)

// devState tracks what the run did to one device, so a failure undoes
// exactly that.
type devState struct {
	locked, staged, committed, confirmed bool
	removing, removed, srcConfirmed      bool
}

// run is one migration in progress.
type run struct {
	e       *Engine
	req     Request
	id      string
	matcher *flow.Matcher
	rep     *Report
	drivers map[string]device.Driver
	caps    map[string]*device.Capabilities
	persist map[string]string
	state   map[string]devState
	created bool   // journal record exists
	resumed bool   // Recover re-runs a journaled migration
	release func() // in-process device locks

	// moving is the merged snapshot in source form, sorted by id; remove
	// lists per source the ids that moved; perDest the transformed copies.
	moving  []*flow.Session
	bySrc   map[string][]*flow.Session // what each source holds of the endpoint
	seenAt  map[string]time.Time       // when each session's copy was read (timers count from there)
	remove  map[string][]string
	perDest map[string][]*flow.Session
	digests map[string]flow.Digest // per destination, of what was written
	// existing counts, per destination, moving sessions it already holds.
	existing map[string]int
	// srcOf maps, per destination, ids a transform changed back to the
	// source's id.
	srcOf map[string]map[string]string
}

func (r *run) sourceID(dst, id string) string {
	if src, ok := r.srcOf[dst][id]; ok {
		return src
	}
	return id
}

func (r *run) set(dev string, f func(*devState)) {
	s := r.state[dev]
	f(&s)
	r.state[dev] = s
}

// step marks a phase boundary: the hook, then the journal, then progress.
func (r *run) step(ctx context.Context, p Phase, dev string, data *stepData) error {
	if err := r.hook(ctx, p, dev, false); err != nil {
		return err
	}
	if r.created {
		var raw json.RawMessage
		if data != nil {
			raw, _ = json.Marshal(data)
		}
		if _, err := r.e.j.Append(ctx, r.id, journal.Entry{Phase: string(p), Device: dev, Data: raw}); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if err := r.hook(ctx, p, dev, true); err != nil {
			return err
		}
	}
	r.emit(Event{Phase: p, Device: dev})
	return nil
}

func (r *run) hook(ctx context.Context, p Phase, dev string, journaled bool) error {
	if r.e.hook == nil {
		return nil
	}
	if err := r.e.hook(ctx, r.id, p, dev, journaled); err != nil {
		where := "before"
		if journaled {
			where = "after"
		}
		return fmt.Errorf("%w %s journaling %s %s: %v", ErrAbandoned, where, p, dev, err)
	}
	return nil
}

func (r *run) emit(ev Event) {
	if r.req.Progress == nil {
		return
	}
	ev.ID = r.id
	ev.Time = r.e.now()
	r.req.Progress(ev)
}

// timed runs f and adds its duration to phase p.
func (r *run) timed(p Phase, f func() error) error {
	t0 := time.Now()
	err := f()
	r.rep.addTiming(p, time.Since(t0))
	return err
}

func (r *run) open(ctx context.Context, names ...string) error {
	for _, n := range names {
		if _, ok := r.drivers[n]; ok {
			continue
		}
		d, err := r.e.open(ctx, n)
		if err != nil {
			return fmt.Errorf("open %s: %w", n, err)
		}
		r.drivers[n] = d
	}
	return nil
}

func (r *run) closeDrivers() {
	for n, d := range r.drivers {
		d.Close()
		delete(r.drivers, n)
	}
}

// planned runs a planned migration (and, with resumed, a journaled one
// again: every write is idempotent).
func (r *run) planned(ctx context.Context) error {
	if err := r.timed(PhasePlan, func() error { return r.step(ctx, PhasePlan, "", nil) }); err != nil {
		return err
	}
	if err := r.timed(PhasePlan, func() error { return r.open(ctx, r.devices()...) }); err != nil {
		return err
	}
	if err := r.timed(PhaseNegotiate, func() error { return r.negotiate(ctx) }); err != nil {
		return err
	}
	if r.req.DryRun {
		r.rep.Status = journal.Done
		return nil
	}
	if err := r.createRecord(ctx); err != nil {
		return err
	}
	if err := r.timed(PhaseLock, func() error { return r.lock(ctx) }); err != nil {
		return err
	}
	if err := r.timed(PhaseSnapshot, func() error { return r.snapshot(ctx) }); err != nil {
		return err
	}
	if err := r.timed(PhaseTransform, func() error { return r.transform(ctx) }); err != nil {
		return err
	}
	if err := r.install(ctx); err != nil {
		return err
	}
	if err := r.confirmAll(ctx); err != nil {
		return err
	}
	if err := r.cutover(ctx); err != nil {
		return err
	}
	if err := r.eliminate(ctx); err != nil {
		return err
	}
	r.rep.Status = journal.Done
	return r.step(ctx, PhaseDone, "", nil)
}

func (r *run) createRecord(ctx context.Context) error {
	if r.resumed {
		r.created = true
		return nil
	}
	plan, _ := json.Marshal(r.plan())
	err := r.e.j.Create(ctx, &journal.Record{ID: r.id, Kind: string(r.req.Kind), Requester: r.req.Requester, Plan: plan})
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	r.created = true
	return nil
}

// lock takes the devices in this orchestrator, then the candidates of the
// devices that will be written, both in name order.
func (r *run) lock(ctx context.Context) error {
	if err := r.step(ctx, PhaseLock, "", nil); err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, r.e.lockTimeout)
	defer cancel()
	release, err := r.e.locks.acquire(lctx, r.devices())
	if err != nil {
		return fmt.Errorf("lock: devices %v still busy after %v: %w", r.devices(), r.e.lockTimeout, err)
	}
	r.release = release
	writes := slices.Compact(slices.Sorted(slices.Values(slices.Concat(r.req.Destinations, r.req.Eliminate))))
	for _, n := range writes {
		if err := r.lockDevice(lctx, n); err != nil {
			return err
		}
	}
	return nil
}

// lockDevice takes a device's candidate, retrying while someone else (an
// orchestrator elsewhere, an operator) holds it.
func (r *run) lockDevice(ctx context.Context, n string) error {
	backoff := 50 * time.Millisecond
	for {
		err := r.drivers[n].Lock(ctx)
		if err == nil {
			r.set(n, func(s *devState) { s.locked = true })
			return r.drivers[n].Discard(ctx)
		}
		if !errors.Is(err, device.ErrLocked) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lock %s: %w (waited %v)", n, err, r.e.lockTimeout)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (r *run) unlock(ctx context.Context) {
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range r.drivers {
			if !yield(n) {
				return
			}
		}
	}) {
		if r.state[n].locked {
			if err := r.drivers[n].Unlock(ctx); err != nil {
				r.e.log.Warn("unlock", "migration", r.id, "device", n, "err", err)
			}
			r.set(n, func(s *devState) { s.locked = false })
		}
	}
	if r.release != nil {
		r.release()
		r.release = nil
	}
}
