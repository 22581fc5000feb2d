// Package device is the contract between sami's migration engine and the
// devices it moves state between. A Driver speaks one device's management
// protocol and data model (the sami model over NETCONF, RFC 8512 NAT
// bindings, a vendor mapping) and presents the device's session table in
// the canonical form of package flow. The engine knows devices only through
// this package: drivers live in plugins/ and are registered explicitly
// (Registry), never by import side effect.
//
// A write is a transaction on the device, shaped after NETCONF's candidate
// datastore with confirmed commit (RFC 6241 8.3, 8.4):
//
//	Lock -> Stage / Remove (into the candidate) -> Commit(confirmed, timeout, persist id)
//	     -> (verify by Read) -> Confirm   or   Cancel (the device restores what it had)
//	     -> Unlock
//
// A confirmed commit that is neither confirmed nor cancelled is rolled back by
// the device when its timeout expires, which is what keeps state safe when
// the orchestrator dies mid-migration: its journal records the persist id,
// and a restarted orchestrator confirms or cancels with it from a new
// session.
package device

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
)

// Sentinel errors. Drivers wrap them (with %w) so the engine can decide
// without knowing the protocol.
var (
	// ErrUnsupported: the device or driver cannot do this (a read-only
	// mapping asked to write, Watch on a device without notifications).
	ErrUnsupported = errors.New("device: operation not supported")
	// ErrUnreachable: the device cannot be reached or the connection was
	// lost. Transient: the engine may retry or fall back.
	ErrUnreachable = errors.New("device: unreachable")
	// ErrAuth: the device or the driver refused the other's identity (wrong
	// host key, wrong password or key, not authorized to write).
	ErrAuth = errors.New("device: authentication failed")
	// ErrLocked: the device's candidate is locked by someone else.
	ErrLocked = errors.New("device: datastore locked by another session")
	// ErrRefused: the device refused the data (rpc-error, capacity,
	// unsupported content). Nothing of the refused operation was applied.
	ErrRefused = errors.New("device: write refused")
	// ErrNoPendingCommit: Confirm or Cancel found no confirmed commit
	// pending (already confirmed, cancelled or timed out).
	ErrNoPendingCommit = errors.New("device: no confirmed commit pending")
	// ErrUnknownDriver: a Registry has no driver of that name.
	ErrUnknownDriver = errors.New("device: unknown driver")
	// ErrConfig: a device's configuration is invalid.
	ErrConfig = errors.New("device: invalid configuration")
)

// Driver is one connected device. Methods are safe for concurrent use, but
// a device has one candidate: the engine serializes transactions per device.
type Driver interface {
	// Name is the device's inventory name.
	Name() string
	// Capabilities reads the device's capacity, usage and features now.
	Capabilities(ctx context.Context) (*Capabilities, error)
	// Read streams the sessions the device holds (running, with their
	// counters) to fn, one at a time. With a non-nil Matcher only matching
	// sessions are passed (drivers may push the selection to the device).
	// fn owns the session it gets. An error from fn stops the read and is
	// returned as is.
	Read(ctx context.Context, m *flow.Matcher, fn func(*flow.Session) error) error
	// Lock takes the device's candidate for this driver's session; Unlock
	// releases it. A lock held by someone else is ErrLocked.
	Lock(ctx context.Context) error
	Unlock(ctx context.Context) error
	// Stage merges sessions (created or replaced as a whole) into the
	// candidate; Remove stages the removal of sessions by id (ids absent
	// from the device are no error, so a replayed removal is harmless).
	// Discard drops every staged change.
	Stage(ctx context.Context, sessions iter.Seq[*flow.Session]) error
	Remove(ctx context.Context, ids []string) error
	Discard(ctx context.Context) error
	// Commit makes the candidate running. With Confirmed the device rolls
	// it back unless Confirm comes within Timeout; a Commit while one is
	// pending extends it and adds the new changes.
	Commit(ctx context.Context, o CommitOptions) error
	// Confirm confirms the pending confirmed commit; Cancel rolls it back
	// (cancel-commit). persistID is the one given to Commit, or empty for a
	// commit made by this driver's own session.
	Confirm(ctx context.Context, persistID string) error
	Cancel(ctx context.Context, persistID string) error
	// Watch streams changes of the device's table to fn until ctx ends or
	// the stream fails. Its first delta is Live, once the stream is in
	// place: a change made after fn received it is delivered (one made
	// before may not be). Devices without a change stream return
	// ErrUnsupported.
	Watch(ctx context.Context, m *flow.Matcher, fn func(Delta) error) error
	// Close ends the connection. A confirmed commit of this session without
	// a persist id is rolled back by the device.
	Close() error
}

