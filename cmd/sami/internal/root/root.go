// Package root assembles the sami command from its verbs (one package per
// verb, as in gnmic) and maps errors to exit codes.
package root

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/spf13/cobra"
)

// New builds the root command over a.
func New(a *app.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sami",
		Short: "Move firewall and NAT flow state between middleboxes over NETCONF and gNMI",
		Long: `sami moves the flow state of a moving endpoint (a VM, a container, a failed-over
service) from the middleboxes on its old path to those on its new path, so its
long-lived connections survive: capability negotiation, confirmed commit, read-back
verification, elimination at the source, all journaled.`,
		Version:       app.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.LoadConfig()
		},
	}
	// A bad flag is the user's mistake: exit code 2, like every usage error.
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return app.Usage(err) })
	cmd.SetIn(a.In)
	cmd.SetOut(a.Out)
	cmd.SetErr(a.Err)
	f := cmd.PersistentFlags()
	f.String(app.KeyConfig, "", "config file (YAML; keys as the long flags; env SAMI_CONFIG)")
	f.StringP(app.KeyInventory, "i", "", "inventory file (env SAMI_INVENTORY)")
	f.String(app.KeyJournal, "", "journal file (env SAMI_JOURNAL; default ~/.local/state/sami/journal.db)")
	f.StringP(app.KeyOutput, "o", "table", "output format: table, json, yaml (xml where sessions are shown)")
	f.String(app.KeyLogLevel, "warn", "log level: debug, info, warn, error")
	f.String(app.KeyProgress, "auto", "progress bars: auto (on a terminal), always, never")
	for _, k := range []string{app.KeyConfig, app.KeyInventory, app.KeyJournal, app.KeyOutput, app.KeyLogLevel, app.KeyProgress} {
		if err := a.V.BindPFlag(k, f.Lookup(k)); err != nil {
			panic(err)
		}
	}
	for _, v := range verbs {
		cmd.AddCommand(v(a))
	}
	cmd.AddCommand(exitCodesHelp())
	return cmd
}

func exitCodesHelp() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "The exit codes of sami",
		Run: func(cmd *cobra.Command, _ []string) {
			for _, c := range app.ExitCodes {
				fmt.Fprintf(cmd.OutOrStdout(), "%d  %s\n", c.Code, c.Meaning)
			}
		},
	}
}

// Run executes sami with args and returns its exit code.
func Run(args []string, in io.Reader, out, errw io.Writer) int {
	a := app.New(in, out, errw)
	defer a.Close()
	cmd := New(a)
	cmd.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		// Interrupted: what failed is the interruption, not the device
		// whose call it cut short (a migration still open in the journal
		// keeps its own code).
		var ee *app.ExitError
		if !errors.As(err, &ee) {
			err = &app.ExitError{Code: app.ExitFailure, Err: fmt.Errorf("interrupted: %w", err)}
		}
	}
	if err != nil {
		fmt.Fprintf(errw, "sami: %v\n", err)
	}
	return app.ExitCode(err)
}
