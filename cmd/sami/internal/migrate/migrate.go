// Package migrate is `sami migrate`: move an endpoint's flow state from
// the middleboxes of its old location to those of its new one, with a
// progress display and the final report; --dry-run shows the plan (boxes,
// sessions, capacity, domains, what would be written) and writes nothing.
package migrate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/get"
	"github.com/sami-netops/sami/cmd/sami/internal/progress"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/spf13/cobra"
)

// ErrNotConfirmed: the operator answered no at the prompt.
var ErrNotConfirmed = errors.New("not confirmed: nothing was written")

type flags struct {
	endpoints                  []string
	from, to                   string
	dryRun, precopy, unplanned bool
	partial, strip, keepSource bool
	yes                        bool
	confirmTimeout             time.Duration
	requester                  string
}

// New returns the migrate command.
func New(a *app.App) *cobra.Command {
	var fl flags
	cmd := &cobra.Command{
		Use:   "migrate --endpoint E --from LOCATION --to LOCATION",
		Short: "Move an endpoint's flow state from its old path's middleboxes to its new path's",
		Long: `migrate moves the sessions of an endpoint (a VM's address, its owner id or both)
from the devices on the path of its old location to those on the path of its new
one: capability negotiation, locks, snapshot, confirmed commit, read-back digest,
confirm, elimination at the sources, all journaled. --dry-run shows the plan and
writes nothing. Without --yes, on a terminal, the plan is shown and confirmed;
elsewhere --yes is required.`,
		Example: `  sami migrate --endpoint 10.1.0.5 --from s1 --to s2 --dry-run
  sami migrate --endpoint 10.1.0.5 --from s1 --to s2 --yes
  sami migrate --endpoint 'id:vm-42' --from s1 --to s2 --precopy --yes
  sami migrate --endpoint 10.1.0.5 --from s1 --to s2 --unplanned --yes`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return app.Usage(fmt.Errorf("migrate takes flags only (got %q): give --endpoint, --from and --to", args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd, a, &fl) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&fl.endpoints, "endpoint", "e", nil, "the endpoint whose state moves: ADDR, id:NAME or ADDR|NAME (repeatable)")
	f.StringVar(&fl.from, "from", "", "the inventory location the endpoint leaves")
	f.StringVar(&fl.to, "to", "", "the inventory location the endpoint moves to")
	f.BoolVar(&fl.dryRun, "dry-run", false, "show the plan (boxes, sessions, capacity, domains, writes) and write nothing")
	f.BoolVar(&fl.precopy, "precopy", false, "copy while traffic flows, then freeze briefly (pre-copy)")
	f.BoolVar(&fl.unplanned, "unplanned", false, "the source is gone: install its last replicated checkpoint (see sami replicate)")
	f.BoolVar(&fl.partial, "partial", false, "move what fits and leave the rest at the source instead of refusing")
	f.BoolVar(&fl.strip, "strip-unsupported", false, "drop data a destination cannot hold instead of refusing (the report lists it)")
	f.BoolVar(&fl.keepSource, "keep-source", false, "copy without removing the sessions at the sources")
	f.DurationVar(&fl.confirmTimeout, "confirm-timeout", 0, "the devices' confirmed-commit timeout (default 2m0s)")
	f.BoolVarP(&fl.yes, "yes", "y", false, "do not ask for confirmation")
	f.StringVar(&fl.requester, "requester", "", "who asks, for the audit log (default cli:$USER)")
	return cmd
}

func (fl *flags) trigger(a *app.App) (orchestrator.Trigger, error) {
	var t orchestrator.Trigger
	var missing []string
	if len(fl.endpoints) == 0 {
		missing = append(missing, "--endpoint")
	}
	if fl.from == "" {
		missing = append(missing, "--from")
	}
	if fl.to == "" {
		missing = append(missing, "--to")
	}
	if len(missing) > 0 {
		return t, app.Usage(fmt.Errorf("migrate needs %s", strings.Join(missing, ", ")))
	}
	if fl.precopy && fl.unplanned {
		return t, app.Usage(errors.New("--precopy and --unplanned exclude each other (pre-copy needs a live source)"))
	}
	if fl.confirmTimeout < 0 {
		return t, app.Usage(fmt.Errorf("--confirm-timeout %s: must be positive", fl.confirmTimeout))
	}
	eps, err := get.Endpoints(fl.endpoints)
	if err != nil {
		return t, err
	}
	kind := migrate.Planned
	switch {
	case fl.precopy:
		kind = migrate.PreCopy
	case fl.unplanned:
		kind = migrate.Unplanned
	}
	req := fl.requester
	if req == "" {
		req = "cli:" + a.Env("USER")
	}
	return orchestrator.Trigger{
		Requester: req, Kind: kind, Endpoints: eps, From: fl.from, To: fl.to,
		Partial: fl.partial, StripUnsupported: fl.strip, KeepSource: fl.keepSource,
		ConfirmTimeout: fl.confirmTimeout,
	}, nil
}

func run(cmd *cobra.Command, a *app.App, fl *flags) error {
	ctx := cmd.Context()
	f, err := render.FormatOf(a)
	if err != nil {
		return err
	}
	t, err := fl.trigger(a)
	if err != nil {
		return err
	}
	interactive := isTerminal(a, a.In) && a.IsTerminal(a.Err)
	if !fl.dryRun && !fl.yes && !interactive {
		return app.Usage(errors.New("refusing to migrate without confirmation: not a terminal; pass --yes (or --dry-run to see the plan)"))
	}
	o, err := a.Orchestrator()
	if err != nil {
		return err
	}
	if fl.dryRun || !fl.yes {
		pf := f
		if !fl.dryRun {
			pf = render.Table // the question is for a person
		}
		plan, err := Plan(ctx, o, t, fl.endpoints)
		if plan != nil {
			if werr := render.WritePlan(a.Out, pf, plan); werr != nil {
				return werr
			}
		}
		if err != nil || fl.dryRun {
			return err
		}
		ok, err := ask(a, "Migrate? [y/N] ")
		if err != nil {
			return err
		}
		if !ok {
			return &app.ExitError{Code: app.ExitFailure, Err: ErrNotConfirmed}
		}
	}
	p := progress.New(a)
	t.Progress = p.Event
	rep, _, err := o.Migrate(ctx, t)
	p.Wait()
	if rep != nil {
		if werr := render.Report(a.Out, f, rep); werr != nil {
			return werr
		}
	}
	if err != nil && rep != nil && rep.Status == journal.Running {
		return &app.ExitError{Code: app.ExitUnfinished, Err: fmt.Errorf("%w; the migration is unfinished: sami journal resume %s", err, rep.ID)}
	}
	return err
}

func ask(a *app.App, q string) (bool, error) {
	fmt.Fprint(a.Err, q)
	line, err := bufio.NewReader(a.In).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// isTerminal: a.IsTerminal takes a writer; stdin is an *os.File, which is
// one too.
func isTerminal(a *app.App, r io.Reader) bool {
	w, ok := r.(io.Writer)
	return ok && a.IsTerminal(w)
}
