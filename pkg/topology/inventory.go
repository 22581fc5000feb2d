package topology

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Inventory is the set of devices sami may move state between, the
// locations endpoints attach to (with the middleboxes each direction of
// their traffic crosses) and the domain rules. It is immutable once loaded:
// Merge returns a new view.
type Inventory struct {
	file      string
	defaults  Defaults
	devices   []Device
	locations []Location
	rules     []DomainRule
	domains   []string // declared with "domains:"
	// pinned is the directory of known_hosts files PinHostKeys wrote.
	pinned string

	deviceIdx   map[string]int
	locationIdx map[string]int
}

// Device is one middlebox of the inventory.
type Device struct {
	Name        string
	Address     string // host:port of the management endpoint (NETCONF)
	GNMIAddress string // optional gNMI endpoint
	Driver      string // device.Registry name: "sami", "ietf-nat", ...
	Protocol    string // the driver's transport; empty: its default
	Domain      string // administrative domain (default: the location's)
	Location    string // attachment point or site the device sits at
	// Role groups devices of one function ("firewall", "nat") so a chain
	// of different middleboxes pairs like with like; empty pairs with any.
	Role string
	// HostKey pins the device's SSH host key (authorized_keys format):
	// from the inventory's host-key, or from the device's announcement.
	// A pinned key is verified alone (see PinHostKeys), not with the
	// credentials' known-hosts files.
	HostKey     string
	Credentials Credentials
	Options     map[string]string
	Timeout     time.Duration // connect timeout; 0: the driver's default
	// Discovered: the device came from an announcement, not the file.
	Discovered bool
	Line       int // where the file defines it; 0 when discovered
}

// Credentials name where a device's secrets are; the secrets themselves
// are read by DeviceConfig, when they are needed, and never kept here.
type Credentials struct {
	User              string
	PasswordFile      string
	PasswordEnv       string
	KeyFile           string
	KeyPassphraseFile string
	KeyPassphraseEnv  string
	KnownHosts        []string
	// InsecureIgnoreHostKey skips host-key verification. Allowed only per
	// device, never in defaults nor for discovered devices.
	InsecureIgnoreHostKey bool
	// gNMI TLS.
	CAFile, CertFile, CertKeyFile string
	InsecurePlaintext             bool
}

// IsZero reports whether no credential is configured.
func (c Credentials) IsZero() bool {
	return c.User == "" && c.PasswordFile == "" && c.PasswordEnv == "" && c.KeyFile == "" &&
		c.KeyPassphraseFile == "" && c.KeyPassphraseEnv == "" && len(c.KnownHosts) == 0 &&
		!c.InsecureIgnoreHostKey && c.CAFile == "" && c.CertFile == "" && c.CertKeyFile == "" && !c.InsecurePlaintext
}

