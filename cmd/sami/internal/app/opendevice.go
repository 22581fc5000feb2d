package app

import (
	"context"

	"github.com/sami-netops/sami/pkg/device"
)

// OpenDevice connects to a device of the inventory without the journal or
// the orchestrator: read-only verbs (caps, get) must work while another
// sami holds the journal (a replicate, the daemon).
func (a *App) OpenDevice(ctx context.Context, name string) (device.Driver, error) {
	reg, err := a.Registry()
	if err != nil {
		return nil, err
	}
	inv, err := a.Inventory()
	if err != nil {
		return nil, err
	}
	cfg, err := inv.DeviceConfig(name, a.Env)
	if err != nil {
		return nil, err
	}
	cfg.Logger = a.Logger().With("device", name)
	return reg.Open(ctx, cfg)
}
