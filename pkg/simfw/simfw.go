package simfw

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
)

// Errors of the simulated device.
var (
	// ErrUnreachable: the device is disconnected (Disconnect); calls fail
	// until Reconnect. It is transient, unlike backend.ErrClosed.
	ErrUnreachable = errors.New("simfw: device unreachable")
	// ErrOverflow: a watcher fell behind, its event buffer filled up and
	// events were dropped; the watcher must resynchronize with a Dump.
	ErrOverflow = errors.New("simfw: watcher fell behind, events dropped")
)

// FeatureError reports a session that uses a protocol or feature the
// personality does not have. It wraps backend.ErrUnsupported.
type FeatureError struct {
	ID string
	// Feature is the YANG identity name of the missing feature ("nat",
	// "tcp-window-tracking", ...), or "protocol N" for a protocol the
	// device does not install.
	Feature string
}

func (e *FeatureError) Error() string {
	return fmt.Sprintf("simfw: session %s: %v: %s", e.ID, backend.ErrUnsupported, e.Feature)
}

func (e *FeatureError) Unwrap() error { return backend.ErrUnsupported }

// DefaultWatchBuffer is the number of events a watcher may have queued when
// a write comes before it is dropped with ErrOverflow (the write's own
// events are queued whole; see the package documentation).
const DefaultWatchBuffer = 4096

// Option configures a Firewall.
type Option func(*Firewall)

// WithLogger logs the firewall's operations and faults (at debug level,
// faults at info). The default discards.
func WithLogger(l *slog.Logger) Option { return func(f *Firewall) { f.log = l } }

// WithClock sets the clock that timers count down on (default time.Now),
// so tests can move time by hand.
func WithClock(now func() time.Time) Option { return func(f *Firewall) { f.now = now } }

// WithSweepInterval runs Sweep every d (real time) until Close.
func WithSweepInterval(d time.Duration) Option { return func(f *Firewall) { f.sweepEvery = d } }

// WithWatchBuffer sets the per-watcher event buffer (default
// DefaultWatchBuffer; at least 1).
func WithWatchBuffer(n int) Option { return func(f *Firewall) { f.watchBuf = max(n, 1) } }

// Firewall is a simulated device session table. It is safe for concurrent
// use.
type Firewall struct {
	p          Personality
	features   map[flowstate.E_SamiFlowState_Feature]bool
	protocols  map[uint8]bool // nil: any
	log        *slog.Logger
	now        func() time.Time
	sweepEvery time.Duration
	watchBuf   int

	latency atomic.Int64 // time.Duration
	down    atomic.Bool

	mu       sync.RWMutex
	table    map[string]*entry
	watchers map[*watcher]struct{}
	failIn   int // FailWriteAt countdown; 0: off
	failDel  int // FailDeleteAt countdown; 0: off
	closed   bool

	stop     chan struct{}
	sweeping sync.WaitGroup
}

// entry is a stored session. s is never mutated once stored (Touch replaces
// it), so a reader holding the lock may clone it.
type entry struct {
	s        *flow.Session
	deadline time.Time // zero: never expires
}

var _ backend.Backend = (*Firewall)(nil)

// New returns an empty firewall with personality p.
func New(p Personality, opts ...Option) *Firewall {
	p.Protocols = slices.Clone(p.Protocols)
	p.Features = slices.Clone(p.Features)
	f := &Firewall{
		p:        p,
		features: make(map[flowstate.E_SamiFlowState_Feature]bool),
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		watchBuf: DefaultWatchBuffer,
		table:    make(map[string]*entry),
		watchers: make(map[*watcher]struct{}),
		stop:     make(chan struct{}),
	}
	for _, ft := range p.Features {
		f.features[ft] = true
	}
	if len(p.Protocols) > 0 {
		f.protocols = make(map[uint8]bool)
		for _, pr := range p.Protocols {
			f.protocols[pr] = true
		}
	}
	for _, o := range opts {
		o(f)
	}
	if f.sweepEvery > 0 {
		f.sweeping.Add(1)
		go f.sweeper()
	}
	return f
}

