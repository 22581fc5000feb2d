// Package sami is the native device driver: it implements device.Driver for
// any device that serves the sami-flow-state model itself (sami-agent, or a
// vendor that adopted the model), over NETCONF for reading and writing and
// over gNMI for watching.
//
// # Connection
//
// Open dials NETCONF over SSH with cfg.Credentials: the host key is verified
// against Credentials.KnownHosts (default ~/.ssh/known_hosts) unless
// InsecureIgnoreHostKey is set; the client authenticates with KeyFile
// (KeyPassphrase) and/or Password. A lost connection is redialled by the
// next call, except inside a transaction: when the connection drops while
// this driver holds the candidate lock, has staged changes or has a
// confirmed commit without persist pending, the device has dropped all of
// them, so Stage, Remove, Commit, Confirm and Cancel fail with
// device.ErrUnreachable until Lock, Unlock or Discard starts again.
//
// # Mapping
//
//   - Capabilities: <get> of /flow-state/capabilities plus the NETCONF hello
//     (:candidate, :confirmed-commit). Writable is !read-only && :candidate.
//   - Read: <get> of /flow-state/sessions, decoded straight from the wire one
//     session at a time, so memory does not grow with the table. The Matcher
//     is applied here, on the client: the model has no server-side selection
//     by endpoint (a subtree filter cannot say "this address in any of the
//     tuple's leaves").
//   - Stage: <edit-config> of the candidate, every session with
//     nc:operation="replace", streamed. A session that cannot be encoded
//     (invalid value, no id, an id that is not its key) aborts the whole
//     request: the driver ends it with an element the device must reject, so
//     nothing is staged and the session stays up; the error names the session
//     and wraps device.ErrRefused.
//   - Remove: <edit-config> with nc:operation="remove" per id (absent ids are
//     no error).
//   - Discard, Lock, Unlock: discard-changes, lock/unlock of the candidate.
//   - Commit, Confirm, Cancel: <commit> (confirmed, confirm-timeout, persist,
//     persist-id), <commit> with persist-id, <cancel-commit>. The driver
//     remembers its own pending confirmed commit: Confirm("") with none
//     pending (or after its timeout ran out) is device.ErrNoPendingCommit
//     without sending a plain commit that would commit the candidate, and
//     Confirm/Cancel("") of a persistent commit made by this driver use its
//     persist id.
//   - Watch: gNMI Subscribe STREAM, ON_CHANGE, updates_only (the initial
//     table is not delivered: Read it), on /flow-state/sessions/session at
//     cfg.GNMIAddress; see watch.go. Without a GNMIAddress the driver polls
//     (Options["watch-interval"], default 1s).
//
// # Errors
//
// Every error is a *device.Error wrapping a device sentinel and the protocol
// error: rpc-errors lock-denied and in-use are ErrLocked, access-denied is
// ErrAuth, other rpc-errors of writes are ErrRefused, a host key mismatch or
// refused login is ErrAuth, a lost connection or failed dial is
// ErrUnreachable. errors.As finds the *netconf.RPCError.
//
// # Options
//
//	watch-interval  polling period of Watch without gNMI (Go duration, default 1s)
//	keepalive       SSH keepalive interval (Go duration, default 30s, 0 disables)
package sami

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// Name is the driver's registry name.
const Name = "sami"

// DefaultWatchInterval is the polling period of Watch without gNMI.
const DefaultWatchInterval = time.Second

// Register adds the driver to r.
func Register(r *device.Registry) error {
	return r.Register(device.Info{
		Name:        Name,
		Description: "devices serving the sami-flow-state model (sami-agent): NETCONF read/write, gNMI watch",
		Factory: func(ctx context.Context, cfg device.Config) (device.Driver, error) {
			d, err := Open(ctx, cfg)
			if err != nil {
				return nil, err
			}
			return d, nil
		},
	})
}

var codec = sync.OnceValues(flow.NewCodec)

// modelNS is the sami-flow-state namespace.
var modelNS = sync.OnceValue(func() string {
	for _, m := range flow.Modules() {
		if m.Name == "sami-flow-state" {
			return m.Namespace
		}
	}
	return "urn:sami:params:xml:ns:yang:sami-flow-state"
})

