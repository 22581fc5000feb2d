// Package plugins registers every device driver compiled into sami. The
// list is explicit, so what a binary can talk to is visible here.
package plugins

import (
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/plugins/ciscoiosxe"
	"github.com/sami-netops/sami/plugins/junos"
	"github.com/sami-netops/sami/plugins/sami"
)

// registrations are the drivers, one line each.
var registrations = []func(*device.Registry) error{
	sami.Register,
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
