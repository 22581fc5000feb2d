// Package demo is `sami demo`: a self-contained migration on loopback, with
// no root and no setup. Two simulated firewalls (package simfw, different
// personalities) are served by real sami agents (package sandbox: NETCONF
// over SSH, gNMI over TLS, generated keys); fwA holds a VM's sessions and
// other endpoints'; the VM's traffic keeps touching its sessions while the
// real orchestrator, driven by an inventory the sandbox wrote, moves the VM
// from rack-a to rack-b. Then the demo checks, field by field, that every
// session of the VM is at fwB and none at fwA, and that everything else
// stayed.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/progress"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/sandbox"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/spf13/cobra"
)

// Limits of the flags: the demo must stay a demo.
const (
	maxSessions = 200_000
	maxRate     = 1_000_000
)

type options struct {
	sessions, others, rate int
	capacity               uint64
	precopy, planned, keep bool
}

// New returns the demo command.
func New(a *app.App) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Migrate a VM's flow state between two simulated firewalls on loopback (no root, no setup)",
		Long: `sami demo starts two simulated firewalls in-process, each behind a real sami agent
(NETCONF over SSH, gNMI over TLS, generated keys) on 127.0.0.1: fwA (personality
sami-sim) at location rack-a and fwB (ipv4-only) at rack-b, in one domain. fwA holds
the sessions of VM 10.1.0.5 (TCP with window tracking, UDP, source-NATed flows) and of
other endpoints. While the VM's traffic keeps touching its sessions, the orchestrator
moves the VM from rack-a to rack-b (pre-copy by default, --planned for the plain
transaction) with live progress, prints the summary (phase timings, digests, blackout)
and checks that fwA holds none of the VM's sessions and all of the others, and that
fwB holds every session of the VM, field by field (exit 0 only then).`,
		Example: `  sami demo
  sami demo --sessions 500 --planned
  sami demo -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.planned && cmd.Flags().Changed("precopy") && o.precopy {
				return app.Usage(errors.New("--precopy and --planned: choose one"))
			}
			return run(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.sessions, "sessions", 3000, "sessions of the VM at fwA")
	f.IntVar(&o.others, "others", -1, "sessions of other endpoints at fwA, which must stay (default: half of --sessions)")
	f.BoolVar(&o.precopy, "precopy", true, "pre-copy: copy while the traffic flows, then a short freeze (the default)")
	f.BoolVar(&o.planned, "planned", false, "the plain transaction: the VM is frozen for the whole migration")
	f.IntVar(&o.rate, "rate", 2000, "the VM's traffic, in session touches per second")
	f.Uint64Var(&o.capacity, "capacity", simfw.Vendors()["ipv4-only"].MaxSessions, "fwB's session table size (a VM with more sessions is refused before anything is written)")
	f.BoolVar(&o.keep, "keep", false, "keep the demo's directory (inventory, journal, keys) and print where it is")
	return cmd
}

func (o options) check() error {
	switch {
	case o.sessions < 1 || o.sessions > maxSessions:
		return app.Usage(fmt.Errorf("--sessions %d: give 1 to %d", o.sessions, maxSessions))
	case o.others > maxSessions:
		return app.Usage(fmt.Errorf("--others %d: give 0 to %d", o.others, maxSessions))
	case o.rate < 0 || o.rate > maxRate:
		return app.Usage(fmt.Errorf("--rate %d: give 0 to %d touches per second", o.rate, maxRate))
	case o.capacity < 1:
		return app.Usage(errors.New("--capacity 0: fwB needs room for at least one session"))
	}
	return nil
}

// result is the demo's outcome as data (-o json, -o yaml).
type result struct {
	Report  *migrate.Report `json:"report"`
	Checks  []render.Check  `json:"checks"`
	Traffic trafficReport   `json:"traffic"`
	Passed  bool            `json:"passed"`
}

type trafficReport struct {
	Rate int `json:"rate"`
	// Frozen is how long the VM sent nothing: from the cutover (pre-copy)
	// or the start (planned) until the migration returned.
	Frozen     time.Duration `json:"frozen"`
	TouchesAtA int           `json:"touches-at-fwA"`
	TouchesAtB int           `json:"touches-at-fwB"`
	MissesAtB  int           `json:"misses-at-fwB"`
}

func run(ctx context.Context, a *app.App, o options) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.others < 0 {
		o.others = o.sessions / 2
	}
	format, err := render.FormatOf(a)
	if err != nil {
		return err
	}
	// People read the narration with the table; programs get clean data.
	say := a.Out
	if format != render.Table {
		say = a.Err
	}
	dir, err := os.MkdirTemp("", "sami-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if o.keep {
		defer fmt.Fprintf(say, "\nkept %s (inventory.yaml, journal.db, agents/: keys, known_hosts, certificates); the agents stopped with the demo\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	l, err := startLab(ctx, a, dir, o)
	if err != nil {
		return err
	}
	defer l.sb.Close()
	l.describe(say, o)

	kind, mode := migrate.PreCopy, "pre-copy: copied while the traffic flows, then a short freeze"
	if o.planned {
		kind, mode = migrate.Planned, "planned: the VM is frozen, then one transaction"
	}
	fmt.Fprintf(say, "\nmigrating VM %s from rack-a to rack-b (%s)\n\n", vmAddr, mode)

	tr := startTraffic(ctx, l.fwA, l.vmIDs, o.rate)
	defer tr.Stop()
	time.Sleep(100 * time.Millisecond) // the VM is busy before the move starts
	var atCutover []*flow.Session
	var frozeAt time.Time
	freeze := func() {
		tr.Pause()
		frozeAt = time.Now()
		atCutover = l.vm(l.fwA.Snapshot())
	}
	beforeAt := time.Now() // before the read: the timers' tolerance errs wide
	before := l.notVM(l.fwA.Snapshot())
	if o.planned {
		freeze()
	}
	pr := progress.New(a)
	rep, _, err := l.orch.Migrate(ctx, orchestrator.Trigger{
		Requester: "sami demo", Kind: kind, Endpoints: []flow.Endpoint{{Address: vmAddr}},
		From: "rack-a", To: "rack-b", Progress: pr.Event,
		Cutover: func(context.Context) error {
			if !o.planned {
				freeze()
			}
			return nil
		},
	})
	pr.Wait()
	frozen := time.Since(frozeAt)
	if err != nil {
		if rep != nil && format == render.Table {
			render.Report(a.Out, format, rep)
		}
		return fmt.Errorf("demo: the migration failed: %w", err)
	}
	res := result{Report: rep, Checks: l.checks(rep, before, beforeAt, atCutover, frozeAt)}
	// The VM runs at rack-b now: its traffic must find its state at fwB.
	tr.Resume(l.fwB)
	time.Sleep(200 * time.Millisecond)
	tr.Pause()
	res.Traffic = l.trafficReport(tr, o.rate, frozen)
	res.Checks = append(res.Checks, trafficCheck(res.Traffic))
	res.Passed = passed(res.Checks)
	if err := l.write(a.Out, say, format, res); err != nil {
		return err
	}
	if !res.Passed {
		return &app.ExitError{Code: app.ExitFailure, Err: fmt.Errorf("demo: %d check(s) failed", failed(res.Checks))}
	}
	return nil
}

// lab is the demo's two firewalls and the orchestrator over them.
type lab struct {
	sb           *sandbox.Sandbox
	agA, agB     *sandbox.Agent
	fwA, fwB     *simfw.Firewall
	pA, pB       simfw.Personality
	orch         *orchestrator.Orchestrator
	vmIDs        []string
	match        *flow.Matcher
	invPath      string
	vmCount, oth int
}

func startLab(ctx context.Context, a *app.App, dir string, o options) (l *lab, err error) {
	l = &lab{pA: simfw.Vendors()["sami-sim"], pB: simfw.Vendors()["ipv4-only"], match: flow.NewMatcher(flow.Endpoint{Address: vmAddr})}
	l.pB.MaxSessions = o.capacity
	if l.sb, err = sandbox.New(sandbox.WithDir(filepath.Join(dir, "agents")), sandbox.WithSandboxLogger(a.Logger())); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.sb.Close()
		}
	}()
	if l.agA, l.fwA, err = l.sb.StartSim(ctx, "fwA", l.pA); err != nil {
		return nil, err
	}
	if l.agB, l.fwB, err = l.sb.StartSim(ctx, "fwB", l.pB); err != nil {
		return nil, err
	}
	l.invPath = filepath.Join(dir, "inventory.yaml")
	if err := sandbox.WriteInventoryFile(l.invPath, Inventory(l.agA, l.agB)); err != nil {
		return nil, err
	}
	reg, err := a.Registry()
	if err != nil {
		return nil, err
	}
	inv, err := topology.LoadFile(l.invPath, topology.WithDrivers(reg.Names()...))
	if err != nil {
		return nil, err
	}
	a.SetInventory(inv)
	a.V.Set(app.KeyJournal, filepath.Join(dir, "journal.db"))
	if l.orch, err = a.Orchestrator(); err != nil {
		return nil, err
	}
	vm := vmSessions(vmAddr.String(), o.sessions)
	others := otherSessions(o.others)
	for _, s := range vm {
		l.vmIDs = append(l.vmIDs, s.GetId())
	}
	if err := l.fwA.Upsert(ctx, append(vm, others...)); err != nil {
		return nil, fmt.Errorf("demo: filling fwA: %w", err)
	}
	l.vmCount, l.oth = len(vm), len(others)
	return l, nil
}

// Inventory is the demo's inventory over its two agents (examples/demo
// shows it with comments).
func Inventory(fwA, fwB *sandbox.Agent) sandbox.Inventory {
	return sandbox.Inventory{
		Comment: "sami demo: two simulated firewalls on loopback, one per rack, in domain dc.",
		Devices: []sandbox.Device{
			{Agent: fwA, Domain: "dc", Location: "rack-a", Role: "firewall"},
			{Agent: fwB, Domain: "dc", Location: "rack-b", Role: "firewall"},
		},
		Locations: []sandbox.Location{
			{Name: "rack-a", Domain: "dc", Ingress: []string{"fwA"}, Egress: []string{"fwA"}},
			{Name: "rack-b", Domain: "dc", Ingress: []string{"fwB"}, Egress: []string{"fwB"}},
		},
	}
}

func (l *lab) describe(w io.Writer, o options) {
	fmt.Fprintf(w, "sami demo: two simulated firewalls behind sami agents on loopback (NETCONF/SSH, gNMI/TLS)\n\n")
	fmt.Fprintf(w, "  fwA  %-9s  rack-a  netconf %s  gnmi %s\n", "sami-sim", l.agA.Addr, l.agA.GNMIAddr)
	fmt.Fprintf(w, "       holds %d sessions of VM %s (TCP with window tracking, TCP and UDP behind source NAT, UDP)\n", l.vmCount, vmAddr)
	fmt.Fprintf(w, "       and %d sessions of %d other endpoints, which must stay\n", l.oth, len(otherAddrs))
	fmt.Fprintf(w, "  fwB  %-9s  rack-b  netconf %s  gnmi %s\n", "ipv4-only", l.agB.Addr, l.agB.GNMIAddr)
	fmt.Fprintf(w, "       empty, room for %d sessions\n", l.pB.MaxSessions)
	fmt.Fprintf(w, "\ninventory %s; the VM's traffic touches its sessions %d times a second\n", l.invPath, o.rate)
}

// vm returns the VM's sessions among ss.
func (l *lab) vm(ss []*flow.Session) []*flow.Session {
	var out []*flow.Session
	for _, s := range ss {
		if l.match.Match(s) {
			out = append(out, s)
		}
	}
	return out
}

func (l *lab) notVM(ss []*flow.Session) []*flow.Session {
	var out []*flow.Session
	for _, s := range ss {
		if !l.match.Match(s) {
			out = append(out, s)
		}
	}
	return out
}

func (l *lab) write(out, say io.Writer, f render.Format, res result) error {
	if f != render.Table {
		return render.Value(out, f, res)
	}
	fmt.Fprintln(out)
	if err := render.Report(out, f, res.Report); err != nil {
		return err
	}
	t := res.Traffic
	fmt.Fprintf(say, "\nVM frozen for %s (no traffic from the %s until the migration returned)\n", render.Duration(t.Frozen),
		map[bool]string{true: "start", false: "cutover"}[res.Report.Kind == migrate.Planned])
	fmt.Fprintln(out)
	if err := render.Checks(out, f, res.Checks); err != nil {
		return err
	}
	if res.Passed {
		fmt.Fprintf(out, "\ndemo passed: %d sessions of VM %s moved from fwA to fwB, field by field; the others stayed\n", res.Report.Sessions, vmAddr)
	} else {
		fmt.Fprintf(out, "\ndemo FAILED: %d check(s) failed\n", failed(res.Checks))
	}
	return nil
}
