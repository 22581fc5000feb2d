package ietfnat

import (
	"errors"
	"fmt"
	"net/netip"
)

// Namespace is the XML namespace of ietf-nat (RFC 8512).
const Namespace = "urn:ietf:params:xml:ns:yang:ietf-nat"

// Module and Revision name the YANG module the driver speaks.
const (
	Module   = "ietf-nat"
	Revision = "2019-01-10"
)

// Sentinel errors of this package. They are wrapped (with %w) by the typed
// errors below and, in the driver, by *device.Error.
var (
	// ErrMalformed: an XML document or mapping entry is not valid ietf-nat
	// data (bad syntax, a value outside its type, a key not first).
	ErrMalformed = errors.New("ietfnat: malformed mapping data")
	// ErrNotAFlow: a mapping entry is a rule (a prefix, a port range, any
	// protocol, no destination), not the binding of one flow, so it has no
	// session in the sami model. Read skips such entries.
	ErrNotAFlow = errors.New("not a per-flow binding")
	// ErrInexpressible: a session holds data that an RFC 8512 mapping entry
	// cannot carry (TCP state, marks, an ICMP type other than echo, ...).
	// Stage refuses such sessions unless the driver is lossy.
	ErrInexpressible = errors.New("cannot be expressed as an RFC 8512 mapping entry")
)

// EntryType is the RFC 8512 mapping-entry type.
type EntryType string

// The mapping-entry types of RFC 8512.
const (
	Static          EntryType = "static"
	DynamicImplicit EntryType = "dynamic-implicit"
	DynamicExplicit EntryType = "dynamic-explicit"
)

func (t EntryType) valid() bool {
	return t == Static || t == DynamicImplicit || t == DynamicExplicit
}

// Entry is one RFC 8512 mapping-entry
// (/nat/instances/instance/mapping-table/mapping-entry). Absent leaves are
// nil pointers, invalid prefixes or empty port ranges.
type Entry struct {
	Index uint32
	Type  EntryType // "" when absent
	// Protocol is transport-protocol; nil means the entry applies to any
	// protocol (a rule, not a flow).
	Protocol    *uint8
	InternalSrc Endpoint
	ExternalSrc Endpoint
	InternalDst Endpoint
	ExternalDst Endpoint
	// Lifetime is the remaining lifetime in seconds (in a get).
	Lifetime *uint32
}

// Endpoint is an address prefix and a port range of one side of an entry:
// internal-src-address with internal-src-port, and so on.
type Endpoint struct {
	Prefix netip.Prefix // !IsValid() when absent
	Ports  PortRange
}

// PortRange is RFC 8512's port-number grouping: only Start is a single port
// (or ICMP identifier).
type PortRange struct {
	Start, End *uint16
}

// single returns the one port of r, when r names exactly one.
func (r PortRange) single() (uint16, bool) {
	if r.Start == nil || (r.End != nil && *r.End != *r.Start) {
		return 0, false
	}
	return *r.Start, true
}

func (r PortRange) empty() bool { return r.Start == nil && r.End == nil }

// host returns the address of a host prefix (/32, /128).
func (e Endpoint) host() (netip.Addr, bool) {
	if !e.Prefix.IsValid() || e.Prefix.Bits() != e.Prefix.Addr().BitLen() {
		return netip.Addr{}, false
	}
	return e.Prefix.Addr(), true
}

// EntryError reports a malformed or unusable mapping entry, naming it by
// index and the offending leaf.
type EntryError struct {
	Index string // the entry's index, "" when not (yet) known
	Path  string // leaf path relative to the entry, e.g. "internal-src-port/start-port-number"
	Value string // the offending text, when there is one
	Err   error  // wraps ErrMalformed or ErrNotAFlow
}

func (e *EntryError) Error() string {
	where := "mapping-entry"
	if e.Index != "" {
		where += " " + e.Index
	}
	if e.Path != "" {
		where += ": " + e.Path
	}
	if e.Value != "" {
		return fmt.Sprintf("ietfnat: %s %q: %v", where, e.Value, e.Err)
	}
	return fmt.Sprintf("ietfnat: %s: %v", where, e.Err)
}

func (e *EntryError) Unwrap() error { return e.Err }

// SessionError reports a session that cannot be written as a mapping
// entry, naming the session and what is wrong with it.
type SessionError struct {
	ID     string   // the session's id (or derived key), "" when unknown
	Fields []string // the paths that cannot be expressed, with their values
	Err    error    // wraps ErrInexpressible or flow's sentinels
}

func (e *SessionError) Error() string {
	id := e.ID
	if id == "" {
		id = "(no id)"
	}
	if len(e.Fields) > 0 {
		return fmt.Sprintf("ietfnat: session %s: %v: %s", id, e.Err, joinFields(e.Fields))
	}
	return fmt.Sprintf("ietfnat: session %s: %v", id, e.Err)
}

func (e *SessionError) Unwrap() error { return e.Err }

func joinFields(f []string) string {
	out := ""
	for i, s := range f {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
