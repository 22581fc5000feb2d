// Package mapdriver is the device driver for read-only vendor mappings: it
// reads a vendor's session table over NETCONF (a <get> of the list, or the
// mapping's RPC such as Junos get-flow-session-information) and converts
// it with package mapping, so the migration engine can use the device as a
// source. Writes return device.ErrUnsupported. The vendor plugins
// (plugins/junos, plugins/ciscoiosxe) are a mapping file plus this.
package mapdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/pkg/netconf"
)

// OptSkipInvalid is the device option that makes Read skip (and log)
// vendor entries that do not convert, e.g. Junos ICMP sessions, instead
// of failing: "true" or "false" (default).
const OptSkipInvalid = "skip-invalid"

// Driver reads one device through a mapping.
type Driver struct {
	name     string
	m        *mapping.Mapping
	conv     *mapping.Converter
	log      *slog.Logger
	features []string
	protos   []uint8
	skip     bool

	mu sync.Mutex
	s  *netconf.Session
}

var _ device.Driver = (*Driver)(nil)

// Option configures a Driver.
type Option func(*Driver)

// WithLogger logs skipped entries and connection events.
func WithLogger(l *slog.Logger) Option { return func(d *Driver) { d.log = l } }

// WithFeatures sets the feature names Capabilities reports (what the
// mapping can deliver: "nat", "ipv6", "zones", ...).
func WithFeatures(f ...string) Option { return func(d *Driver) { d.features = f } }

// WithProtocols sets the protocols Capabilities reports (empty: any).
func WithProtocols(p ...uint8) Option { return func(d *Driver) { d.protos = p } }

// WithSkipInvalid skips entries that do not convert (logged) instead of
// failing the read.
func WithSkipInvalid(on bool) Option { return func(d *Driver) { d.skip = on } }

// New is a driver over an established NETCONF session (tests, callers
// that dial themselves). The driver owns s.
func New(name string, s *netconf.Session, m *mapping.Mapping, opts ...Option) (*Driver, error) {
	d := &Driver{name: name, m: m, s: s, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(d)
	}
	var copts []mapping.ConvertOption
	if d.skip {
		copts = append(copts, mapping.SkipInvalid(func(err error) { d.log.Warn("vendor entry skipped", "err", err) }))
	}
	conv, err := mapping.NewConverter(m, copts...)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w: %w", name, device.ErrConfig, err)
	}
	d.conv = conv
	return d, nil
}

