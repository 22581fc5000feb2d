package mapdriver

import (
	"context"
	"sync"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/mapping"
)

// Plugin is a read plugin that is a declarative mapping and nothing else
// (a vendor package holds its mapping.yaml and one Plugin value): the
// mapping parsed once, the driver opened with it, its registration.
type Plugin struct {
	Name        string   // driver and mapping name
	File        string   // the mapping's path in the repository (for messages)
	YAML        []byte   // the mapping as embedded
	Description string   // for the registry
	Features    []string // what Capabilities reports

	once sync.Once
	m    *mapping.Mapping
}

// Mapping returns the parsed mapping; an embedded mapping that does not
// parse is a build defect and panics.
func (p *Plugin) Mapping() *mapping.Mapping {
	p.once.Do(func() { p.m = mapping.MustParse(p.File, p.YAML) })
	return p.m
}

// Open connects to a device over NETCONF with the mapping
// (device.Config.Options: OptSkipInvalid).
func (p *Plugin) Open(ctx context.Context, cfg device.Config) (*Driver, error) {
	return Open(ctx, cfg, p.Mapping(), WithFeatures(p.Features...))
}

// Register adds the plugin's driver to r.
func (p *Plugin) Register(r *device.Registry) error {
	return r.Register(device.Info{
		Name:        p.Name,
		Description: p.Description,
		Factory:     func(ctx context.Context, cfg device.Config) (device.Driver, error) { return p.Open(ctx, cfg) },
	})
}
