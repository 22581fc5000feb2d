// Package plugins registers every device driver compiled into sami. The
// list is explicit, so what a binary can talk to is visible here.
package plugins

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/plugins/ciscoiosxe"
	"github.com/sami-netops/sami/plugins/ietfnat"
	"github.com/sami-netops/sami/plugins/junos"
	"github.com/sami-netops/sami/plugins/sami"
	"github.com/sami-netops/sami/plugins/samiid"
)

// registrations are the drivers, one line each.
var registrations = []func(*device.Registry) error{
	sami.Register,
	ietfnat.Register,
	junos.Register,
	ciscoiosxe.Register,
}

// Register adds every plugin's driver to r.
func Register(r *device.Registry) error {
	for _, reg := range registrations {
		if err := reg(r); err != nil {
			return err
		}
	}
	return nil
}

// ErrNoMapping: the driver has no declarative mapping (a driver outside
// this list, or a name no driver has).
var ErrNoMapping = errors.New("no declarative mapping")

// mappings are the drivers' declarative mappings by driver name, one line
// each: what the capability report (mapping.Survives) compares. The
// native driver's is the identity mapping.
var mappings = map[string]func() *mapping.Mapping{
	sami.Name:       samiid.Mapping,
	ietfnat.Name:    ietfnat.Declarative,
	junos.Name:      junos.Mapping,
	ciscoiosxe.Name: ciscoiosxe.Mapping,
}

// Mapping returns the declarative mapping of the driver named driver (an
// inventory's driver name); an unknown name is ErrNoMapping.
func Mapping(driver string) (*mapping.Mapping, error) {
	m, ok := mappings[driver]
	if !ok {
		return nil, fmt.Errorf("%w for driver %q (drivers with one: %s)", ErrNoMapping, driver, strings.Join(Mappings(), ", "))
	}
	return m(), nil
}

// Mappings returns the names of the drivers with a declarative mapping,
// sorted.
func Mappings() []string {
	names := make([]string, 0, len(mappings))
	for n := range mappings {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