// String lists where the credentials come from; it holds no secret.
func (c Credentials) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("user", c.User)
	add("password-file", c.PasswordFile)
	add("password-env", c.PasswordEnv)
	add("key-file", c.KeyFile)
	add("key-passphrase-file", c.KeyPassphraseFile)
	add("key-passphrase-env", c.KeyPassphraseEnv)
	if len(c.KnownHosts) > 0 {
		add("known-hosts", strings.Join(c.KnownHosts, ","))
	}
	if c.InsecureIgnoreHostKey {
		parts = append(parts, "insecure-ignore-host-key")
	}
	add("ca-file", c.CAFile)
	add("cert-file", c.CertFile)
	add("cert-key-file", c.CertKeyFile)
	if c.InsecurePlaintext {
		parts = append(parts, "insecure-plaintext")
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func (c Credentials) clone() Credentials {
	c.KnownHosts = slices.Clone(c.KnownHosts)
	return c
}

// String describes the device for logs.
func (d Device) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (driver %s, %s", d.Name, d.Driver, d.Address)
	if d.Protocol != "" {
		b.WriteString(" " + d.Protocol)
	}
	if d.GNMIAddress != "" {
		b.WriteString(", gnmi " + d.GNMIAddress)
	}
	if d.Domain != "" {
		b.WriteString(", domain " + d.Domain)
	}
	if d.Location != "" {
		b.WriteString(", location " + d.Location)
	}
	if d.Role != "" {
		b.WriteString(", role " + d.Role)
	}
	if d.HostKey != "" {
		b.WriteString(", host key pinned")
	}
	if d.Discovered {
		b.WriteString(", discovered")
	}
	b.WriteString(", credentials " + d.Credentials.String() + ")")
	return b.String()
}

func (d Device) clone() Device {
	d.Credentials = d.Credentials.clone()
	d.Options = maps.Clone(d.Options)
	return d
}

// Location is where an endpoint attaches, with the middleboxes its
// traffic crosses in each direction, in path order: Ingress is traffic
// toward the endpoint, Egress traffic from it.
type Location struct {
	Name       string
	Domain     string
	Ingress    []string
	Egress     []string
	Discovered bool // made from announcements
	Line       int
}

func (l Location) clone() Location {
	l.Ingress = slices.Clone(l.Ingress)
	l.Egress = slices.Clone(l.Egress)
	return l
}

// path returns the middleboxes of one direction.
func (l Location) path(d Direction) []string {
	if d == Ingress {
		return l.Ingress
	}
	return l.Egress
}

// DomainRule allows state to move from devices of one administrative
// domain to devices of another (one way).
type DomainRule struct{ From, To string }

// Defaults apply to devices that leave a field out, and to discovered
// devices.
type Defaults struct {
	Driver      string
	Protocol    string
	Credentials Credentials
	Options     map[string]string
	Timeout     time.Duration
}

// File is the name the inventory was loaded from ("" for a reader without
// a name).
func (inv *Inventory) File() string { return inv.file }

// Defaults returns the inventory's defaults.
func (inv *Inventory) Defaults() Defaults {
	d := inv.defaults
	d.Credentials = d.Credentials.clone()
	d.Options = maps.Clone(d.Options)
	return d
}

// Device returns the device called name.
func (inv *Inventory) Device(name string) (Device, bool) {
	i, ok := inv.deviceIdx[name]
	if !ok {
		return Device{}, false
	}
	return inv.devices[i].clone(), true
}

// Devices returns every device, in file order (discovered ones after, by
// name).
func (inv *Inventory) Devices() []Device {
	out := make([]Device, len(inv.devices))
	for i, d := range inv.devices {
		out[i] = d.clone()
	}
	return out
}

// Location returns the location called name.
func (inv *Inventory) Location(name string) (Location, bool) {
	i, ok := inv.locationIdx[name]
	if !ok {
		return Location{}, false
	}
	return inv.locations[i].clone(), true
}

// Locations returns every location, in file order (discovered ones after,
// by name).
func (inv *Inventory) Locations() []Location {
	out := make([]Location, len(inv.locations))
	for i, l := range inv.locations {
		out[i] = l.clone()
	}
	return out
}

// DomainRules returns the rules allowing state across domains.
func (inv *Inventory) DomainRules() []DomainRule { return slices.Clone(inv.rules) }

// Allowed reports whether state may move from domain from to domain to:
// always within one domain, across domains only by rule.
func (inv *Inventory) Allowed(from, to string) bool {
	return from == to || slices.Contains(inv.rules, DomainRule{From: from, To: to})
}

// DomainOf returns a device's administrative domain: its own, else its
// location's ("" when neither says).
func (inv *Inventory) DomainOf(name string) string {
	i, ok := inv.deviceIdx[name]
	if !ok {
		return ""
	}
	return inv.domainOf(&inv.devices[i])
}

func (inv *Inventory) domainOf(d *Device) string {
	if d.Domain != "" {
		return d.Domain
	}
	if i, ok := inv.locationIdx[d.Location]; ok {
		return inv.locations[i].Domain
	}
	return ""
}

func (inv *Inventory) String() string {
	name := inv.file
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Sprintf("inventory %s: %d devices, %d locations, %d domain rules", name, len(inv.devices), len(inv.locations), len(inv.rules))
}

func (inv *Inventory) index() {
	inv.deviceIdx = make(map[string]int, len(inv.devices))
	for i, d := range inv.devices {
		inv.deviceIdx[d.Name] = i
	}
	inv.locationIdx = make(map[string]int, len(inv.locations))
	for i, l := range inv.locations {
		inv.locationIdx[l.Name] = i
	}
}

func (inv *Inventory) clone() *Inventory {
	c := &Inventory{
		file:     inv.file,
		defaults: inv.Defaults(),
		devices:  inv.Devices(),
		rules:    slices.Clone(inv.rules),
		domains:  slices.Clone(inv.domains),
		pinned:   inv.pinned,
	}
	c.locations = inv.Locations()
	c.index()
	return c
}

// DeviceConfig resolves a device's entry into what its driver needs,
// reading password files and environment variables now (env nil means
// os.Getenv). The secrets are in the returned config only: never logged,
// never kept by the inventory. Print the config's Credentials.Redacted().
// A device with a pinned host key is verified against its file from
// PinHostKeys, alone; before PinHostKeys, its config is an error.
func (inv *Inventory) DeviceConfig(name string, env func(string) string) (device.Config, error) {
	i, ok := inv.deviceIdx[name]
	if !ok {
		return device.Config{}, fmt.Errorf("topology: %w %q", ErrUnknownDevice, name)
	}
	d := &inv.devices[i]
	if env == nil {
		env = os.Getenv
	}
	c := d.Credentials
	secret := func(file, envName, field string) (string, error) {
		switch {
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("%w: device %s: %s-file: %v", ErrCredentials, name, field, err)
			}
			s := strings.TrimRight(string(b), "\r\n")
			if s == "" {
				return "", fmt.Errorf("%w: device %s: %s-file: %s is empty", ErrCredentials, name, field, file)
			}
			return s, nil
		case envName != "":
			s := env(envName)
			if s == "" {
				return "", fmt.Errorf("%w: device %s: %s-env: environment variable %s is unset or empty", ErrCredentials, name, field, envName)
			}
			return s, nil
		}
		return "", nil
	}
	password, err := secret(c.PasswordFile, c.PasswordEnv, "credentials.password")
	if err != nil {
		return device.Config{}, err
	}
	passphrase, err := secret(c.KeyPassphraseFile, c.KeyPassphraseEnv, "credentials.key-passphrase")
	if err != nil {
		return device.Config{}, err
	}
	knownHosts := slices.Clone(c.KnownHosts)
	if d.HostKey != "" {
		if inv.pinned == "" {
			return device.Config{}, fmt.Errorf("%w: device %s: its host key is pinned (host-key or announcement) but no known_hosts file holds it yet (PinHostKeys)", ErrCredentials, name)
		}
		knownHosts = []string{pinnedFile(inv.pinned, d.Name)}
	}
	cfg := device.Config{
		Name:        d.Name,
		Driver:      d.Driver,
		Address:     d.Address,
		Protocol:    d.Protocol,
		GNMIAddress: d.GNMIAddress,
		Credentials: device.Credentials{
			User:                  c.User,
			Password:              password,
			KeyFile:               c.KeyFile,
			KeyPassphrase:         passphrase,
			KnownHosts:            knownHosts,
			InsecureIgnoreHostKey: c.InsecureIgnoreHostKey,
			CAFile:                c.CAFile,
			CertFile:              c.CertFile,
			CertKeyFile:           c.CertKeyFile,
			InsecurePlaintext:     c.InsecurePlaintext,
		},
		Options: maps.Clone(d.Options),
		Timeout: d.Timeout,
	}
	return cfg, nil
}