// Personality returns the personality the firewall was created with.
func (f *Firewall) Personality() Personality {
	p := f.p
	p.Protocols = slices.Clone(p.Protocols)
	p.Features = slices.Clone(p.Features)
	return p
}

// Name implements backend.Backend.
func (f *Firewall) Name() string { return "sim" }

// SetLatency delays every later Upsert, Delete and Dump call by d.
func (f *Firewall) SetLatency(d time.Duration) {
	f.latency.Store(int64(d))
	f.log.Info("simfw: latency", "latency", d)
}

// FailWriteAt makes the n-th session written from now on (counted over
// Upsert calls, in write order) fail with backend.ErrRefused, once. n <= 0
// cancels a pending fault.
func (f *Firewall) FailWriteAt(n int) {
	f.mu.Lock()
	f.failIn = max(n, 0)
	f.mu.Unlock()
	f.log.Info("simfw: fail write", "at", n)
}

// FailDeleteAt makes the n-th session deleted from now on (counted over
// Delete calls, sessions in the table only) fail with backend.ErrRefused,
// once: the sessions of that call before it are deleted, it and the rest
// are not (a *backend.BatchError). n <= 0 cancels a pending fault.
func (f *Firewall) FailDeleteAt(n int) {
	f.mu.Lock()
	f.failDel = max(n, 0)
	f.mu.Unlock()
	f.log.Info("simfw: fail delete", "at", n)
}

// Disconnect makes the device unreachable: every Backend call fails with
// ErrUnreachable and running watches end with it, until Reconnect.
func (f *Firewall) Disconnect() {
	f.mu.Lock()
	f.down.Store(true)
	for w := range f.watchers {
		f.dropLocked(w, ErrUnreachable)
	}
	f.mu.Unlock()
	f.log.Info("simfw: disconnected")
}

// Reconnect makes the device reachable again, with its table as it is.
func (f *Firewall) Reconnect() {
	f.down.Store(false)
	f.log.Info("simfw: reconnected")
}

// Len returns the number of sessions in the table, expired ones not yet swept
// included.
func (f *Firewall) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.table)
}

// Snapshot returns deep copies of every session, sorted by id, with the
// remaining timers as of now. It works while disconnected.
func (f *Firewall) Snapshot() []*flow.Session {
	f.mu.RLock()
	defer f.mu.RUnlock()
	now := f.now()
	out := make([]*flow.Session, 0, len(f.table))
	for _, e := range f.table {
		out = append(out, e.view(now))
	}
	slices.SortFunc(out, func(a, b *flow.Session) int { return cmp.Compare(a.GetId(), b.GetId()) })
	return out
}

// Watchers returns the number of active watchers, so a test can wait until
// its Watch is registered.
func (f *Firewall) Watchers() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.watchers)
}

// check fails when the firewall is closed or unreachable.
func (f *Firewall) check() error {
	f.mu.RLock()
	closed := f.closed
	f.mu.RUnlock()
	if closed {
		return backend.ErrClosed
	}
	if f.down.Load() {
		return ErrUnreachable
	}
	return nil
}

// enter is the start of every delayed call: reachability, latency, and
// reachability again (the device may have gone away meanwhile).
func (f *Firewall) enter(ctx context.Context, delayed bool) error {
	if err := f.check(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d := time.Duration(f.latency.Load()); delayed && d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		return f.check()
	}
	return nil
}