// Driver is a connection to one device serving the sami model.
type Driver struct {
	cfg           device.Config
	log           *slog.Logger
	codec         *yangxml.Codec
	dial          []netconf.DialOption
	watchInterval time.Duration

	mu      sync.Mutex
	s       *netconf.Session
	closed  bool
	locked  bool           // we hold the candidate lock
	staged  bool           // we have uncommitted edits in the candidate
	pending *pendingCommit // our confirmed commit, if any
	lost    error          // the connection dropped inside a transaction
}

// pendingCommit is a confirmed commit this driver made.
type pendingCommit struct {
	persist  string
	deadline time.Time // when the device rolls it back at the earliest
}

// Open connects to the device cfg describes. ctx and cfg.Timeout bound the
// dial.
func Open(ctx context.Context, cfg device.Config) (*Driver, error) {
	d, err := newDriver(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	s, err := netconf.Dial(ctx, cfg.Address, d.dial...)
	if err != nil {
		return nil, d.fail("open", err)
	}
	d.s = s
	caps := s.Capabilities()
	d.log.Info("sami: connected", "device", cfg.Name, "address", cfg.Address, "session", s.ID(),
		"candidate", caps.Has(netconf.CapCandidate), "confirmed-commit-1.1", caps.ConfirmedCommit11())
	return d, nil
}

// newDriver checks cfg and prepares the dial options.
func newDriver(cfg device.Config) (*Driver, error) {
	bad := func(format string, args ...any) error {
		return &device.Error{Device: cfg.Name, Op: "open", Err: fmt.Errorf("%w: %s", device.ErrConfig, fmt.Sprintf(format, args...))}
	}
	c, err := codec()
	if err != nil {
		return nil, err
	}
	d := &Driver{cfg: cfg, log: cfg.Logger, codec: c, watchInterval: DefaultWatchInterval}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Address == "" {
		return nil, bad("no address")
	}
	if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
		return nil, bad("address %q: %v", cfg.Address, err)
	}
	if cfg.Protocol != "" && cfg.Protocol != "netconf" {
		return nil, bad("protocol %q: the sami driver speaks netconf (and gNMI for watching, via gnmi-address)", cfg.Protocol)
	}
	cr := cfg.Credentials
	if cr.User == "" {
		return nil, bad("credentials: no user")
	}
	if cr.KeyFile == "" && cr.Password == "" {
		return nil, bad("credentials: neither a key file nor a password")
	}
	if (cr.CertFile == "") != (cr.CertKeyFile == "") {
		return nil, bad("credentials: a client certificate needs both cert-file and cert-key-file")
	}
	d.dial = []netconf.DialOption{netconf.WithUser(cr.User), netconf.WithSessionOptions(netconf.WithLogger(d.log))}
	if cr.KeyFile != "" {
		d.dial = append(d.dial, netconf.WithKeyFile(cr.KeyFile, cr.KeyPassphrase))
	}
	if cr.Password != "" {
		d.dial = append(d.dial, netconf.WithPassword(cr.Password))
	}
	switch {
	case cr.InsecureIgnoreHostKey:
		d.log.Warn("sami: host key verification disabled for this device by its configuration", "device", cfg.Name)
		d.dial = append(d.dial, netconf.InsecureIgnoreHostKey())
	case len(cr.KnownHosts) > 0:
		d.dial = append(d.dial, netconf.WithKnownHosts(cr.KnownHosts...))
	}
	for k, v := range cfg.Options {
		switch k {
		case "watch-interval":
			iv, err := time.ParseDuration(v)
			if err != nil || iv <= 0 {
				return nil, bad("option watch-interval %q: want a positive duration such as 500ms", v)
			}
			d.watchInterval = iv
		case "keepalive":
			iv, err := time.ParseDuration(v)
			if err != nil || iv < 0 {
				return nil, bad("option keepalive %q: want a duration such as 30s (0 disables)", v)
			}
			d.dial = append(d.dial, netconf.WithKeepalive(iv))
		default:
			return nil, bad("unknown option %q (known: watch-interval, keepalive)", k)
		}
	}
	return d, nil
}

// Name is the device's inventory name.
func (d *Driver) Name() string { return d.cfg.Name }

// Close ends the connection. The device releases the lock and rolls back a
// confirmed commit of this session made without persist.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := d.s.CloseSession(ctx)
	if err != nil && d.s.Err() != nil {
		err = nil // it was gone already
	}
	d.s = nil
	return err
}

