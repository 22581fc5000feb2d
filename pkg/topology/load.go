package topology

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
)

// maxInventory bounds what Load reads: an inventory is configuration,
// not data.
const maxInventory = 16 << 20

// LoadOption configures Load.
type LoadOption func(*loadOpts)

type loadOpts struct {
	name    string
	drivers []string
}

// WithName names the source in errors ("inventory.yaml:14: ...").
func WithName(name string) LoadOption { return func(o *loadOpts) { o.name = name } }

// WithDrivers makes a driver name that is not among these an error (pass
// device.Registry.Names()); without it any name is accepted.
func WithDrivers(names ...string) LoadOption {
	return func(o *loadOpts) { o.drivers = append(o.drivers, names...) }
}

// LoadFile reads the inventory at path (errors name the file).
func LoadFile(path string, opts ...LoadOption) (*Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInventory, err)
	}
	defer f.Close()
	return Load(f, append([]LoadOption{WithName(path)}, opts...)...)
}

// Load reads a YAML inventory. Unknown fields are errors; every error
// names the line and the field, and all of them are reported (joined, in
// line order; each is a *FieldError wrapping ErrInventory).
func Load(r io.Reader, opts ...LoadOption) (*Inventory, error) {
	var o loadOpts
	for _, f := range opts {
		f(&o)
	}
	w := &walker{file: o.name, budget: maxNodeVisit}
	data, err := io.ReadAll(io.LimitReader(r, maxInventory+1))
	if err != nil {
		return nil, &FieldError{File: o.name, Msg: "reading: " + err.Error()}
	}
	if len(data) > maxInventory {
		return nil, &FieldError{File: o.name, Msg: fmt.Sprintf("larger than %d MiB", maxInventory>>20)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		inv := &Inventory{file: o.name}
		inv.index()
		return inv, nil
	case err != nil:
		return nil, syntaxError(o.name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(o.name, err)
		}
		return nil, &FieldError{File: o.name, Line: extra.Line, Msg: "a second YAML document; an inventory is one document"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	inv := w.inventory(root, &o)
	if w.exhausted() {
		return nil, &FieldError{File: o.name, Msg: "too large once aliases are expanded"}
	}
	if len(w.errs) > 0 {
		sortErrors(w.errs)
		errs := make([]error, len(w.errs))
		for i, e := range w.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return inv, nil
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: n, Msg: "YAML: " + m[2]}
	}
	return &FieldError{File: file, Msg: "YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// inventory walks the document and checks it as a whole.
func (w *walker) inventory(root *yaml.Node, o *loadOpts) *Inventory {
	inv := &Inventory{file: o.name}
	top := w.fields(root, "", "defaults", "devices", "locations", "domains", "domain-rules")
	if f, ok := top["defaults"]; ok {
		inv.defaults = w.defaults(f.val, o)
	}

	devNodes, devPaths := w.seq(top, "devices")
	firstDev := map[string]int{}
	for i, n := range devNodes {
		if w.exhausted() {
			return inv
		}
		d, ok := w.device(n, devPaths[i], inv.defaults, o)
		if !ok {
			continue
		}
		if prev, dup := firstDev[d.Name]; dup {
			w.errorf(n, devPaths[i]+".name", nil, "device %q is defined twice (first on line %d)", d.Name, prev)
			continue
		}
		firstDev[d.Name] = d.Line
		inv.devices = append(inv.devices, d)
	}

	locNodes, locPaths := w.seq(top, "locations")
	firstLoc := map[string]int{}
	for i, n := range locNodes {
		if w.exhausted() {
			return inv
		}
		l, ok := w.location(n, locPaths[i], firstDev)
		if !ok {
			continue
		}
		if prev, dup := firstLoc[l.Name]; dup {
			w.errorf(n, locPaths[i]+".name", nil, "location %q is defined twice (first on line %d)", l.Name, prev)
			continue
		}
		firstLoc[l.Name] = l.Line
		inv.locations = append(inv.locations, l)
	}
	inv.index()

	known := map[string]bool{}
	for _, d := range inv.devices {
		known[inv.domainOf(&d)] = true
	}
	for _, l := range inv.locations {
		known[l.Domain] = true
	}
	doms, domNodes := w.strList(top, "domains", "")
	for i, d := range doms {
		if why := checkName(d); why != "" {
			w.errorf(domNodes[i], fmt.Sprintf("domains[%d]", i), nil, "%s", why)
		}
		known[d] = true
	}
	inv.domains = doms
	ruleNodes, rulePaths := w.seq(top, "domain-rules")
	for i, n := range ruleNodes {
		m := w.fields(n, rulePaths[i], "from", "to")
		if m == nil {
			continue
		}
		r := DomainRule{From: w.str(m, "from", rulePaths[i]), To: w.str(m, "to", rulePaths[i])}
		bad := false
		for _, side := range []struct{ key, val string }{{"from", r.From}, {"to", r.To}} {
			p := rulePaths[i] + "." + side.key
			switch {
			case side.val == "":
				w.missing(m, side.key, n, rulePaths[i], "")
				bad = true
			case !known[side.val]:
				w.errorf(line(m, side.key, n), p, nil, "unknown domain %q (no device or location is in it; declare it under domains: if its devices are discovered)", side.val)
				bad = true
			}
		}
		switch {
		case bad:
		case r.From == r.To:
			w.errorf(n, rulePaths[i], nil, "from and to are both %q: state may always move within a domain", r.From)
		case slices.Contains(inv.rules, r):
			w.errorf(n, rulePaths[i], nil, "rule %s -> %s is given twice", r.From, r.To)
		default:
			inv.rules = append(inv.rules, r)
		}
	}
	return inv
}

var credentialFields = []string{
	"user", "password-file", "password-env", "key-file", "key-passphrase-file", "key-passphrase-env",
	"known-hosts", "insecure-ignore-host-key", "ca-file", "cert-file", "cert-key-file", "insecure-plaintext",
}

func (w *walker) credentials(n *yaml.Node, path string, perDevice bool) Credentials {
	m := w.fields(n, path, credentialFields...)
	c := Credentials{
		User:                  w.str(m, "user", path),
		PasswordFile:          w.str(m, "password-file", path),
		PasswordEnv:           w.str(m, "password-env", path),
		KeyFile:               w.str(m, "key-file", path),
		KeyPassphraseFile:     w.str(m, "key-passphrase-file", path),
		KeyPassphraseEnv:      w.str(m, "key-passphrase-env", path),
		InsecureIgnoreHostKey: w.boolean(m, "insecure-ignore-host-key", path),
		CAFile:                w.str(m, "ca-file", path),
		CertFile:              w.str(m, "cert-file", path),
		CertKeyFile:           w.str(m, "cert-key-file", path),
		InsecurePlaintext:     w.boolean(m, "insecure-plaintext", path),
	}
	c.KnownHosts, _ = w.strList(m, "known-hosts", path)
	if c.PasswordFile != "" && c.PasswordEnv != "" {
		w.errorf(line(m, "password-env", n), path+".password-env", nil, "give password-file or password-env, not both")
	}
	if c.KeyPassphraseFile != "" && c.KeyPassphraseEnv != "" {
		w.errorf(line(m, "key-passphrase-env", n), path+".key-passphrase-env", nil, "give key-passphrase-file or key-passphrase-env, not both")
	}
	if (c.KeyPassphraseFile != "" || c.KeyPassphraseEnv != "") && c.KeyFile == "" {
		w.errorf(n, path+".key-file", nil, "missing (a key passphrase is given)")
	}
	if (c.CertFile == "") != (c.CertKeyFile == "") {
		w.errorf(n, path+".cert-key-file", nil, "cert-file and cert-key-file go together")
	}
	for _, opt := range []struct {
		key string
		on  *bool
	}{{"insecure-ignore-host-key", &c.InsecureIgnoreHostKey}, {"insecure-plaintext", &c.InsecurePlaintext}} {
		if *opt.on && !perDevice {
			w.errorf(line(m, opt.key, n), path+"."+opt.key, nil, "only allowed per device, never as a default")
			*opt.on = false // reported once, not again for every device inheriting it
		}
	}
	if c.InsecureIgnoreHostKey && len(c.KnownHosts) > 0 {
		w.errorf(line(m, "insecure-ignore-host-key", n), path+".insecure-ignore-host-key", nil, "contradicts known-hosts: verify the host key or ignore it, not both")
	}
	if c.InsecurePlaintext && (c.CAFile != "" || c.CertFile != "") {
		w.errorf(line(m, "insecure-plaintext", n), path+".insecure-plaintext", nil, "contradicts the TLS files given")
	}
	return c
}

func (w *walker) defaults(n *yaml.Node, o *loadOpts) Defaults {
	const p = "defaults"
	m := w.fields(n, p, "driver", "protocol", "credentials", "options", "timeout")
	d := Defaults{
		Driver:   w.str(m, "driver", p),
		Protocol: w.str(m, "protocol", p),
		Options:  w.strMap(m, "options", p),
		Timeout:  w.duration(m, "timeout", p),
	}
	if f, ok := m["credentials"]; ok {
		d.Credentials = w.credentials(f.val, p+".credentials", false)
	}
	if o.drivers != nil && d.Driver != "" && !slices.Contains(o.drivers, d.Driver) {
		w.errorf(line(m, "driver", n), p+".driver", nil, "unknown driver %q (registered: %s)", d.Driver, strings.Join(o.drivers, ", "))
	}
	return d
}

var deviceFields = []string{
	"name", "address", "gnmi-address", "driver", "protocol", "domain", "location", "role",
	"host-key", "credentials", "options", "timeout",
}

// device reads one device; ok is false when it is unusable (no name).
func (w *walker) device(n *yaml.Node, path string, def Defaults, o *loadOpts) (Device, bool) {
	m := w.fields(n, path, deviceFields...)
	d := Device{
		Name:        w.str(m, "name", path),
		Address:     w.str(m, "address", path),
		GNMIAddress: w.str(m, "gnmi-address", path),
		Driver:      w.str(m, "driver", path),
		Protocol:    w.str(m, "protocol", path),
		Domain:      w.str(m, "domain", path),
		Location:    w.str(m, "location", path),
		Role:        w.str(m, "role", path),
		HostKey:     w.str(m, "host-key", path),
		Options:     w.strMap(m, "options", path),
		Timeout:     w.duration(m, "timeout", path),
		Line:        n.Line,
	}
	if m == nil {
		return d, false
	}
	if d.Name == "" {
		w.missing(m, "name", n, path, "")
		return d, false
	}
	if why := checkName(d.Name); why != "" {
		w.errorf(line(m, "name", n), path+".name", nil, "%s", why)
		return d, false
	}
	if d.Address == "" {
		w.missing(m, "address", n, path, "")
	} else if why := checkAddress(d.Address); why != "" {
		w.errorf(line(m, "address", n), path+".address", nil, "%s", why)
	}
	if d.GNMIAddress != "" {
		if why := checkAddress(d.GNMIAddress); why != "" {
			w.errorf(line(m, "gnmi-address", n), path+".gnmi-address", nil, "%s", why)
		}
	}
	for _, f := range []struct{ key, val string }{{"domain", d.Domain}, {"location", d.Location}, {"role", d.Role}} {
		if f.val != "" {
			if why := checkName(f.val); why != "" {
				w.errorf(line(m, f.key, n), path+"."+f.key, nil, "%s", why)
			}
		}
	}
	if d.HostKey != "" {
		k, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(d.HostKey))
		switch {
		case err != nil:
			w.errorf(line(m, "host-key", n), path+".host-key", nil, "not an SSH public key in authorized_keys format (%v)", err)
			d.HostKey = ""
		case len(strings.TrimSpace(string(rest))) > 0:
			w.errorf(line(m, "host-key", n), path+".host-key", nil, "one key only")
			d.HostKey = ""
		default:
			d.HostKey = normalizeKey(k)
		}
	}
	// Defaults fill what the device leaves out.
	if d.Driver == "" {
		d.Driver = def.Driver
	}
	if d.Driver == "" {
		w.missing(m, "driver", n, path, " (and no defaults.driver)")
	} else if o.drivers != nil && !slices.Contains(o.drivers, d.Driver) && m["driver"].val != nil {
		w.errorf(line(m, "driver", n), path+".driver", nil, "unknown driver %q (registered: %s)", d.Driver, strings.Join(o.drivers, ", "))
	}
	if d.Protocol == "" {
		d.Protocol = def.Protocol
	}
	if d.Timeout == 0 {
		d.Timeout = def.Timeout
	}
	if len(def.Options) > 0 {
		opts := maps.Clone(def.Options)
		maps.Copy(opts, d.Options)
		d.Options = opts
	}
	if f, ok := m["credentials"]; ok {
		d.Credentials = w.credentials(f.val, path+".credentials", true)
	} else {
		d.Credentials = def.Credentials.clone()
	}
	if d.HostKey != "" && d.Credentials.InsecureIgnoreHostKey {
		w.errorf(line(m, "host-key", n), path+".host-key", nil, "contradicts credentials.insecure-ignore-host-key")
	}
	return d, true
}

// normalizeKey is the canonical authorized_keys form (no comment), so two
// spellings of one key compare equal.
func normalizeKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func (w *walker) location(n *yaml.Node, path string, devices map[string]int) (Location, bool) {
	m := w.fields(n, path, "name", "domain", "ingress", "egress")
	l := Location{
		Name:   w.str(m, "name", path),
		Domain: w.str(m, "domain", path),
		Line:   n.Line,
	}
	if m == nil {
		return l, false
	}
	if l.Name == "" {
		w.missing(m, "name", n, path, "")
		return l, false
	}
	if why := checkName(l.Name); why != "" {
		w.errorf(line(m, "name", n), path+".name", nil, "%s", why)
		return l, false
	}
	before := len(w.errs)
	if l.Domain != "" {
		if why := checkName(l.Domain); why != "" {
			w.errorf(line(m, "domain", n), path+".domain", nil, "%s", why)
		}
	}
	for _, dir := range []Direction{Ingress, Egress} {
		key := dir.String()
		names, nodes := w.strList(m, key, path)
		seen := map[string]bool{}
		for i, name := range names {
			p := fmt.Sprintf("%s.%s[%d]", path, key, i)
			switch _, ok := devices[name]; {
			case !ok:
				w.errorf(nodes[i], p, ErrUnknownDevice, "unknown device %q", name)
			case seen[name]:
				w.errorf(nodes[i], p, nil, "device %q is on the %s path twice", name, key)
			}
			seen[name] = true
		}
		if dir == Ingress {
			l.Ingress = names
		} else {
			l.Egress = names
		}
	}
	if len(l.Ingress) == 0 && len(l.Egress) == 0 && len(w.errs) == before {
		w.errorf(n, path, nil, "location %q has no middlebox (give ingress and/or egress)", l.Name)
	}
	return l, true
}