// Capabilities implements backend.Backend: the personality plus live counts.
// With an unlimited table, max-sessions is the enum unlimited and free-slots
// and utilization are left out.
func (f *Firewall) Capabilities(ctx context.Context) (*backend.Capabilities, error) {
	if err := f.enter(ctx, false); err != nil {
		return nil, err
	}
	active := uint64(f.Len())
	c := &backend.Capabilities{
		Vendor:             strPtr(f.p.Vendor),
		Model:              strPtr(f.p.Model),
		SoftwareVersion:    strPtr(f.p.Software),
		Domain:             strPtr(f.p.Domain),
		ActiveSessions:     ygot.Uint64(active),
		SupportedProtocols: slices.Sorted(slices.Values(f.p.Protocols)),
		Features:           slices.Sorted(slices.Values(f.p.Features)),
	}
	if m := f.p.MaxSessions; m == 0 {
		c.MaxSessions = flowstate.SamiFlowState_FlowState_Capabilities_MaxSessions_unlimited
	} else {
		c.MaxSessions = flowstate.UnionUint64(m)
		c.FreeSlots = ygot.Uint64(m - min(active, m))
		c.Utilization = ygot.Float64(math.Round(float64(active)*10000/float64(m)) / 100)
	}
	return c, nil
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Dump implements backend.Dump: the sessions in id order, each copied when
// it is reached (sessions deleted meanwhile are skipped). It stops with
// ErrUnreachable when the device is disconnected during the dump.
func (f *Firewall) Dump(ctx context.Context, fn func(*flow.Session) error) error {
	return f.dump(ctx, (*entry).view, fn)
}

// DumpShared is Dump without the deep copies: each session is a new
// struct (with its own timers, counted down to now) whose other parts are
// the table's stored ones. Stored sessions are never changed, so the
// caller may keep what it gets, and may set or replace the session's own
// fields; it must not change anything they point to. The sami agent reads
// the table this way for its running datastore and its replies (a deep
// copy of every session was most of the cost of reading a large table).
func (f *Firewall) DumpShared(ctx context.Context, fn func(*flow.Session) error) error {
	return f.dump(ctx, (*entry).shared, fn)
}

func (f *Firewall) dump(ctx context.Context, view func(*entry, time.Time) *flow.Session, fn func(*flow.Session) error) error {
	if err := f.enter(ctx, true); err != nil {
		return err
	}
	f.mu.RLock()
	ids := make([]string, 0, len(f.table))
	for id := range f.table {
		ids = append(ids, id)
	}
	f.mu.RUnlock()
	slices.Sort(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.mu.RLock()
		closed := f.closed
		e, ok := f.table[id]
		f.mu.RUnlock()
		switch {
		case closed:
			return backend.ErrClosed
		case f.down.Load():
			return ErrUnreachable
		case !ok:
			continue
		}
		// Stored sessions are immutable: copied without the lock.
		if err := fn(view(e, f.now())); err != nil {
			return err
		}
	}
	return nil
}

// Upsert implements backend.Backend; see the package documentation.
func (f *Firewall) Upsert(ctx context.Context, ss []*flow.Session) error {
	if err := f.enter(ctx, true); err != nil {
		return err
	}
	// Check and copy the batch before taking the lock.
	ids := make([]string, len(ss))
	copies := make([]*flow.Session, len(ss))
	for i, s := range ss {
		id, err := flow.Key(s)
		if err != nil {
			return fmt.Errorf("simfw: upsert: %w", err)
		}
		if s.Id != nil {
			if err := flow.CheckKey(s); err != nil {
				return fmt.Errorf("simfw: upsert: %w", err)
			}
		}
		if err := f.supports(id, s); err != nil {
			return err
		}
		c := clone(s)
		c.Id = ygot.String(id)
		ids[i], copies[i] = id, c
	}
	order := mastersFirst(ids, copies)

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return backend.ErrClosed
	}
	if f.down.Load() {
		return ErrUnreachable
	}
	if m := f.p.MaxSessions; m > 0 {
		var need uint64
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if _, ok := f.table[id]; !ok && !seen[id] {
				need++
			}
			seen[id] = true
		}
		free := m - min(uint64(len(f.table)), m)
		if need > free {
			return &backend.CapacityError{Need: need, Free: free}
		}
	}
	// The injected fault: order[failPos] is refused.
	applied, failPos := len(ss), -1
	if f.failIn > 0 {
		if f.failIn <= len(order) {
			failPos = order[f.failIn-1]
			written := make([]bool, len(ss))
			for _, i := range order[:f.failIn-1] {
				written[i] = true
			}
			applied = slices.Index(written, false)
			f.failIn = 0
		} else {
			f.failIn -= len(order)
		}
	}
	now := f.now()
	var evs []pending
	if len(f.watchers) > 0 {
		evs = make([]pending, 0, applied)
	}
	for _, i := range order {
		if i >= applied {
			continue
		}
		e := &entry{s: copies[i]}
		if t := copies[i].GetTimers(); t != nil && t.Remaining != nil {
			e.deadline = now.Add(time.Duration(*t.Remaining) * time.Second)
		}
		typ := backend.Created
		if _, ok := f.table[ids[i]]; ok {
			typ = backend.Updated
		}
		f.table[ids[i]] = e
		if evs != nil {
			evs = append(evs, pending{typ, e, now})
		}
	}
	f.publishLocked(evs)
	f.log.Debug("simfw: upsert", "sessions", len(ss), "applied", applied, "active", len(f.table))
	if failPos >= 0 {
		err := &backend.BatchError{Applied: applied, ID: ids[applied],
			Err: fmt.Errorf("%w: session %s (injected fault)", backend.ErrRefused, ids[failPos])}
		f.log.Info("simfw: write refused", "err", err)
		return err
	}
	return nil
}

