package ietfnat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// Name is the driver's registry name.
const Name = "ietf-nat"

// defaultConfirmTimeout is RFC 6241's confirm-timeout default.
const defaultConfirmTimeout = 600 * time.Second

// Register adds the ietf-nat driver to r.
func Register(r *device.Registry) error {
	return r.Register(device.Info{
		Name:        Name,
		Description: "RFC 8512 NAT mapping table (ietf-nat@2019-01-10) over NETCONF: NAT bindings as sessions",
		Factory: func(ctx context.Context, cfg device.Config) (device.Driver, error) {
			d, err := Open(ctx, cfg)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return d, nil
		},
	})
}

// Driver is one device's RFC 8512 NAT instance over NETCONF. It implements
// device.Driver; see the package documentation for the mapping.
type Driver struct {
	name string
	cfg  device.Config
	opts options
	log  *slog.Logger

	dialMu sync.Mutex // one reconnect at a time
	txMu   sync.Mutex // serializes the operations that use the index table

	mu       sync.Mutex // guards the fields below
	s        *netconf.Session
	locked   bool
	lost     bool        // the session holding the lock was lost
	table    *indexTable // the candidate's indexes, kept while locked
	haveInst bool        // the instance exists in the candidate (with table)
	pending  bool        // a confirmed commit of this session without persist is pending
	deadline time.Time   // when that commit's confirm-timeout expires
}

var _ device.Driver = (*Driver)(nil)

