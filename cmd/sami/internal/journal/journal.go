// Package journal is `sami journal`: the migrations the journal holds
// (list, show), and the operator's hand on the unfinished ones (resume,
// rollback).
package journal

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/spf13/cobra"
)

// New returns the journal command.
func New(a *app.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "List and show journaled migrations; resume or roll back unfinished ones",
		Args: func(_ *cobra.Command, args []string) error {
			return app.Usage(fmt.Errorf("journal needs a subcommand: list, show, resume or rollback (got %q)", args))
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	cmd.AddCommand(list(a), show(a), act(a, "resume", "Finish an unfinished migration (roll forward or back as the journal says)"),
		act(a, "rollback", "Undo an unfinished migration whose destinations have not confirmed"))
	return cmd
}

func oneID(verb string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return app.Usage(fmt.Errorf("journal %s needs exactly one migration ID (got %d arguments; sami journal list shows them)", verb, len(args)))
		}
		return nil
	}
}

var statuses = []journal.Status{journal.Running, journal.Done, journal.RolledBack, journal.Failed}

func list(a *app.App) *cobra.Command {
	var status []string
	var limit int
	var since time.Duration
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List migrations, newest first",
		Example: "  sami journal list --status running\n  sami journal list --since 24h -o json",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return app.Usage(fmt.Errorf("journal list takes no arguments (got %q)", args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := render.FormatOf(a)
			if err != nil {
				return err
			}
			var filt journal.Filter
			for _, s := range status {
				st := journal.Status(s)
				if !slices.Contains(statuses, st) {
					return app.Usage(fmt.Errorf("--status %q: use running, done, rolled-back or failed", s))
				}
				filt.Status = append(filt.Status, st)
			}
			if limit < 0 {
				return app.Usage(fmt.Errorf("--limit %d: must not be negative", limit))
			}
			filt.Limit = limit
			if since > 0 {
				filt.Since = time.Now().Add(-since)
			}
			j, err := a.Journal()
			if err != nil {
				return err
			}
			rs, err := j.List(cmd.Context(), filt)
			if werr := render.Records(a.Out, f, rs); werr != nil {
				return werr
			}
			return err // corrupt records are reported after the good ones
		},
	}
	cmd.Flags().StringSliceVar(&status, "status", nil, "only these statuses: running, done, rolled-back, failed")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many (the newest); 0: all")
	cmd.Flags().DurationVar(&since, "since", 0, "only those created within this duration")
	return cmd
}

func show(a *app.App) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a migration: its report and every journaled step",
		Args:  oneID("show"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := render.FormatOf(a)
			if err != nil {
				return err
			}
			j, err := a.Journal()
			if err != nil {
				return err
			}
			r, err := j.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return render.Record(a.Out, f, r)
		},
	}
}

func act(a *app.App, verb, short string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  oneID(verb),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := render.FormatOf(a)
			if err != nil {
				return err
			}
			o, err := a.Orchestrator()
			if err != nil {
				return err
			}
			// Check the id first: the engine's error for an unknown one
			// should read as the operator's mistake it is.
			if _, err := o.Journal().Get(cmd.Context(), args[0]); err != nil {
				return err
			}
			e := o.Engine()
			var rep *migrate.Report
			if verb == "resume" {
				rep, err = e.Resume(cmd.Context(), args[0])
			} else {
				rep, err = e.Rollback(cmd.Context(), args[0])
			}
			if rep != nil {
				if werr := render.Report(a.Out, f, rep); werr != nil {
					return errors.Join(err, werr)
				}
			}
			if errors.Is(err, journal.ErrFinished) {
				return app.Usage(err) // nothing left to resume or roll back
			}
			if err != nil && rep != nil && rep.Status == journal.Running {
				return &app.ExitError{Code: app.ExitUnfinished, Err: err}
			}
			return err
		},
	}
}
