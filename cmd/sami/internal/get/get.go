// Package get is `sami get`: read state from a device. `sami get sessions
// DEVICE` shows its sessions (all, or an endpoint's) as a table or in the
// model's JSON, YAML or XML.
package get

import (
	"fmt"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/caps"
	"github.com/sami-netops/sami/cmd/sami/internal/progress"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/spf13/cobra"
)

// New returns the get command.
func New(a *app.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Read state from a device",
		Args: func(_ *cobra.Command, args []string) error {
			return app.Usage(fmt.Errorf("get needs what to get: sessions (got %q)", args))
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	cmd.AddCommand(sessions(a))
	return cmd
}

func sessions(a *app.App) *cobra.Command {
	var endpoints []string
	cmd := &cobra.Command{
		Use:   "sessions DEVICE",
		Short: "Show a device's sessions (all, or those of endpoints)",
		Example: `  sami get sessions fw1
  sami get sessions fw1 --endpoint 10.1.0.5 -o json
  sami get sessions fw1 --endpoint id:vm-42 -o xml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return app.Usage(fmt.Errorf("get sessions needs exactly one DEVICE (got %d arguments)", len(args)))
			}
			return nil
		},
		ValidArgsFunction: caps.DeviceNames(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := render.FormatOf(a, render.SessionFormats...)
			if err != nil {
				return err
			}
			m, err := Matcher(endpoints)
			if err != nil {
				return err
			}
			d, err := a.OpenDevice(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer d.Close()
			p := progress.New(a)
			task := p.Task("read "+args[0], 0)
			var ss []*flow.Session
			err = d.Read(cmd.Context(), m, func(s *flow.Session) error {
				ss = append(ss, s)
				if len(ss)%1000 == 0 {
					task.Set(len(ss), 0)
				}
				return nil
			})
			task.Set(len(ss), len(ss))
			task.Done()
			p.Wait()
			if err != nil {
				return fmt.Errorf("reading the sessions of %s: %w", args[0], err)
			}
			return render.Sessions(a.Out, f, ss)
		},
	}
	cmd.Flags().StringArrayVarP(&endpoints, "endpoint", "e", nil, "only the sessions of this endpoint: ADDR, id:NAME or ADDR|NAME (repeatable)")
	return cmd
}

// Matcher parses --endpoint values (none: nil, every session).
func Matcher(values []string) (*flow.Matcher, error) {
	eps, err := Endpoints(values)
	if err != nil || len(eps) == 0 {
		return nil, err
	}
	return flow.NewMatcher(eps...), nil
}

// Endpoints parses --endpoint values; a bad one is a usage error naming it.
func Endpoints(values []string) ([]flow.Endpoint, error) {
	var out []flow.Endpoint
	for _, v := range values {
		e, err := migrate.ParseEndpoint(v)
		if err != nil {
			return nil, app.Usage(fmt.Errorf("--endpoint %q: %w", v, err))
		}
		out = append(out, e)
	}
	return out, nil
}