// Open connects to the device cfg describes (device.Config.Options: see
// the Opt constants). The host key is verified against
// Credentials.KnownHosts (default ~/.ssh/known_hosts) unless
// InsecureIgnoreHostKey is set.
func Open(ctx context.Context, cfg device.Config) (*Driver, error) {
	if cfg.Address == "" {
		return nil, fmt.Errorf("device %s: %w: no address", cfg.Name, device.ErrConfig)
	}
	switch cfg.Protocol {
	case "", "netconf":
	default:
		return nil, fmt.Errorf("device %s: %w: protocol %q: the ietf-nat driver speaks NETCONF only", cfg.Name, device.ErrConfig, cfg.Protocol)
	}
	opts, err := parseOptions(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	if f := cfg.Credentials.KeyFile; f != "" {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("device %s: %w: key file: %v", cfg.Name, device.ErrConfig, err)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{name: cfg.Name, cfg: cfg, opts: opts, log: log.With("device", cfg.Name, "driver", Name)}
	s, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	d.s = s
	if err := d.checkDevice(ctx, s); err != nil {
		s.Close()
		return nil, err
	}
	return d, nil
}

func (d *Driver) dial(ctx context.Context) (*netconf.Session, error) {
	c := d.cfg.Credentials
	var o []netconf.DialOption
	if c.User != "" {
		o = append(o, netconf.WithUser(c.User))
	}
	if c.Password != "" {
		o = append(o, netconf.WithPassword(c.Password))
	}
	if c.KeyFile != "" {
		o = append(o, netconf.WithKeyFile(c.KeyFile, c.KeyPassphrase))
	}
	switch {
	case c.InsecureIgnoreHostKey:
		d.log.Warn("host key verification disabled for this device by its configuration")
		o = append(o, netconf.InsecureIgnoreHostKey())
	case len(c.KnownHosts) > 0:
		o = append(o, netconf.WithKnownHosts(c.KnownHosts...))
	}
	o = append(o, netconf.WithSessionOptions(netconf.WithLogger(d.log)))
	timeout := d.cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := netconf.Dial(ctx, d.cfg.Address, o...)
	if err != nil {
		return nil, d.fail("connect", err, device.ErrUnreachable)
	}
	return s, nil
}

// checkDevice verifies that the device announces ietf-nat and that the
// configured instance name, if any, is the instance's.
func (d *Driver) checkDevice(ctx context.Context, s *netconf.Session) error {
	caps := s.Capabilities()
	if m, ok := caps.Module(Module); ok {
		if m.Revision != Revision {
			d.log.Warn("device announces another ietf-nat revision", "revision", m.Revision, "driver", Revision)
		}
	} else if !caps.Has("urn:ietf:params:netconf:capability:yang-library:1.0") && !caps.Has("urn:ietf:params:netconf:capability:yang-library:1.1") {
		return &device.Error{Device: d.name, Op: "connect", Err: fmt.Errorf("%w: the device does not announce the ietf-nat module in its hello", device.ErrUnsupported)}
	}
	if d.opts.name == "" {
		return nil
	}
	var inst *Instance
	_, err := s.GetConfig(ctx, netconf.Running, instanceFilter(d.opts.instance, true), netconf.WithData(d.instanceOnly(&inst)))
	if err != nil {
		return d.fail("connect", err, device.ErrUnsupported)
	}
	if inst.Found && inst.Name == "" {
		d.log.Debug("the NAT instance has no name to check", "instance", d.opts.instance, "option", d.opts.name)
	}
	if inst.Found && inst.Name != "" && inst.Name != d.opts.name {
		return &device.Error{Device: d.name, Op: "connect", Err: fmt.Errorf("%w: NAT instance %d is named %q on the device, not %q (option %s)",
			device.ErrConfig, d.opts.instance, inst.Name, d.opts.name, OptInstanceName)}
	}
	return nil
}

// instanceOnly decodes a reply for the instance's own leaves and counts its
// entries without converting them.
func (d *Driver) instanceOnly(inst **Instance) netconf.DataFunc {
	return func(tk *xmltok.Tokenizer, ns map[string]string) error {
		i, _, err := decodeData(tk, ns, d.opts.instance, true, func(*Entry, error) error { return nil })
		*inst = i
		return err
	}
}

// session returns the NETCONF session, reconnecting when it was lost. A
// lost session loses its lock, staged changes and non-persistent confirmed
// commit with it: writes then fail until Lock or Discard (see lost).
func (d *Driver) session(ctx context.Context) (*netconf.Session, error) {
	d.mu.Lock()
	s := d.s
	d.mu.Unlock()
	if s == nil {
		return nil, &device.Error{Device: d.name, Op: "session", Err: fmt.Errorf("%w: driver closed", device.ErrUnreachable)}
	}
	select {
	case <-s.Done():
	default:
		return s, nil
	}
	d.dialMu.Lock()
	defer d.dialMu.Unlock()
	d.mu.Lock()
	if d.s != s { // reconnected meanwhile
		s = d.s
		d.mu.Unlock()
		return s, nil
	}
	d.mu.Unlock()
	d.log.Warn("NETCONF session lost; reconnecting", "err", s.Err())
	ns, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.s = ns
	if d.locked {
		d.lost = true
	}
	d.locked, d.table, d.pending = false, nil, false
	d.mu.Unlock()
	return ns, nil
}

// writable returns the session for a write, or why there is none.
func (d *Driver) writable(ctx context.Context, op string) (*netconf.Session, error) {
	s, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	if !s.Capabilities().Has(netconf.CapCandidate) {
		return nil, &device.Error{Device: d.name, Op: op, Err: fmt.Errorf("%w: the device has no candidate datastore", device.ErrUnsupported)}
	}
	d.mu.Lock()
	lost := d.lost
	d.mu.Unlock()
	if lost {
		return nil, &device.Error{Device: d.name, Op: op, Err: fmt.Errorf("%w: the NETCONF session that held the candidate lock was lost (with the lock, and a pending confirmed commit rolled back); Discard or Lock again first", device.ErrUnreachable)}
	}
	return s, nil
}

// fail wraps a NETCONF failure in a *device.Error with the sentinel that
// says what the engine can do about it; dflt is the sentinel of an
// rpc-error without a more specific one.
func (d *Driver) fail(op string, err error, dflt error) error {
	if err == nil {
		return nil
	}
	var re *netconf.RPCError
	kind := device.ErrUnreachable
	switch {
	case errors.Is(err, netconf.ErrHostKey), errors.Is(err, netconf.ErrAuth):
		kind = device.ErrAuth
	case errors.As(err, &re):
		switch re.Tag {
		case "lock-denied", "in-use":
			kind = device.ErrLocked
		case "access-denied":
			kind = device.ErrAuth
		default:
			kind = dflt
		}
	case errors.Is(err, netconf.ErrCapability):
		kind = device.ErrUnsupported
	case errors.Is(err, ErrMalformed):
		kind = device.ErrUnsupported
	}
	if kind == device.ErrLocked && dflt == device.ErrRefused && op != "lock" && op != "unlock" {
		// A write the device turned down because another session holds a
		// lock (running, during a commit) is refused as well: nothing of it
		// was applied.
		return &device.Error{Device: d.name, Op: op, Err: fmt.Errorf("%w: %w: %w", device.ErrRefused, kind, err)}
	}
	return &device.Error{Device: d.name, Op: op, Err: fmt.Errorf("%w: %w", kind, err)}
}

// Name is the device's inventory name.
func (d *Driver) Name() string { return d.name }

// Capabilities reads the instance's capabilities, mapping limits and
// entries. MaxSessions is mapping-limits/limit-port-mappings (a per-flow
// binding is a port mapping), else limit-address-mappings, else 0
// (unknown); Active counts the instance's mapping entries, rules included.
func (d *Driver) Capabilities(ctx context.Context) (*device.Capabilities, error) {
	s, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	var inst *Instance
	if _, err := s.Get(ctx, instanceFilter(d.opts.instance, false), netconf.WithData(d.instanceOnly(&inst))); err != nil {
		return nil, d.fail("capabilities", err, device.ErrUnsupported)
	}
	nc := s.Capabilities()
	c := &device.Capabilities{
		Vendor:          d.opts.vendor,
		Model:           Module + "@" + Revision,
		Domain:          d.opts.domain,
		Active:          inst.Entries,
		Protocols:       inst.Protocols,
		Writable:        nc.Has(netconf.CapCandidate),
		ConfirmedCommit: nc.Has(netconf.CapConfirmedCommit) || nc.Has(netconf.CapConfirmedCommit1),
		Watch:           true,
	}
	if m, ok := nc.Module(Module); ok && m.Revision != "" {
		c.Model = Module + "@" + m.Revision
	}
	switch {
	case inst.LimitPortMappings != nil:
		c.MaxSessions = uint64(*inst.LimitPortMappings)
	case inst.LimitAddressMappings != nil:
		c.MaxSessions = uint64(*inst.LimitAddressMappings)
	}
	c.Features = []string{"nat"}
	if d.ipv6(nc, inst) {
		c.Features = append(c.Features, "ipv6")
	}
	if d.opts.mapping.ZoneID != 0 {
		c.Features = append(c.Features, "zones")
	}
	if c.ConfirmedCommit {
		c.Features = append(c.Features, "confirmed-commit")
	}
	return c, nil
}

// ipv6 decides whether the device takes IPv6 flows: an option, else the
// instance's nat-flavor, else the ietf-nat features of the hello.
func (d *Driver) ipv6(nc *netconf.Capabilities, inst *Instance) bool {
	if d.opts.ipv6 != nil {
		return *d.opts.ipv6
	}
	v6 := func(f string) bool { return f == "nptv6" || f == "nat64" }
	if len(inst.Flavors) > 0 {
		for _, f := range inst.Flavors {
			if v6(f) {
				return true
			}
		}
		return false
	}
	if m, ok := nc.Module(Module); ok {
		for _, f := range m.Features {
			if v6(f) {
				return true
			}
		}
	}
	return false
}

// Read streams the sessions of the instance's mapping table to fn, decoding
// the reply one entry at a time. Entries that are rules, not flows, are
// skipped (and counted in the log); the Matcher is applied here, on the
// client. An entry with a malformed value fails the read, naming it.
func (d *Driver) Read(ctx context.Context, m *flow.Matcher, fn func(*flow.Session) error) error {
	s, err := d.session(ctx)
	if err != nil {
		return err
	}
	var fnErr error
	skipped := 0
	var firstSkip error
	data := func(tk *xmltok.Tokenizer, ns map[string]string) error {
		_, ferr, err := decodeData(tk, ns, d.opts.instance, true, func(e *Entry, bad error) error {
			if bad != nil {
				return bad
			}
			sess, err := d.opts.mapping.Session(e)
			if errors.Is(err, ErrNotAFlow) {
				if skipped++; firstSkip == nil {
					firstSkip = err
				}
				return nil
			}
			if err != nil {
				return err
			}
			if m != nil && !m.Match(sess) {
				return nil
			}
			if err := fn(sess); err != nil {
				return &stopError{err}
			}
			return nil
		})
		fnErr = ferr
		return err
	}
	if d.opts.running {
		_, err = s.GetConfig(ctx, netconf.Running, instanceFilter(d.opts.instance, true), netconf.WithData(data))
	} else {
		_, err = s.Get(ctx, instanceFilter(d.opts.instance, true), netconf.WithData(data))
	}
	if skipped > 0 {
		d.log.Info("skipped mapping entries that are rules, not flows", "count", skipped, "first", firstSkip)
	}
	if err != nil {
		return d.fail("read", err, device.ErrUnsupported)
	}
	var stop *stopError
	if errors.As(fnErr, &stop) {
		return stop.err // the caller's own error, as it is
	}
	if fnErr != nil {
		return &device.Error{Device: d.name, Op: "read", Err: fmt.Errorf("%w: %w", device.ErrUnsupported, fnErr)}
	}
	return nil
}

// Lock locks the candidate.
func (d *Driver) Lock(ctx context.Context) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	s, err := d.session(ctx)
	if err != nil {
		return err
	}
	if err := s.Lock(ctx, netconf.Candidate); err != nil {
		return d.fail("lock", err, device.ErrRefused)
	}
	d.mu.Lock()
	d.locked, d.lost, d.table = true, false, nil
	d.mu.Unlock()
	return nil
}

// Unlock releases the candidate lock.
func (d *Driver) Unlock(ctx context.Context) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	s, err := d.session(ctx)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.locked, d.table = false, nil
	d.mu.Unlock()
	if err := s.Unlock(ctx, netconf.Candidate); err != nil {
		return d.fail("unlock", err, device.ErrRefused)
	}
	return nil
}
