package migrate

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
)

// Pre-copy tuning (PreCopyOptions in a Request may override).
const (
	defaultMaxRounds  = 5
	defaultRoundDelta = 64
	defaultSettle     = 5 * time.Millisecond
)

// PreCopyOptions tune a pre-copy migration.
type PreCopyOptions struct {
	// MaxRounds bounds the delta rounds before the freeze (default 5).
	MaxRounds int
	// SmallDelta: a round with at most this many changes ends the copying
	// while traffic flows (default 64).
	SmallDelta int
	// Settle is how long the freeze waits for the source's last changes to
	// arrive after the cutover (no change for Settle; default 5 ms).
	Settle time.Duration
}

// liveTimeout bounds the wait for a source's change stream to say it is
// live (device.Live) before the snapshot is read. A driver that never says
// so is read anyway after it: a change between the read and the stream is
// then found by the reconcile read after the freeze (Report.Late).
const liveTimeout = 30 * time.Second

// deltaQueue collects the changes Watch streams from the sources.
type deltaQueue struct {
	mu     sync.Mutex
	deltas []srcDelta
	live   map[string]bool // sources whose stream said device.Live
	last   time.Time
	err    error
	notify chan struct{}
}

type srcDelta struct {
	src string
	d   device.Delta
}

func (q *deltaQueue) push(src string, d device.Delta) {
	q.mu.Lock()
	if d.Type == device.Live {
		if q.live == nil {
			q.live = map[string]bool{}
		}
		q.live[src] = true
	} else {
		q.deltas = append(q.deltas, srcDelta{src, d})
		q.last = time.Now()
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *deltaQueue) fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
}

