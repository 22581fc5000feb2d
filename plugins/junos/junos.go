// Package junos is the junos-srx read plugin: Junos SRX (junos-es) flow
// sessions, read over NETCONF with the RPC get-flow-session-information
// and converted by the declarative mapping in mapping.yaml (namespace per
// release, one flow-session-information block per FPC/PIC, chassis
// cluster wrappers, hex fields, NAT derived from the two wings). It is a
// source for migrations: writes return device.ErrUnsupported.
package junos

import (
	"context"
	_ "embed"
	"sync"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/pkg/mapping/mapdriver"
)

// Name is the driver and mapping name.
const Name = "junos-srx"

//go:embed mapping.yaml
var mappingYAML []byte

// MappingFile is the mapping's path in the repository (for messages).
const MappingFile = "plugins/junos/mapping.yaml"

// Mapping is the junos-srx mapping, parsed once.
var Mapping = sync.OnceValue(func() *mapping.Mapping { return mapping.MustParse(MappingFile, mappingYAML) })

// MappingYAML returns the mapping file as embedded.
func MappingYAML() []byte { return append([]byte(nil), mappingYAML...) }

// Open connects to a Junos SRX over NETCONF (device.Config.Options:
// mapdriver.OptSkipInvalid).
func Open(ctx context.Context, cfg device.Config) (*mapdriver.Driver, error) {
	return mapdriver.Open(ctx, cfg, Mapping(), mapdriver.WithFeatures("nat", "ipv6"))
}

// Register adds the junos-srx driver to r.
func Register(r *device.Registry) error {
	return r.Register(device.Info{
		Name:        Name,
		Description: "Junos SRX flow sessions (get-flow-session-information), read-only",
		Factory:     func(ctx context.Context, cfg device.Config) (device.Driver, error) { return Open(ctx, cfg) },
	})
}