// mastersFirst returns the write order of a batch, as indexes: the given
// order, except that a session whose alg/master is a later session of the
// batch pulls its master (and the master's master) in just before it. A cycle
// of masters is written in the given order.
func mastersFirst(ids []string, ss []*flow.Session) []int {
	order := make([]int, 0, len(ss))
	pos := make(map[string]int, len(ids))
	related := false
	for i, id := range ids {
		if _, ok := pos[id]; !ok {
			pos[id] = i
		}
		related = related || ss[i].GetAlg().GetMaster() != ""
	}
	if !related {
		for i := range ss {
			order = append(order, i)
		}
		return order
	}
	const (
		todo = iota
		visiting
		done
	)
	state := make([]int, len(ss))
	var visit func(i int)
	visit = func(i int) {
		if state[i] != todo {
			return
		}
		state[i] = visiting
		if m, ok := pos[ss[i].GetAlg().GetMaster()]; ok {
			visit(m)
		}
		state[i] = done
		order = append(order, i)
	}
	for i := range ss {
		visit(i)
	}
	return order
}

// supports checks s against the personality; the first thing missing is
// reported.
func (f *Firewall) supports(id string, s *flow.Session) error {
	if f.protocols != nil && !f.protocols[s.GetProtocol()] {
		return &FeatureError{ID: id, Feature: fmt.Sprintf("protocol %d", s.GetProtocol())}
	}
	for _, ft := range flow.Features(s) {
		if !f.features[ft] {
			return &FeatureError{ID: id, Feature: flow.FeatureName(ft)}
		}
	}
	return nil
}

// Delete implements backend.Backend. Sessions are matched by id, or by the
// derived key when the id is unset; sessions that are not in the table are
// skipped. Deleting a master leaves its related sessions alone.
func (f *Firewall) Delete(ctx context.Context, ss []*flow.Session) error {
	if err := f.enter(ctx, true); err != nil {
		return err
	}
	ids := make([]string, len(ss))
	for i, s := range ss {
		if s != nil && s.Id != nil {
			ids[i] = *s.Id
			continue
		}
		id, err := flow.Key(s)
		if err != nil {
			return fmt.Errorf("simfw: delete: %w", err)
		}
		ids[i] = id
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return backend.ErrClosed
	}
	if f.down.Load() {
		return ErrUnreachable
	}
	now := f.now()
	n := 0
	var evs []pending
	var refused error
	for i, id := range ids {
		e, ok := f.table[id]
		if !ok {
			continue
		}
		if f.failDel > 0 {
			if f.failDel--; f.failDel == 0 {
				refused = &backend.BatchError{Applied: i, ID: id,
					Err: fmt.Errorf("%w: delete of session %s (injected fault)", backend.ErrRefused, id)}
				break
			}
		}
		delete(f.table, id)
		if len(f.watchers) > 0 {
			evs = append(evs, pending{backend.Destroyed, e, now})
		}
		n++
	}
	f.publishLocked(evs)
	f.log.Debug("simfw: delete", "sessions", len(ss), "deleted", n, "active", len(f.table))
	if refused != nil {
		f.log.Info("simfw: delete refused", "err", refused)
	}
	return refused
}

