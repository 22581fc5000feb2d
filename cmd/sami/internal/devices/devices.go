// Package devices is `sami devices`: the inventory's devices, configured
// and discovered, without connecting to them.
package devices

import (
	"fmt"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/spf13/cobra"
)

// New returns the devices command.
func New(a *app.App) *cobra.Command {
	return &cobra.Command{
		Use:   "devices",
		Short: "List the inventory's devices (driver, address, domain, location, role, discovered)",
		Example: `  sami devices -i inventory.yaml
  sami devices -o json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return app.Usage(fmt.Errorf("devices takes no arguments (got %q)", args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := render.FormatOf(a)
			if err != nil {
				return err
			}
			if _, err := a.Registry(); err != nil { // driver names checked by the inventory
				return err
			}
			inv, err := a.Inventory()
			if err != nil {
				return err
			}
			return render.Devices(a.Out, f, render.DevicesOf(inv))
		},
	}
}
