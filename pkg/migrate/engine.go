package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
)

// Opener connects to a device by its inventory name (the CLI and the
// daemon resolve names through the topology and the driver registry).
type Opener func(ctx context.Context, name string) (device.Driver, error)

// Hook is called twice at every phase boundary: before the phase is
// journaled (journaled false) and after it is journaled but before it is
// acted on (journaled true). A non-nil error makes the engine stop on the
// spot as if the process had died there: connections are dropped, nothing
// is cancelled, unlocked or finished, and the error is returned wrapped in
// ErrAbandoned. It exists for fault-injection tests.
type Hook func(ctx context.Context, id string, p Phase, dev string, journaled bool) error

// Engine runs migrations. It is safe for concurrent use: migrations that
// share devices are serialized per device, in name order.
type Engine struct {
	open           Opener
	j              *journal.Journal
	locks          *deviceLocks
	log            *slog.Logger
	hook           Hook
	now            func() time.Time
	lockTimeout    time.Duration
	confirmTimeout time.Duration
	minConfirm     time.Duration
}

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithHook installs a fault-injection hook (tests).
func WithHook(h Hook) Option { return func(e *Engine) { e.hook = h } }

// WithClock sets the clock used for reports and checkpoint ages.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithLockTimeout bounds how long a migration waits for its devices
// (held by other migrations, here or on another orchestrator); default 60 s.
func WithLockTimeout(d time.Duration) Option { return func(e *Engine) { e.lockTimeout = d } }

// WithConfirmTimeout sets the default confirm timeout of the devices'
// confirmed commits (default 120 s); a Request may override it.
func WithConfirmTimeout(d time.Duration) Option { return func(e *Engine) { e.confirmTimeout = d } }

