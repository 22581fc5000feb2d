// Package orchestrator ties sami's parts together for the programs that
// drive migrations (the sami CLI and its daemon): the inventory and its path
// rules (package topology), the driver registry (package device), the
// engine and its journal (packages migrate and journal). A Trigger says what
// a VM manager or an operator knows, "this endpoint moved from here to
// there"; the orchestrator resolves it into the devices and feeds of a
// migrate.Request and runs it.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/topology"
)

// ErrNothingToMove: the new path needs no state (every box on it is also on
// the old path and keeps what it has).
var ErrNothingToMove = errors.New("orchestrator: nothing to move")

// Orchestrator resolves triggers and runs migrations. Safe for concurrent use.
type Orchestrator struct {
	mu     sync.RWMutex
	inv    *topology.Inventory
	dir    *topology.Directory
	reg    *device.Registry
	j      *journal.Journal
	engine *migrate.Engine
	env    func(string) string
	log    *slog.Logger
	// pinDir holds one known_hosts file per discovered agent (its
	// announced host key), so its driver verifies it like a configured one.
	pinDir string
}

// Option configures an Orchestrator.
type Option func(*config)

type config struct {
	log        *slog.Logger
	env        func(string) string
	dir        *topology.Directory
	engineOpts []migrate.Option
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithEnv sets how credentials named by environment variables are read
// (default os.Getenv).
func WithEnv(env func(string) string) Option { return func(c *config) { c.env = env } }

// WithDirectory adds the agents that announced themselves to the inventory
// (configured entries win).
func WithDirectory(d *topology.Directory) Option { return func(c *config) { c.dir = d } }

// WithEngineOptions passes options to the migration engine.
func WithEngineOptions(opts ...migrate.Option) Option {
	return func(c *config) { c.engineOpts = append(c.engineOpts, opts...) }
}

// New builds an orchestrator over an inventory, the drivers compiled in
// and a journal.
func New(inv *topology.Inventory, reg *device.Registry, j *journal.Journal, opts ...Option) (*Orchestrator, error) {
	c := config{log: slog.New(slog.DiscardHandler), env: os.Getenv}
	for _, o := range opts {
		o(&c)
	}
	if inv == nil || reg == nil || j == nil {
		return nil, errors.New("orchestrator: an inventory, a driver registry and a journal are required")
	}
	o := &Orchestrator{inv: inv, dir: c.dir, reg: reg, j: j, env: c.env, log: c.log}
	if c.dir != nil {
		d, err := os.MkdirTemp("", "sami-pinned-hosts-")
		if err != nil {
			return nil, fmt.Errorf("orchestrator: directory for pinned host keys: %w", err)
		}
		o.pinDir = d
	}
	e, err := migrate.New(o.Open, j, append([]migrate.Option{migrate.WithLogger(c.log)}, c.engineOpts...)...)
	if err != nil {
		return nil, err
	}
	o.engine = e
	return o, nil
}

// Engine is the migration engine (Recover, Resume, Replicate...).
func (o *Orchestrator) Engine() *migrate.Engine { return o.engine }

// Journal is the journal.
func (o *Orchestrator) Journal() *journal.Journal { return o.j }

// Registry is the driver registry.
func (o *Orchestrator) Registry() *device.Registry { return o.reg }

// Inventory is the configured inventory merged with the agents that
// announced themselves.
func (o *Orchestrator) Inventory() *topology.Inventory {
	o.mu.RLock()
	inv, dir := o.inv, o.dir
	o.mu.RUnlock()
	if dir == nil {
		return inv
	}
	merged, conflicts := inv.Merge(dir.Announcements())
	for _, c := range conflicts {
		o.log.Warn("discovered agent conflicts with the inventory (configured entry kept)", "conflict", c.String())
	}
	pinned, err := merged.PinHostKeys(o.pinDir)
	if err != nil {
		o.log.Error("pinning announced host keys", "err", err)
		return merged
	}
	return pinned
}

// Close removes the files the orchestrator wrote (pinned host keys).
func (o *Orchestrator) Close() error {
	if o.pinDir == "" {
		return nil
	}
	return os.RemoveAll(o.pinDir)
}

// SetInventory replaces the inventory (a reload); running migrations keep
// the devices they opened.
func (o *Orchestrator) SetInventory(inv *topology.Inventory) {
	o.mu.Lock()
	o.inv = inv
	o.mu.Unlock()
}

// Open connects to a device by inventory name (the engine's Opener).
func (o *Orchestrator) Open(ctx context.Context, name string) (device.Driver, error) {
	inv := o.Inventory()
	cfg, err := inv.DeviceConfig(name, o.env)
	if err != nil {
		return nil, err
	}
	cfg.Logger = o.log.With("device", name)
	return o.reg.Open(ctx, cfg)
}

// Trigger is a request to move an endpoint's state: what a VM manager knows
// (the endpoint, where it was attached and where it is now) plus how.
type Trigger struct {
	// ID names the migration; generated when empty.
	ID        string
	Requester string
	Kind      migrate.Kind
	Endpoints []flow.Endpoint
	// From and To are inventory locations.
	From, To         string
	Partial          bool
	StripUnsupported bool
	KeepSource       bool
	DryRun           bool
	ConfirmTimeout   time.Duration
	PreCopy          migrate.PreCopyOptions
	Cutover          func(context.Context) error
	Progress         func(migrate.Event)
}

// Plan resolves a trigger into the engine's request and the path change
// behind it.
func (o *Orchestrator) Plan(t Trigger) (migrate.Request, *topology.Move, error) {
	inv := o.Inventory()
	mv, err := inv.Resolve(t.From, t.To)
	if err != nil {
		return migrate.Request{}, nil, err
	}
	req := migrate.Request{
		ID: t.ID, Requester: t.Requester, Kind: t.Kind, Endpoints: t.Endpoints,
		Sources: mv.Sources, Destinations: mv.Destinations, Eliminate: mv.Eliminate,
		Domains: mv.Domains, Partial: t.Partial, StripUnsupported: t.StripUnsupported, KeepSource: t.KeepSource,
		DryRun: t.DryRun, ConfirmTimeout: t.ConfirmTimeout, PreCopy: t.PreCopy, Cutover: t.Cutover, Progress: t.Progress,
	}
	if req.Eliminate == nil {
		req.Eliminate = []string{}
	}
	// Each destination takes the state of the boxes it replaces on the
	// path (a NAT the old NAT's, a firewall the old firewall's).
	req.Feeders = make(map[string][]string)
	for _, dst := range mv.Destinations {
		if f := mv.Feeders(dst); len(f) > 0 {
			req.Feeders[dst] = f
		}
	}
	// Rules of the inventory that allow a crossing become the engine's.
	for _, c := range inv.CrossDomain(mv) {
		if c.Allowed {
			r := migrate.DomainRule{From: c.FromDomain, To: c.ToDomain}
			if !slices.Contains(req.AllowDomains, r) {
				req.AllowDomains = append(req.AllowDomains, r)
			}
		}
	}
	if len(req.Destinations) == 0 {
		return req, mv, fmt.Errorf("%w: %s -> %s: every box on the new path is on the old one and keeps its state", ErrNothingToMove, t.From, t.To)
	}
	return req, mv, nil
}

// Migrate resolves and runs a trigger.
func (o *Orchestrator) Migrate(ctx context.Context, t Trigger) (*migrate.Report, *topology.Move, error) {
	req, mv, err := o.Plan(t)
	if err != nil {
		return nil, mv, err
	}
	rep, err := o.engine.Migrate(ctx, req)
	return rep, mv, err
}
