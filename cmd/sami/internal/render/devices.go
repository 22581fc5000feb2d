package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/topology"
)

// Device is one row of `sami devices` (and its JSON/YAML object).
type Device struct {
	Name        string `json:"name"`
	Driver      string `json:"driver"`
	Address     string `json:"address"`
	GNMIAddress string `json:"gnmi-address,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Location    string `json:"location,omitempty"`
	Role        string `json:"role,omitempty"`
	Discovered  bool   `json:"discovered"`
	// Set by `sami devices --check`: the device was connected to.
	Check *DeviceCheck `json:"check,omitempty"`
}

// DeviceCheck is the result of connecting to a device and reading its
// capabilities.
type DeviceCheck struct {
	Status   string  `json:"status"` // ok, unreachable, auth, config, failed
	Error    string  `json:"error,omitempty"`
	Sessions uint64  `json:"sessions"`
	Free     *uint64 `json:"free,omitempty"` // nil: unknown
	Writable bool    `json:"writable"`
	Watch    bool    `json:"watch"`
	Millis   int64   `json:"ms"` // connect and read
}

// DevicesOf lists an inventory's devices with their effective domain and
// driver (the defaults applied).
func DevicesOf(inv *topology.Inventory) []Device {
	var out []Device
	def := inv.Defaults().Driver
	for _, d := range inv.Devices() {
		drv := d.Driver
		if drv == "" {
			drv = def
		}
		out = append(out, Device{
			Name: d.Name, Driver: drv, Address: d.Address, GNMIAddress: d.GNMIAddress,
			Domain: inv.DomainOf(d.Name), Location: d.Location, Role: d.Role, Discovered: d.Discovered,
		})
	}
	return out
}

// Devices writes the device list.
func Devices(w io.Writer, f Format, ds []Device) error {
	if f != Table {
		if ds == nil {
			ds = []Device{}
		}
		return writeData(w, f, map[string]any{"devices": ds})
	}
	checked := len(ds) > 0 && ds[0].Check != nil
	cols := []string{"NAME", "DRIVER", "ADDRESS", "DOMAIN", "LOCATION", "ROLE", "DISCOVERED"}
	if checked {
		cols = append(cols, "STATUS", "SESSIONS", "FREE", "WRITABLE", "TIME")
	}
	t := newTable(w, cols...)
	for _, d := range ds {
		row := []string{d.Name, d.Driver, d.Address, d.Domain, d.Location, d.Role, yesNo(d.Discovered)}
		if c := d.Check; c != nil {
			sessions, free, writable := "-", "-", "-"
			if c.Status == "ok" {
				sessions, free, writable = strconv.FormatUint(c.Sessions, 10), "unknown", yesNo(c.Writable)
				if c.Free != nil {
					free = strconv.FormatUint(*c.Free, 10)
				}
			}
			row = append(row, c.Status, sessions, free, writable, fmt.Sprintf("%dms", c.Millis))
		}
		t.row(row...)
	}
	return t.flush()
}

// Capabilities is what `sami caps` shows for one device.
type Capabilities struct {
	Device          string   `json:"device"`
	Vendor          string   `json:"vendor,omitempty"`
	Model           string   `json:"model,omitempty"`
	Software        string   `json:"software,omitempty"`
	MaxSessions     uint64   `json:"max-sessions"`
	Active          uint64   `json:"active"`
	Free            *uint64  `json:"free,omitempty"` // nil: unknown
	Features        []string `json:"features"`
	Protocols       []int    `json:"protocols,omitempty"` // protocol numbers ([]uint8 would be base64)
	Domain          string   `json:"domain,omitempty"`
	Writable        bool     `json:"writable"`
	ConfirmedCommit bool     `json:"confirmed-commit"`
	Watch           bool     `json:"watch"`
}

// CapabilitiesOf converts a driver's capabilities.
func CapabilitiesOf(name string, c *device.Capabilities) Capabilities {
	out := Capabilities{
		Device: name, Vendor: c.Vendor, Model: c.Model, Software: c.Software,
		MaxSessions: c.MaxSessions, Active: c.Active, Features: c.Features,
		Domain: c.Domain, Writable: c.Writable, ConfirmedCommit: c.ConfirmedCommit, Watch: c.Watch,
	}
	if f, ok := c.Free(); ok {
		out.Free = &f
	}
	for _, p := range c.Protocols {
		out.Protocols = append(out.Protocols, int(p))
	}
	if out.Features == nil {
		out.Features = []string{}
	}
	return out
}

// WriteCapabilities writes one device's capabilities.
func WriteCapabilities(w io.Writer, f Format, c Capabilities) error {
	if f != Table {
		return writeData(w, f, c)
	}
	max, free := "unlimited", "unknown"
	if c.MaxSessions > 0 {
		max = strconv.FormatUint(c.MaxSessions, 10)
	}
	if c.Free != nil {
		free = strconv.FormatUint(*c.Free, 10)
	}
	protos := "any"
	if len(c.Protocols) > 0 {
		var ps []string
		for _, p := range c.Protocols {
			ps = append(ps, protoName(uint8(p)))
		}
		protos = strings.Join(ps, ", ")
	}
	return kv(w,
		[2]string{"Device", c.Device},
		[2]string{"Vendor", orDash(strings.TrimSpace(c.Vendor + " " + c.Model))},
		[2]string{"Software", orDash(c.Software)},
		[2]string{"Sessions", fmt.Sprintf("%d active, %s max, %s free", c.Active, max, free)},
		[2]string{"Features", orDash(strings.Join(c.Features, ", "))},
		[2]string{"Protocols", protos},
		[2]string{"Domain", orDash(c.Domain)},
		[2]string{"Writable", yesNo(c.Writable)},
		[2]string{"Confirmed commit", yesNo(c.ConfirmedCommit)},
		[2]string{"Change stream", yesNo(c.Watch)},
	)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