// CommitOptions shape a commit.
type CommitOptions struct {
	Confirmed bool
	Timeout   time.Duration // confirm-timeout; 0 means the device's default (600 s)
	// Persist, with Confirmed, makes the commit survive this session: any
	// session may then confirm or cancel it with the same id.
	Persist string
	// PersistID names the pending persistent commit this commit extends.
	PersistID string
}

// DeltaType says what happened to a session.
type DeltaType int

const (
	Upserted DeltaType = iota + 1 // created or changed; Session is the new copy
	Removed                       // destroyed; ID names it, Session may be nil
	// Resync: the stream lost events (overflow, reconnect); the receiver
	// must re-read the table. Session and ID are empty.
	Resync
	// Live: the stream is in place; every change from now on is
	// delivered. Watch sends it once, before any other delta, so a caller
	// that reads the table after it misses nothing between the read and
	// the stream. Session and ID are empty.
	Live
)

func (t DeltaType) String() string {
	switch t {
	case Upserted:
		return "upserted"
	case Removed:
		return "removed"
	case Resync:
		return "resync"
	case Live:
		return "live"
	}
	return fmt.Sprintf("DeltaType(%d)", int(t))
}

// Delta is one change seen by Watch.
type Delta struct {
	Type    DeltaType
	ID      string
	Session *flow.Session
	Time    time.Time // when the driver received it
}

// Capabilities is what the engine negotiates against before writing.
type Capabilities struct {
	Vendor, Model, Software string
	// MaxSessions is the table size; 0 means unknown or unlimited.
	MaxSessions uint64
	// Active is the number of sessions in the table now.
	Active uint64
	// Features are the feature identity names the device supports
	// ("nat", "tcp-window-tracking", ...: see flow.Features).
	Features []string
	// Protocols the device can hold; empty means any.
	Protocols []uint8
	// Domain is the administrative domain the device reports, if any.
	Domain string
	// Writable: the driver can write state to the device.
	Writable bool
	// ConfirmedCommit: the device supports confirmed commit (else the
	// engine can only commit and undo by hand).
	ConfirmedCommit bool
	// Watch: the driver can stream changes.
	Watch bool
}

// Free is the number of free session slots, and false when the device
// does not say (MaxSessions 0).
func (c *Capabilities) Free() (uint64, bool) {
	if c.MaxSessions == 0 {
		return 0, false
	}
	if c.Active >= c.MaxSessions {
		return 0, true
	}
	return c.MaxSessions - c.Active, true
}

// Has reports whether the device supports feature ft.
func (c *Capabilities) Has(ft flow.Feature) bool {
	return slices.Contains(c.Features, flow.FeatureName(ft))
}

// HasProtocol reports whether the device can hold sessions of protocol p.
func (c *Capabilities) HasProtocol(p uint8) bool {
	return len(c.Protocols) == 0 || slices.Contains(c.Protocols, p)
}

// Missing lists the features s needs that the device lacks.
func (c *Capabilities) Missing(s *flow.Session) []flow.Feature {
	var out []flow.Feature
	for _, ft := range flow.Features(s) {
		if !c.Has(ft) {
			out = append(out, ft)
		}
	}
	return out
}

// Error is a driver failure with the device it concerns. Err wraps one of
// the sentinels and, where there is one, the protocol error
// (*netconf.RPCError, a gRPC status).
type Error struct {
	Device string
	Op     string // "read", "commit", ...
	Err    error
}

func (e *Error) Error() string { return fmt.Sprintf("device %s: %s: %v", e.Device, e.Op, e.Err) }
func (e *Error) Unwrap() error { return e.Err }