// waitLive waits until every source's stream is live, a stream failed
// (its error), ctx ends, or timeout passes (nil: the caller reads anyway;
// the sources not yet live are returned).
func (q *deltaQueue) waitLive(ctx context.Context, srcs []string, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		err := q.err
		var waiting []string
		for _, src := range srcs {
			if !q.live[src] {
				waiting = append(waiting, src)
			}
		}
		q.mu.Unlock()
		if err != nil || len(waiting) == 0 {
			return nil, err
		}
		select {
		case <-q.notify:
		case <-deadline.C:
			return waiting, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *deltaQueue) take() ([]srcDelta, time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.deltas
	q.deltas = nil
	return out, q.last, q.err
}

// precopy copies the endpoint's state while its traffic still flows: a full
// copy, then rounds of deltas (streamed by Watch) until a round is small,
// then the freeze: the caller's cutover hook, the last delta, committed.
// All rounds extend one persistent confirmed commit per destination, so a
// failure at any point cancels everything and the sources stay untouched.
func (r *run) precopy(ctx context.Context) error {
	if err := r.timed(PhasePlan, func() error {
		if err := r.step(ctx, PhasePlan, "", nil); err != nil {
			return err
		}
		return r.open(ctx, r.devices()...)
	}); err != nil {
		return err
	}
	if err := r.timed(PhaseNegotiate, func() error { return r.negotiate(ctx) }); err != nil {
		return err
	}
	for _, src := range r.req.Sources {
		if !r.caps[src].Watch {
			return fmt.Errorf("%w: pre-copy needs a change stream from %s (its driver has no Watch)", ErrUnsupported, src)
		}
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
	// Watch first, then read once the streams are live: every change
	// after the read is in the queue.
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	q := &deltaQueue{notify: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWatch()
	for _, src := range r.req.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.drivers[src].Watch(wctx, r.matcher, func(d device.Delta) error { q.push(src, d); return nil })
			if err != nil && wctx.Err() == nil {
				q.fail(fmt.Errorf("watch %s: %w", src, err))
			}
		}()
	}
	if err := r.timed(PhaseSnapshot, func() error {
		// Read once every stream is live, so that no change falls
		// between the read and the stream.
		late, err := q.waitLive(ctx, r.req.Sources, liveTimeout)
		if err != nil {
			return err
		}
		if len(late) > 0 {
			r.e.log.Warn("pre-copy: change stream not live in time, reading anyway (the reconcile read after the freeze catches what it misses)",
				"migration", r.id, "sources", late, "waited", liveTimeout)
		}
		return r.snapshot(ctx)
	}); err != nil {
		return err
	}
	if err := r.timed(PhaseTransform, func() error { return r.transform(ctx) }); err != nil {
		return err
	}
	if err := r.installRound(ctx, nil); err != nil {
		return err
	}
	o := r.req.PreCopy
	if o.MaxRounds == 0 {
		o.MaxRounds = defaultMaxRounds
	}
	if o.SmallDelta == 0 {
		o.SmallDelta = defaultRoundDelta
	}
	if o.Settle == 0 {
		o.Settle = defaultSettle
	}
	for r.rep.Rounds < o.MaxRounds {
		ds, _, err := q.take()
		if err != nil {
			return err
		}
		if ds, err = r.resynced(ctx, ds); err != nil {
			return err
		}
		r.rep.Rounds++
		if err := r.step(ctx, PhaseRound, "", &stepData{Sessions: len(ds)}); err != nil {
			return err
		}
		// An empty round writes nothing (installRound reads nil as the
		// first round: the whole snapshot again).
		if len(ds) > 0 {
			if err := r.installRound(ctx, ds); err != nil {
				return err
			}
		}
		if len(ds) <= o.SmallDelta {
			break
		}
	}
	// The freeze: from the cutover to the last delta committed.
	if err := r.step(ctx, PhaseFreeze, "", nil); err != nil {
		return err
	}
	t0 := time.Now()
	if r.req.Cutover != nil {
		if err := r.req.Cutover(ctx); err != nil {
			return fmt.Errorf("cutover: %w", err)
		}
	}
	var final []srcDelta
	for {
		ds, last, err := q.take()
		if err != nil {
			return err
		}
		final = append(final, ds...)
		if wait := o.Settle - time.Since(last); len(ds) == 0 && wait <= 0 {
			break
		} else if wait > 0 {
			select {
			case <-q.notify:
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	stopWatch()
	final, err := r.resynced(ctx, final)
	if err != nil {
		return err
	}
	r.rep.FreezeDelta = len(final)
	if len(final) > 0 {
		if err := r.installRound(ctx, final); err != nil {
			return err
		}
	}
	r.rep.Blackout = time.Since(t0)
	r.rep.addTiming(PhaseFreeze, r.rep.Blackout)
	// The stream may lag behind the source: reconcile with a full read of
	// the (now quiet) source, so nothing changed late is left behind.
	if err := r.timed(PhaseReconcile, func() error { return r.reconcile(ctx) }); err != nil {
		return err
	}
	// Traffic runs on the destinations now; verify, confirm, eliminate.
	for _, dst := range slices.Sorted(slices.Values(r.req.Destinations)) {
		if err := r.step(ctx, PhaseVerify, dst, nil); err != nil {
			return err
		}
		if err := r.timed(PhaseVerify, func() error { return r.verify(ctx, dst) }); err != nil {
			return err
		}
	}
	if err := r.confirmAll(ctx); err != nil {
		return err
	}
	if err := r.eliminate(ctx); err != nil {
		return err
	}
	r.rep.Status = journal.Done
	return r.step(ctx, PhaseDone, "", nil)
}

// installRound writes one round to every destination and commits it,
// extending the pending confirmed commit. ds nil is the first round: the
// whole snapshot.
func (r *run) installRound(ctx context.Context, ds []srcDelta) error {
	first := ds == nil
	if first {
		r.digests = make(map[string]flow.Digest)
	}
	upserts, removed := r.applyDeltas(ds)
	for _, dst := range slices.Sorted(slices.Values(r.req.Destinations)) {
		d := r.drivers[dst]
		var put []*flow.Session
		if first {
			put = r.perDest[dst]
		} else {
			// One index per round (not a scan of the copy per change).
			pos := make(map[string]int, len(r.perDest[dst]))
			for i, s := range r.perDest[dst] {
				pos[s.GetId()] = i
			}
			for _, u := range upserts {
				if !r.feeds(u.src, dst) {
					continue
				}
				if cp, ok := r.prepare(dst, u.d.Session); ok {
					put = append(put, cp)
					if i, ok := pos[cp.GetId()]; ok {
						r.perDest[dst][i] = cp
					} else {
						pos[cp.GetId()] = len(r.perDest[dst])
						r.perDest[dst] = append(r.perDest[dst], cp)
					}
				}
			}
		}
		var gone []string
		if len(removed) > 0 {
			dstOf := make(map[string]string, len(r.srcOf[dst]))
			for did, sid := range r.srcOf[dst] {
				dstOf[sid] = did
			}
			drop := make(map[string]bool)
			for _, rm := range removed {
				if !r.feeds(rm.src, dst) {
					continue
				}
				did := rm.d.ID
				if x, ok := dstOf[did]; ok {
					did = x
				}
				gone = append(gone, did)
				drop[did] = true
			}
			r.perDest[dst] = slices.DeleteFunc(r.perDest[dst], func(s *flow.Session) bool { return drop[s.GetId()] })
		}
		if !first && len(put) == 0 && len(gone) == 0 {
			continue
		}
		if err := r.step(ctx, PhaseStage, dst, &stepData{Sessions: len(put) + len(gone)}); err != nil {
			return err
		}
		err := r.timed(PhaseStage, func() error {
			r.set(dst, func(s *devState) { s.staged = true })
			if len(put) > 0 {
				if err := d.Stage(ctx, slices.Values(put)); err != nil {
					return err
				}
			}
			if len(gone) > 0 {
				return d.Remove(ctx, gone)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("stage at %s: %w", dst, err)
		}
		if err := r.step(ctx, PhaseCommit, dst, &stepData{Persist: r.persist[dst]}); err != nil {
			return err
		}
		o := device.CommitOptions{Confirmed: true, Timeout: r.req.ConfirmTimeout, Persist: r.persist[dst]}
		if r.state[dst].committed {
			o.PersistID = r.persist[dst]
		}
		err = r.timed(PhaseCommit, func() error {
			err := d.Commit(ctx, o)
			if err == nil {
				r.set(dst, func(s *devState) { s.committed = true })
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("confirmed commit at %s: %w", dst, err)
		}
	}
	for _, dst := range r.req.Destinations {
		dg, err := flow.DigestSessions(r.perDest[dst])
		if err != nil {
			return err
		}
		r.digests[dst] = dg
	}
	return nil
}

// applyDeltas folds a round's changes into the run's view of the sources:
// the last change of an id wins.
func (r *run) applyDeltas(ds []srcDelta) (upserts, removed []srcDelta) {
	if len(ds) == 0 {
		return nil, nil
	}
	last := make(map[string]srcDelta)
	var order []string
	for _, sd := range ds {
		id := sd.d.ID
		if sd.d.Session != nil {
			if err := flow.SetKey(sd.d.Session); err != nil {
				r.e.log.Warn("pre-copy: delta without key", "source", sd.src, "err", err)
				continue
			}
			id = sd.d.Session.GetId()
		}
		if id == "" {
			continue
		}
		if _, seen := last[id]; !seen {
			order = append(order, id)
		}
		last[id] = sd
	}
	// Membership of the sources' remove lists and of the moving set,
	// indexed once per round.
	inRemove := make(map[string]map[string]bool)
	listed := func(src, id string) bool {
		set, ok := inRemove[src]
		if !ok {
			set = make(map[string]bool, len(r.remove[src]))
			for _, x := range r.remove[src] {
				set[x] = true
			}
			inRemove[src] = set
		}
		return set[id]
	}
	gone := make(map[string]map[string]bool)
	for _, id := range order {
		sd := last[id]
		switch sd.d.Type {
		case device.Upserted:
			upserts = append(upserts, sd)
			at := sd.d.Time
			if at.IsZero() {
				at = time.Now()
			}
			r.seenAt[id] = at
			if !listed(sd.src, id) {
				r.remove[sd.src] = append(r.remove[sd.src], id)
				inRemove[sd.src][id] = true
			}
			r.replaceMoving(sd.d.Session)
		case device.Removed:
			sd.d.ID = id
			removed = append(removed, sd)
			if gone[sd.src] == nil {
				gone[sd.src] = make(map[string]bool)
			}
			gone[sd.src][id] = true
		}
	}
	if len(removed) > 0 {
		all := make(map[string]bool, len(removed))
		for src, ids := range gone {
			r.remove[src] = slices.DeleteFunc(r.remove[src], func(x string) bool { return ids[x] })
			for id := range ids {
				all[id] = true
			}
		}
		r.moving = slices.DeleteFunc(r.moving, func(s *flow.Session) bool { return all[s.GetId()] })
	}
	r.rep.Sessions = len(r.moving)
	return upserts, removed
}

func (r *run) replaceMoving(s *flow.Session) {
	i, found := slices.BinarySearchFunc(r.moving, s.GetId(), func(e *flow.Session, id string) int { return cmpStr(e.GetId(), id) })
	if found {
		r.moving[i] = s
	} else {
		r.moving = slices.Insert(r.moving, i, s)
	}
}

// prepare is transform for one session arriving in a delta: renames, and
// the destination's features (strip when allowed, else it stays behind).
func (r *run) prepare(dst string, s *flow.Session) (*flow.Session, bool) {
	cp := s
	if tr := r.req.Transforms[dst]; !tr.empty() {
		cp = clone(s)
		if err := tr.apply(cp); err != nil {
			return nil, false
		}
		if cp.GetId() != s.GetId() {
			if r.srcOf[dst] == nil {
				r.srcOf[dst] = make(map[string]string)
			}
			r.srcOf[dst][cp.GetId()] = s.GetId()
		}
	}
	c := r.caps[dst]
	if !c.HasProtocol(cp.GetProtocol()) {
		return nil, false
	}
	if lacks := c.Missing(cp); len(lacks) > 0 {
		if !r.req.StripUnsupported {
			return nil, false
		}
		if cp == s {
			cp = clone(s)
		}
		for _, ft := range lacks {
			if !flow.Strip(cp, ft) {
				return nil, false
			}
		}
	}
	return cp, true
}

// reconcile reads the sources once more after the freeze and writes what
// the change stream had not delivered yet. A change of content (or a flow
// created or ended) counts as late: its flow waited longer than the
// reported blackout (Report.Late). A lifetime restarted by traffic does not
// always reach the stream (the remaining time a device reports can read the
// same before and after), so timers are compared as expiry instants: a
// source copy that now expires later than the copy written is rewritten
// too (Report.Refreshed), or the destination would expire the flow early.
func (r *run) reconcile(ctx context.Context) error {
	if err := r.step(ctx, PhaseReconcile, "", nil); err != nil {
		return err
	}
	var ds []srcDelta
	for _, src := range slices.Sorted(slices.Values(r.req.Sources)) {
		d, late, refreshed, err := r.diffSource(ctx, src)
		if err != nil {
			return fmt.Errorf("reconcile %s: %w", src, err)
		}
		ds = append(ds, d...)
		r.rep.Late += late
		r.rep.Refreshed += refreshed
	}
	if len(ds) == 0 {
		return nil
	}
	return r.installRound(ctx, ds)
}

// diffSource reads src and returns what differs from the copies written:
// new, changed and ended sessions (late) and restarted lifetimes
// (refreshed), as deltas.
func (r *run) diffSource(ctx context.Context, src string) (ds []srcDelta, late, refreshed int, err error) {
	known := make(map[string]*flow.Session, len(r.moving))
	for _, s := range r.moving {
		known[s.GetId()] = s
	}
	seen := make(map[string]bool)
	readAt := time.Now()
	err = r.drivers[src].Read(ctx, r.matcher, func(s *flow.Session) error {
		if flow.SetKey(s) != nil {
			return nil
		}
		id := s.GetId()
		seen[id] = true
		was, ok := known[id]
		switch {
		case !ok, !sameContent(was, s):
			late++
		case r.expiresLater(s, readAt, was):
			refreshed++
		default:
			return nil
		}
		ds = append(ds, srcDelta{src, device.Delta{Type: device.Upserted, Session: s, Time: readAt}})
		return nil
	})
	if err != nil {
		return nil, 0, 0, err
	}
	for _, id := range r.remove[src] {
		if !seen[id] {
			late++
			ds = append(ds, srcDelta{src, device.Delta{Type: device.Removed, ID: id}})
		}
	}
	return ds, late, refreshed, nil
}

// resynced replaces, for every source whose stream lost events (a Resync
// delta), the round's deltas by a full comparison with the source.
func (r *run) resynced(ctx context.Context, ds []srcDelta) ([]srcDelta, error) {
	lost := make(map[string]bool)
	for _, sd := range ds {
		if sd.d.Type == device.Resync {
			lost[sd.src] = true
		}
	}
	if len(lost) == 0 {
		return ds, nil
	}
	out := slices.DeleteFunc(ds, func(sd srcDelta) bool { return lost[sd.src] })
	for _, src := range slices.Sorted(func(yield func(string) bool) {
		for s := range lost {
			if !yield(s) {
				return
			}
		}
	}) {
		r.e.log.Info("pre-copy: change stream lost events, comparing with a full read", "migration", r.id, "source", src)
		d, _, _, err := r.diffSource(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("resync %s: %w", src, err)
		}
		out = append(out, d...)
	}
	return out, nil
}

// sameContent compares two copies of a session without the volatile and
// timer leaves (the digest's canonical form).
func sameContent(a, b *flow.Session) bool {
	da, errA := flow.DigestSessions([]*flow.Session{a})
	db, errB := flow.DigestSessions([]*flow.Session{b})
	return errA == nil && errB == nil && da == db
}

// expiresLater reports whether now (read at readAt) expires more than the
// tolerance later than the copy written (read at its own time).
func (r *run) expiresLater(now *flow.Session, readAt time.Time, was *flow.Session) bool {
	rn, rw := now.GetTimers().GetRemaining(), was.GetTimers().GetRemaining()
	if now.GetTimers() == nil || now.Timers.Remaining == nil || was.GetTimers() == nil || was.Timers.Remaining == nil {
		return false
	}
	seenAt, ok := r.seenAt[was.GetId()]
	if !ok {
		return false
	}
	expNow := readAt.Add(time.Duration(rn) * time.Second)
	expWas := seenAt.Add(time.Duration(rw) * time.Second)
	return expNow.Sub(expWas) > flow.DefaultTimeoutTolerance
}
