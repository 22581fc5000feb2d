// Package caps is `sami caps DEVICE`: a device's live capabilities (table
// size and use, features, protocols, domain, what sami can do with it).
package caps

import (
	"fmt"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/spf13/cobra"
)

// New returns the caps command.
func New(a *app.App) *cobra.Command {
	return &cobra.Command{
		Use:     "caps DEVICE",
		Short:   "Show a device's live capabilities",
		Example: `  sami caps fw1`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return app.Usage(fmt.Errorf("caps needs exactly one DEVICE (got %d arguments)", len(args)))
			}
			return nil
		},
		ValidArgsFunction: DeviceNames(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := render.FormatOf(a)
			if err != nil {
				return err
			}
			d, err := a.OpenDevice(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer closeQuietly(a, d)
			c, err := d.Capabilities(cmd.Context())
			if err != nil {
				return err
			}
			return render.WriteCapabilities(a.Out, f, render.CapabilitiesOf(args[0], c))
		},
	}
}

// closeQuietly closes a driver whose work is done: a failure to hang up
// changes nothing of what was read, so it is logged, not returned.
func closeQuietly(a *app.App, d device.Driver) {
	if err := d.Close(); err != nil {
		a.Logger().Debug("closing the device", "device", d.Name(), "err", err)
	}
}

// DeviceNames completes device names from the inventory.
func DeviceNames(a *app.App) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		if _, err := a.Registry(); err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		inv, err := a.Inventory()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, d := range inv.Devices() {
			names = append(names, d.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
