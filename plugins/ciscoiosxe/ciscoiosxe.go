// Package ciscoiosxe is the cisco-iosxe-nat read plugin: the IOS XE NAT
// translation table (Cisco-IOS-XE-nat-oper /nat-data/ip-nat-translation),
// read over NETCONF with <get> and converted by the declarative mapping in
// mapping.yaml. It is a source for migrations: writes return
// device.ErrUnsupported. What it cannot carry (timers, counters, TCP
// state) is listed in the mapping's unsupported section.
package ciscoiosxe

import (
	_ "embed"

	"github.com/sami-netops/sami/pkg/mapping/mapdriver"
)

// Name is the driver and mapping name.
const Name = "cisco-iosxe-nat"

//go:embed mapping.yaml
var mappingYAML []byte

var plugin = &mapdriver.Plugin{
	Name: Name, File: "plugins/ciscoiosxe/mapping.yaml", YAML: mappingYAML,
	Description: "Cisco IOS XE NAT translations (Cisco-IOS-XE-nat-oper), read-only",
	Features:    []string{"nat", "zones"},
}

var (
	// Mapping is the cisco-iosxe-nat mapping, parsed once.
	Mapping = plugin.Mapping
	// Open connects to an IOS XE device over NETCONF (device.Config.Options:
	// mapdriver.OptSkipInvalid).
	Open = plugin.Open
	// Register adds the cisco-iosxe-nat driver to a registry.
	Register = plugin.Register
)
