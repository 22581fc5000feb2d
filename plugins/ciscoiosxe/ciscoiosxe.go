// Package ciscoiosxe is the cisco-iosxe-nat read plugin: the IOS XE NAT
// translation table (Cisco-IOS-XE-nat-oper /nat-data/ip-nat-translation),
// read over NETCONF with <get> and converted by the declarative mapping in
// mapping.yaml. It is a source for migrations: writes return
// device.ErrUnsupported. What it cannot carry (timers, counters, TCP
// state) is listed in the mapping's unsupported section.
package ciscoiosxe

import (
	"context"
	_ "embed"
	"sync"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/pkg/mapping/mapdriver"
)

// Name is the driver and mapping name.
const Name = "cisco-iosxe-nat"

//go:embed mapping.yaml
var mappingYAML []byte

// MappingFile is the mapping's path in the repository (for messages).
const MappingFile = "plugins/ciscoiosxe/mapping.yaml"

// Mapping is the cisco-iosxe-nat mapping, parsed once.
var Mapping = sync.OnceValue(func() *mapping.Mapping { return mapping.MustParse(MappingFile, mappingYAML) })

// MappingYAML returns the mapping file as embedded.
func MappingYAML() []byte { return append([]byte(nil), mappingYAML...) }

// Open connects to an IOS XE device over NETCONF (device.Config.Options:
// mapdriver.OptSkipInvalid).
func Open(ctx context.Context, cfg device.Config) (*mapdriver.Driver, error) {
	return mapdriver.Open(ctx, cfg, Mapping(), mapdriver.WithFeatures("nat", "zones"))
}

// Register adds the cisco-iosxe-nat driver to r.
func Register(r *device.Registry) error {
	return r.Register(device.Info{
		Name:        Name,
		Description: "Cisco IOS XE NAT translations (Cisco-IOS-XE-nat-oper), read-only",
		Factory:     func(ctx context.Context, cfg device.Config) (device.Driver, error) { return Open(ctx, cfg) },
	})
}
