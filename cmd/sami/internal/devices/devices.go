// Package devices is `sami devices`: the inventory's devices, configured
// and discovered; with --check, each one connected to and its table read.
package devices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/spf13/cobra"
)

// checkParallel bounds the devices connected to at once by --check.
const checkParallel = 8

// New returns the devices command.
func New(a *app.App) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the inventory's devices (driver, address, domain, location, role, discovered); --check connects to each",
		Long: `List the inventory's devices without connecting to them.

With --check every device is connected to (8 at a time, each within its
inventory timeout) and its capabilities read: the table gains STATUS (ok,
unreachable, auth, config, failed), SESSIONS, FREE, WRITABLE and TIME. The
command then exits 1 when a device failed its check, naming each failure.`,
		Example: `  sami devices -i inventory.yaml
  sami devices -o json
  sami devices --check`,
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
			ds := render.DevicesOf(inv)
			if !check {
				return render.Devices(a.Out, f, ds)
			}
			failed := checkAll(cmd.Context(), a, ds)
			if err := render.Devices(a.Out, f, ds); err != nil {
				return err
			}
			if len(failed) > 0 {
				return &app.ExitError{Code: app.ExitFailure,
					Err: fmt.Errorf("%d of %d devices failed the check:\n  %s", len(failed), len(ds), strings.Join(failed, "\n  "))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "connect to every device and read its capabilities (exit 1 if one fails)")
	return cmd
}

// checkAll fills in ds[i].Check and returns the failures, "name: error",
// in the inventory's order.
func checkAll(ctx context.Context, a *app.App, ds []render.Device) []string {
	sem := make(chan struct{}, checkParallel)
	var wg sync.WaitGroup
	for i := range ds {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ds[i].Check = checkOne(ctx, a, ds[i].Name)
		})
	}
	wg.Wait()
	var failed []string
	for _, d := range ds {
		if d.Check.Status != "ok" {
			failed = append(failed, d.Name+": "+d.Check.Error)
		}
	}
	return failed
}

func checkOne(ctx context.Context, a *app.App, name string) *render.DeviceCheck {
	t0 := time.Now()
	c, err := capabilities(ctx, a, name)
	out := &render.DeviceCheck{Millis: time.Since(t0).Milliseconds()}
	if err != nil {
		out.Status, out.Error = status(err), err.Error()
		return out
	}
	out.Status, out.Sessions, out.Writable, out.Watch = "ok", c.Active, c.Writable, c.Watch
	if f, ok := c.Free(); ok {
		out.Free = &f
	}
	return out
}

func capabilities(ctx context.Context, a *app.App, name string) (*device.Capabilities, error) {
	d, err := a.OpenDevice(ctx, name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := d.Close(); err != nil {
			a.Logger().Debug("closing the device", "device", name, "err", err)
		}
	}()
	return d.Capabilities(ctx)
}

// status names the class of a failed check, as the exit codes do.
func status(err error) string {
	switch {
	case errors.Is(err, device.ErrUnreachable):
		return "unreachable"
	case errors.Is(err, device.ErrAuth):
		return "auth"
	case app.ExitCode(err) == app.ExitUsage:
		return "config"
	}
	return "failed"
}
