// Package backend is the contract between sami-agent and a device's session
// table: the Linux conntrack table (package conntrack) or a simulated
// firewall (package simfw). The agent serves the table over NETCONF and
// gNMI and writes what its datastores commit through it.
package backend

import (
	"context"
	"errors"
	"fmt"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

// Capabilities is what a device reports for capability negotiation.
type Capabilities = flowstate.SamiFlowState_FlowState_Capabilities

// Sentinel errors a backend wraps.
var (
	// ErrCapacity: the table has no room for the sessions (checked before
	// anything is written; the error says how many fit).
	ErrCapacity = errors.New("backend: not enough free session slots")
	// ErrUnsupported: a session uses a feature the device does not have
	// (e.g. NAT on a device without it); nothing was written.
	ErrUnsupported = errors.New("backend: feature not supported by the device")
	// ErrRefused: the device refused a session while writing.
	ErrRefused = errors.New("backend: the device refused the session")
	// ErrClosed: the backend was closed.
	ErrClosed = errors.New("backend: closed")
)

// Backend is a device's session table. Implementations are safe for
// concurrent use.
type Backend interface {
	// Name identifies the backend in logs and capabilities ("conntrack", "sim").
	Name() string
	// Capabilities reports table size, active sessions, free slots,
	// protocols and features.
	Capabilities(ctx context.Context) (*Capabilities, error)
	// Dump streams every session of the table, counters included, to fn,
	// without holding the whole table in memory. An error from fn stops it.
	Dump(ctx context.Context, fn func(*flow.Session) error) error
	// Upsert installs or replaces sessions, matched by key (idempotent:
	// writing the same session twice leaves one entry). Related sessions
	// (alg/master set) are installed after their masters. Capacity and
	// features are checked before anything is written. When the device
	// refuses a session mid-way, Upsert returns a *BatchError; the caller
	// compensates, treating every session of ss as possibly written (see
	// BatchError).
	Upsert(ctx context.Context, ss []*flow.Session) error
	// Delete removes sessions by key; sessions already gone are not an error.
	Delete(ctx context.Context, ss []*flow.Session) error
	// Watch streams changes of the table (new, updated, destroyed
	// sessions) to fn until ctx ends or fn fails.
	Watch(ctx context.Context, fn func(Event) error) error
	// Close releases the backend.
	Close() error
}

// EventType says what happened to a session.
type EventType int

// Event types.
const (
	Created EventType = iota + 1
	Updated
	Destroyed
)

func (t EventType) String() string {
	switch t {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Destroyed:
		return "destroyed"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change of the table. For Destroyed, Session carries at
// least the key fields.
type Event struct {
	Type    EventType
	Session *flow.Session
}

// BatchError reports a write that failed part-way: sessions ss[:Applied]
// were written and ss[Applied] (ID) failed with Err. Sessions after it may
// have been written too: a device without transactional batches (Linux
// ctnetlink processes every request of a netlink batch even after refusing
// one) goes on, so a caller that undoes must undo all of ss.
type BatchError struct {
	Applied int
	ID      string
	Err     error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("backend: session %s (after %d applied): %v", e.ID, e.Applied, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// CapacityError is an ErrCapacity with the numbers.
type CapacityError struct {
	Need, Free uint64
}

func (e *CapacityError) Error() string {
	return fmt.Sprintf("%v: %d sessions to write, %d fit", ErrCapacity, e.Need, e.Free)
}

func (e *CapacityError) Unwrap() error { return ErrCapacity }