// Touch simulates traffic on session id: it adds packets and bytes to the
// original direction's counters, sets timers/last-seen to now, restarts the
// lifetime at timers/idle-timeout when packets is not 0 (unless the status
// has fixed-timeout) and emits Updated. It reports whether the session
// exists.
func (f *Firewall) Touch(id string, packets, bytes uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.table[id]
	if !ok {
		return false
	}
	now := f.now()
	s := clone(e.s) // copy on write: e.s may be in use by readers
	o := s.GetOrCreateCounters().GetOrCreateOriginal()
	o.Packets = ygot.Uint64(o.GetPackets() + packets)
	o.Bytes = ygot.Uint64(o.GetBytes() + bytes)
	t := s.GetOrCreateTimers()
	t.LastSeen = ygot.String(now.UTC().Format(time.RFC3339))
	ne := &entry{s: s, deadline: e.deadline}
	fixed := slices.Contains(s.Status, flowstate.SamiFlowState_FlowState_Sessions_Session_Status_fixed_timeout)
	if packets > 0 && t.IdleTimeout != nil && !fixed {
		t.Remaining = ygot.Uint32(*t.IdleTimeout)
		ne.deadline = now.Add(time.Duration(*t.IdleTimeout) * time.Second)
	} else if !e.deadline.IsZero() {
		t.Remaining = ygot.Uint32(remaining(e.deadline, now))
		// keep the deadline: Remaining is recomputed from it on reads
	}
	f.table[id] = ne
	f.publishLocked([]pending{{backend.Updated, ne, now}})
	return true
}

// Sweep removes the sessions whose lifetime has run out, emitting Destroyed
// for each (in id order), and returns how many it removed.
func (f *Firewall) Sweep() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var dead []string
	for id, e := range f.table {
		if !e.deadline.IsZero() && !e.deadline.After(now) {
			dead = append(dead, id)
		}
	}
	slices.Sort(dead)
	var evs []pending
	for _, id := range dead {
		e := f.table[id]
		delete(f.table, id)
		if len(f.watchers) > 0 {
			evs = append(evs, pending{backend.Destroyed, e, now})
		}
	}
	f.publishLocked(evs)
	if len(dead) > 0 {
		f.log.Debug("simfw: expired", "sessions", len(dead), "active", len(f.table))
	}
	return len(dead)
}

func (f *Firewall) sweeper() {
	defer f.sweeping.Done()
	t := time.NewTicker(f.sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			f.Sweep()
		}
	}
}

// Close implements backend.Backend: later calls fail with
// backend.ErrClosed, running watches end with it, and the background sweeper
// stops. Closing twice is allowed.
func (f *Firewall) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	for w := range f.watchers {
		f.dropLocked(w, backend.ErrClosed)
	}
	close(f.stop)
	f.mu.Unlock()
	f.sweeping.Wait()
	f.log.Debug("simfw: closed")
	return nil
}

// view returns a copy of the stored session with timers/remaining counted
// down to now.
func (e *entry) view(now time.Time) *flow.Session {
	c := clone(e.s)
	if !e.deadline.IsZero() {
		c.GetOrCreateTimers().Remaining = ygot.Uint32(remaining(e.deadline, now))
	}
	return c
}

// shared is view without the deep copy: a new session struct and timers
// container, everything else shared with the stored session.
func (e *entry) shared(now time.Time) *flow.Session {
	c := new(flow.Session)
	*c = *e.s
	if c.Timers != nil || !e.deadline.IsZero() {
		t := &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{}
		if c.Timers != nil {
			*t = *c.Timers
		}
		if !e.deadline.IsZero() {
			t.Remaining = ygot.Uint32(remaining(e.deadline, now))
		}
		c.Timers = t
	}
	return c
}

func remaining(deadline, now time.Time) uint32 {
	d := deadline.Sub(now)
	if d <= 0 {
		return 0
	}
	return uint32(min(d/time.Second, math.MaxUint32))
}