// WriteKnownHosts writes a known_hosts line for every device with a pinned
// host key (its NETCONF address and key).
func (inv *Inventory) WriteKnownHosts(w io.Writer) error {
	for _, d := range inv.devices {
		if d.HostKey == "" {
			continue
		}
		k, err := parseHostKey(d.HostKey)
		if err != nil {
			return fmt.Errorf("topology: device %s: host key: %w", d.Name, err)
		}
		if _, err := io.WriteString(w, knownhosts.Line([]string{d.Address}, k)+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// PinHostKeys writes, for every device with a pinned host key, a
// known_hosts file dir/NAME.known_hosts holding that key alone (replaced
// atomically), and returns a view whose DeviceConfig verifies the device
// against its file. Drivers verify against known_hosts files: this is how
// a discovered agent's announced key reaches them. One file per device,
// so a key announced for one device can never vouch for another at the
// same address.
func (inv *Inventory) PinHostKeys(dir string) (*Inventory, error) {
	for _, d := range inv.devices {
		if d.HostKey == "" {
			continue
		}
		k, err := parseHostKey(d.HostKey)
		if err != nil {
			return nil, fmt.Errorf("topology: device %s: host key: %w", d.Name, err)
		}
		line := knownhosts.Line([]string{d.Address}, k) + "\n"
		if err := writeAtomic(pinnedFile(dir, d.Name), line); err != nil {
			return nil, fmt.Errorf("topology: device %s: pinned known_hosts: %w", d.Name, err)
		}
	}
	out := inv.clone()
	out.pinned = dir
	return out, nil
}

// pinnedFile is a device's file under dir; names are checked to be safe
// file names (letters, digits, '.', '_', '-', starting with neither '.'
// nor '-').
func pinnedFile(dir, name string) string { return filepath.Join(dir, name+".known_hosts") }

func writeAtomic(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(content)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