// New returns an engine that reaches devices through open and journals to j.
func New(open Opener, j *journal.Journal, opts ...Option) (*Engine, error) {
	if open == nil || j == nil {
		return nil, fmt.Errorf("%w: the engine needs an opener and a journal", ErrInvalidRequest)
	}
	e := &Engine{
		open:           open,
		j:              j,
		locks:          newDeviceLocks(),
		log:            slog.New(slog.DiscardHandler),
		now:            time.Now,
		lockTimeout:    60 * time.Second,
		confirmTimeout: 120 * time.Second,
		minConfirm:     time.Second,
	}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Journal is the engine's journal.
func (e *Engine) Journal() *journal.Journal { return e.j }

// Busy lists which of the named devices a migration holds now.
func (e *Engine) Busy(names ...string) []string { return e.locks.busy(names) }

// planRecord is the journal's copy of a request: what Recover needs.
type planRecord struct {
	Kind           Kind                 `json:"kind"`
	Endpoints      []string             `json:"endpoints"`
	Sources        []string             `json:"sources"`
	Destinations   []string             `json:"destinations"`
	Eliminate      []string             `json:"eliminate"`
	Feeders        map[string][]string  `json:"feeders,omitempty"`
	Domains        map[string]string    `json:"domains,omitempty"`
	AllowDomains   []DomainRule         `json:"allow-domains,omitempty"`
	Transforms     map[string]Transform `json:"transforms,omitempty"`
	Partial        bool                 `json:"partial,omitempty"`
	Strip          bool                 `json:"strip-unsupported,omitempty"`
	KeepSource     bool                 `json:"keep-source,omitempty"`
	HasCutover     bool                 `json:"has-cutover,omitempty"`
	ConfirmTimeout time.Duration        `json:"confirm-timeout"`
	Persist        map[string]string    `json:"persist"` // device -> persist id
}

// stepData is the payload of journal entries.
type stepData struct {
	Persist  string              `json:"persist,omitempty"`
	Sessions int                 `json:"sessions,omitempty"`
	Digest   string              `json:"digest,omitempty"`
	Remove   map[string][]string `json:"remove,omitempty"` // source -> ids (written with the first confirm)
}

// Migrate runs one migration to its end and returns its report. On error the
// report says how far it got and the error is also in Report.Error.
func (e *Engine) Migrate(ctx context.Context, req Request) (*Report, error) {
	if req.Kind == "" {
		req.Kind = Planned
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	r := e.newRun(req)
	var err error
	switch req.Kind {
	case PreCopy:
		err = r.precopy(ctx)
	case Unplanned:
		err = r.unplanned(ctx)
	default:
		err = r.planned(ctx)
	}
	return r.finish(ctx, err)
}

func (e *Engine) newRun(req Request) *run {
	if req.ID == "" {
		req.ID = journal.NewID()
	}
	if req.ConfirmTimeout == 0 {
		req.ConfirmTimeout = e.confirmTimeout
	}
	if req.ConfirmTimeout < e.minConfirm {
		req.ConfirmTimeout = e.minConfirm
	}
	if req.Eliminate == nil && !req.KeepSource && req.Kind != Unplanned {
		for _, s := range req.Sources {
			if !contains(req.Destinations, s) {
				req.Eliminate = append(req.Eliminate, s)
			}
		}
	}
	if req.KeepSource || req.Kind == Unplanned {
		req.Eliminate = nil
	}
	r := &run{
		e:       e,
		req:     req,
		id:      req.ID,
		matcher: flow.NewMatcher(req.Endpoints...),
		drivers: make(map[string]device.Driver),
		caps:    make(map[string]*device.Capabilities),
		persist: make(map[string]string),
		state:   make(map[string]devState),
		rep: &Report{
			ID: req.ID, Kind: req.Kind, Requester: req.Requester, Endpoints: endpointStrings(req.Endpoints),
			Status: journal.Running, Sources: req.Sources, Destinations: req.Destinations, Eliminate: req.Eliminate,
			Started: e.now(), DryRun: req.DryRun,
		},
	}
	for _, d := range r.devices() {
		r.persist[d] = "sami-" + req.ID + "-" + d
	}
	return r
}

func (r *run) plan() planRecord {
	return planRecord{
		Kind: r.req.Kind, Endpoints: r.rep.Endpoints, Sources: r.req.Sources, Destinations: r.req.Destinations,
		Eliminate: r.req.Eliminate, Feeders: r.req.Feeders, Domains: r.req.Domains, AllowDomains: r.req.AllowDomains, Transforms: r.req.Transforms,
		Partial: r.req.Partial, Strip: r.req.StripUnsupported, KeepSource: r.req.KeepSource, HasCutover: r.req.Cutover != nil,
		ConfirmTimeout: r.req.ConfirmTimeout, Persist: r.persist,
	}
}

// finish closes the run: unlock, journal, audit, report.
func (r *run) finish(ctx context.Context, err error) (*Report, error) {
	defer r.closeDrivers()
	if errors.Is(err, ErrAbandoned) {
		r.rep.Finished = r.e.now()
		r.rep.Error = err.Error()
		return r.rep, err
	}
	// Cleanup must run even when the caller's context has ended.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err != nil && !r.req.DryRun && r.created {
		err = r.failed(cctx, err)
	}
	r.unlock(cctx)
	r.rep.Finished = r.e.now()
	if err != nil {
		r.rep.Error = err.Error()
	}
	if r.req.DryRun || !r.created {
		if err != nil && r.rep.Status == journal.Running {
			r.rep.Status = journal.Failed
		}
		return r.rep, err
	}
	if r.rep.Status != journal.Running {
		res, _ := json.Marshal(r.rep)
		if ferr := r.e.j.Finish(cctx, r.id, r.rep.Status, res, r.rep.Error); ferr != nil {
			r.e.log.Error("journal finish", "migration", r.id, "err", ferr)
		}
	}
	r.audit(cctx)
	return r.rep, err
}

func (r *run) audit(ctx context.Context) {
	a := journal.AuditRecord{
		Time: r.e.now(), MigrationID: r.id, Requester: r.req.Requester, Action: string(r.req.Kind),
		Endpoint: fmt.Sprint(r.rep.Endpoints), Sources: r.req.Sources, Destinations: r.req.Destinations,
		Sessions: r.rep.Sessions, SourceDigest: r.rep.SourceDigest, DestinationDigest: r.rep.DestinationDigest,
		Result: string(r.rep.Status), Error: r.rep.Error,
	}
	if err := r.e.j.Audit(ctx, a); err != nil {
		r.e.log.Error("audit", "migration", r.id, "err", err)
	}
}

// devices lists every device of the run, sorted, once.
func (r *run) devices() []string {
	all := slices.Concat(r.req.Sources, r.req.Destinations)
	return slices.Compact(slices.Sorted(slices.Values(all)))
}