// Open dials the device cfg describes over NETCONF (SSH, host key checked
// against Credentials.KnownHosts unless InsecureIgnoreHostKey).
func Open(ctx context.Context, cfg device.Config, m *mapping.Mapping, opts ...Option) (*Driver, error) {
	if cfg.Address == "" {
		return nil, fmt.Errorf("device %s: %w: no address", cfg.Name, device.ErrConfig)
	}
	if cfg.Protocol != "" && cfg.Protocol != "netconf" {
		return nil, fmt.Errorf("device %s: %w: protocol %q: the %s driver speaks NETCONF only", cfg.Name, device.ErrConfig, cfg.Protocol, m.Name)
	}
	for k, v := range cfg.Options {
		switch k {
		case OptSkipInvalid:
			if v != "true" && v != "false" {
				return nil, fmt.Errorf("device %s: %w: option %s: %q is not true or false", cfg.Name, device.ErrConfig, k, v)
			}
			opts = append(opts, WithSkipInvalid(v == "true"))
		default:
			return nil, fmt.Errorf("device %s: %w: unknown option %q for driver %s (known: %s)", cfg.Name, device.ErrConfig, k, m.Name, OptSkipInvalid)
		}
	}
	c := cfg.Credentials
	if c.KeyFile != "" {
		if _, err := os.Stat(c.KeyFile); err != nil {
			return nil, fmt.Errorf("device %s: %w: key file: %v", cfg.Name, device.ErrConfig, err)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("device", cfg.Name, "driver", m.Name)
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
		log.Warn("host key verification disabled for this device by its configuration")
		o = append(o, netconf.InsecureIgnoreHostKey())
	case len(c.KnownHosts) > 0:
		o = append(o, netconf.WithKnownHosts(c.KnownHosts...))
	}
	o = append(o, netconf.WithSessionOptions(netconf.WithLogger(log)))
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := netconf.Dial(dctx, cfg.Address, o...)
	if err != nil {
		return nil, fail(cfg.Name, "connect", err)
	}
	d, err := New(cfg.Name, s, m, append([]Option{WithLogger(log)}, opts...)...)
	if err != nil {
		s.Close()
		return nil, err
	}
	return d, nil
}

// fail wraps a NETCONF failure with the device sentinel it stands for.
func fail(name, op string, err error) error {
	kind := device.ErrUnreachable
	var re *netconf.RPCError
	switch {
	case errors.Is(err, netconf.ErrHostKey), errors.Is(err, netconf.ErrAuth):
		kind = device.ErrAuth
	case errors.As(err, &re):
		kind = device.ErrRefused
		if re.Tag == "access-denied" {
			kind = device.ErrAuth
		}
	case errors.Is(err, mapping.ErrConvert), errors.Is(err, mapping.ErrNamespace):
		kind = device.ErrUnsupported
	}
	return &device.Error{Device: name, Op: op, Err: fmt.Errorf("%w: %w", kind, err)}
}

// Name is the device's inventory name.
func (d *Driver) Name() string { return d.name }

// Mapping is the driver's mapping.
func (d *Driver) Mapping() *mapping.Mapping { return d.m }

func (d *Driver) session() (*netconf.Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.s == nil {
		return nil, &device.Error{Device: d.name, Op: "session", Err: fmt.Errorf("%w: driver closed", device.ErrUnreachable)}
	}
	return d.s, nil
}

// Capabilities reports a read-only source: vendor and mapping, the
// configured features, no capacity (the read side does not need it).
func (d *Driver) Capabilities(ctx context.Context) (*device.Capabilities, error) {
	if _, err := d.session(); err != nil {
		return nil, err
	}
	return &device.Capabilities{Vendor: d.m.Vendor.Name, Model: d.m.Name, Features: d.features, Protocols: d.protos}, ctx.Err()
}

// Read fetches the table and streams the converted sessions to fn.
func (d *Driver) Read(ctx context.Context, m *flow.Matcher, fn func(*flow.Session) error) error {
	s, err := d.session()
	if err != nil {
		return err
	}
	var data []byte
	if rpc := d.m.Read.RPC; rpc != "" {
		reply, err := s.Call(ctx, netconf.OpFunc(d.writeRPC))
		if err != nil {
			return fail(d.name, "read", err)
		}
		data = reply.Body
	} else {
		reply, err := s.Get(ctx, netconf.Subtree(d.filter()))
		if err != nil {
			return fail(d.name, "read", err)
		}
		data = reply.Data
	}
	var userErr error
	err = d.conv.ConvertXML(ctx, bytes.NewReader(data), func(sess *flow.Session) error {
		if m != nil && !m.Match(sess) {
			return nil
		}
		if err := fn(sess); err != nil {
			userErr = err
			return err
		}
		return nil
	})
	if userErr != nil {
		return userErr // the caller's own error, as is
	}
	if err != nil {
		return fail(d.name, "read", err)
	}
	return nil
}

// writeRPC writes the mapping's RPC with its input leaves.
func (d *Driver) writeRPC(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<" + d.m.Read.RPC + ">")
	for _, kv := range d.m.Read.Input {
		fmt.Fprintf(&b, "<%s>%s</%s>", kv.Key, xmlText(kv.Value), kv.Key)
	}
	b.WriteString("</" + d.m.Read.RPC + ">")
	_, err := io.WriteString(w, b.String())
	return err
}

// filter selects the session list: the containers down to it.
func (d *Driver) filter() string {
	steps := strings.Split(strings.Trim(d.m.Read.List, "/"), "/")
	for i, s := range steps {
		if j := strings.IndexByte(s, ':'); j >= 0 {
			steps[i] = s[j+1:]
		}
	}
	var b strings.Builder
	for i, s := range steps {
		if i == 0 {
			fmt.Fprintf(&b, `<%s xmlns="%s">`, s, xmlText(d.m.Vendor.Namespace))
		} else {
			fmt.Fprintf(&b, "<%s>", s)
		}
	}
	for i := len(steps) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "</%s>", steps[i])
	}
	return b.String()
}

func xmlText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

func (d *Driver) unsupported(op string) error {
	return &device.Error{Device: d.name, Op: op, Err: fmt.Errorf("%w: mapping %s is read-only", device.ErrUnsupported, d.m.Name)}
}

// Lock is unsupported: the mapping is read-only.
func (d *Driver) Lock(context.Context) error { return d.unsupported("lock") }

// Unlock is unsupported.
func (d *Driver) Unlock(context.Context) error { return d.unsupported("unlock") }

// Stage is unsupported.
func (d *Driver) Stage(context.Context, iter.Seq[*flow.Session]) error {
	return d.unsupported("stage")
}

// Remove is unsupported.
func (d *Driver) Remove(context.Context, []string) error { return d.unsupported("remove") }

// Discard is unsupported.
func (d *Driver) Discard(context.Context) error { return d.unsupported("discard") }

// Commit is unsupported.
func (d *Driver) Commit(context.Context, device.CommitOptions) error {
	return d.unsupported("commit")
}

// Confirm is unsupported.
func (d *Driver) Confirm(context.Context, string) error { return d.unsupported("confirm") }

// Cancel is unsupported.
func (d *Driver) Cancel(context.Context, string) error { return d.unsupported("cancel") }

// Watch is unsupported: the vendor tables are polled with Read.
func (d *Driver) Watch(context.Context, *flow.Matcher, func(device.Delta) error) error {
	return d.unsupported("watch")
}

// Close ends the NETCONF session.
func (d *Driver) Close() error {
	d.mu.Lock()
	s := d.s
	d.s = nil
	d.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.Close()
}