// errDriverClosed is returned after Close.
var errDriverClosed = errors.New("the driver is closed")

// session returns the connection, redialling a lost one. With txn the
// caller continues a transaction, which a lost connection has ended.
func (d *Driver) session(ctx context.Context, txn bool) (*netconf.Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("%w: %w", device.ErrUnreachable, errDriverClosed)
	}
	if d.s != nil && d.s.Err() != nil {
		d.lostLocked(d.s)
	}
	if txn && d.lost != nil {
		return nil, d.lost
	}
	if d.s == nil {
		if d.cfg.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d.cfg.Timeout)
			defer cancel()
		}
		s, err := netconf.Dial(ctx, d.cfg.Address, d.dial...)
		if err != nil {
			return nil, err
		}
		d.log.Info("sami: reconnected", "device", d.cfg.Name, "session", s.ID())
		d.s = s
	}
	return d.s, nil
}

// lostLocked records that s is gone; d.mu is held.
func (d *Driver) lostLocked(s *netconf.Session) {
	if d.s != s {
		return
	}
	if d.locked || d.staged || (d.pending != nil && d.pending.persist == "") {
		d.lost = fmt.Errorf("%w: the connection was lost inside a transaction (the device dropped this session's lock, staged changes and unpersisted confirmed commit): %w; start again with Lock or Discard",
			device.ErrUnreachable, s.Err())
		d.log.Warn("sami: connection lost inside a transaction", "device", d.cfg.Name, "err", s.Err())
	}
	d.locked, d.staged = false, false
	if d.pending != nil && d.pending.persist == "" {
		d.pending = nil
	}
	d.s = nil
}

// do runs f on the connection and maps its error for op.
func (d *Driver) do(ctx context.Context, op string, txn bool, f func(s *netconf.Session) error) error {
	s, err := d.session(ctx, txn)
	if err != nil {
		return d.fail(op, err)
	}
	err = f(s)
	if err != nil && s.Err() != nil {
		d.mu.Lock()
		d.lostLocked(s)
		d.mu.Unlock()
	}
	if err != nil {
		return d.fail(op, err)
	}
	return nil
}

// fail wraps err in a *device.Error with the sentinel it means.
func (d *Driver) fail(op string, err error) error {
	var de *device.Error
	if errors.As(err, &de) {
		return err
	}
	if s := sentinel(op, err); s != nil && !errors.Is(err, s) {
		err = fmt.Errorf("%w: %w", s, err)
	}
	return &device.Error{Device: d.cfg.Name, Op: op, Err: err}
}

// sentinel is the device sentinel err means for op, or nil.
func sentinel(op string, err error) error {
	for _, s := range []error{device.ErrUnreachable, device.ErrAuth, device.ErrLocked, device.ErrRefused,
		device.ErrNoPendingCommit, device.ErrUnsupported, device.ErrConfig} {
		if errors.Is(err, s) {
			return s
		}
	}
	var re *netconf.RPCError
	if errors.As(err, &re) {
		return rpcSentinel(op, re)
	}
	switch {
	case errors.Is(err, netconf.ErrHostKey), errors.Is(err, netconf.ErrAuth):
		return device.ErrAuth
	case errors.Is(err, netconf.ErrCapability):
		return device.ErrUnsupported
	case errors.Is(err, netconf.ErrClosed), errors.Is(err, netconf.ErrTransport), errors.Is(err, netconf.ErrProtocol),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return device.ErrUnreachable
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) {
		return device.ErrUnreachable
	}
	return nil
}

// rpcSentinel maps an rpc-error.
func rpcSentinel(op string, re *netconf.RPCError) error {
	switch re.Tag {
	case "lock-denied", "in-use":
		return device.ErrLocked
	case "access-denied":
		return device.ErrAuth
	}
	switch op {
	case "confirm", "cancel":
		// No confirmed commit pending, or not the one this persist id
		// names (RFC 6241 8.4.5.1: invalid-value on persist-id).
		if re.Info["bad-element"] == "persist-id" || strings.Contains(re.Message, "pending") {
			return device.ErrNoPendingCommit
		}
		return device.ErrRefused
	case "stage", "remove", "commit", "discard":
		return device.ErrRefused
	case "read", "capabilities", "watch":
		if re.Tag == "operation-failed" || re.Tag == "resource-denied" {
			return device.ErrUnreachable // the device could not read its table now
		}
	}
	return nil
}
