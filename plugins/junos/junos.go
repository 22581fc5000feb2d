// Package junos is the junos-srx read plugin: Junos SRX (junos-es) flow
// sessions, read over NETCONF with the RPC get-flow-session-information
// and converted by the declarative mapping in mapping.yaml (namespace per
// release, one flow-session-information block per FPC/PIC, chassis
// cluster wrappers, hex fields, NAT derived from the two wings). It is a
// source for migrations: writes return device.ErrUnsupported.
package junos

import (
	_ "embed"

	"github.com/sami-netops/sami/pkg/mapping/mapdriver"
)

// Name is the driver and mapping name.
const Name = "junos-srx"

//go:embed mapping.yaml
var mappingYAML []byte

var plugin = &mapdriver.Plugin{
	Name: Name, File: "plugins/junos/mapping.yaml", YAML: mappingYAML,
	Description: "Junos SRX flow sessions (get-flow-session-information), read-only",
	Features:    []string{"nat", "ipv6"},
}

var (
	// Mapping is the junos-srx mapping, parsed once.
	Mapping = plugin.Mapping
	// Open connects to a Junos SRX over NETCONF (device.Config.Options:
	// mapdriver.OptSkipInvalid).
	Open = plugin.Open
	// Register adds the junos-srx driver to a registry.
	Register = plugin.Register
)
