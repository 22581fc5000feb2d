package mapping

import (
	"slices"
	"strings"
)

// Access says whether sami may write through a mapping.
type Access string

// The two accesses.
const (
	ReadOnly  Access = "read-only"
	ReadWrite Access = "read-write"
)

// Mapping is one vendor mapping: how a vendor's YANG data maps to sessions
// of the sami model. It is immutable after Load.
type Mapping struct {
	Name        string
	Description string
	File        string // where it was loaded from (for error messages)
	Line        int    // line of the mapping key
	Access      Access
	Vendor      Vendor
	Read        Read
	Write       *Write // nil unless Access is read-write
	// Identity: every canonical leaf maps to the vendor leaf of the same
	// path (the sami model itself); Fields are then generated.
	Identity bool
	Fields   []*Field // in file order
	// Derive names the derivations applied after the fields (see docs).
	Derive      []Derivation
	Unsupported []*Unsupported
}

// Vendor names the vendor modules and the XML namespaces of the data.
type Vendor struct {
	Name    string // vendor of vendor-parameter entries (default: the mapping name)
	Modules []Module
	// Namespace is the YANG namespace of the module holding the list.
	Namespace string
	// DeviceNamespaces are further namespaces devices answer in, as globs
	// (Junos: http://xml.juniper.net/junos/*/junos-flow).
	DeviceNamespaces []string
	Line             int
	NamespaceLine    int
}

// Module is one vendor module and the revision the mapping was written for.
type Module struct {
	Name     string
	Revision string
	Line     int
}

// Read says where the session list is and how devices deliver it.
type Read struct {
	// RPC, when set, is the operation that returns the list (Junos
	// get-flow-session-information); otherwise the list is read with <get>.
	RPC string
	// Input are RPC input leaves sent with the RPC, in file order.
	Input []KV
	// List is the schema path of the session list in the vendor module,
	// with the module name on the first step
	// (/ietf-nat:nat/instances/instance/mapping-table/mapping-entry).
	List string
	// Keys are the list keys the mapping assumes (empty: keyless list).
	Keys []string
	// Wrappers are elements devices put around the data that the schema
	// does not have (Junos chassis clusters: multi-routing-engine-results,
	// multi-routing-engine-item). They are looked through.
	Wrappers []string
	// Wings, when set, is the per-direction sub-list of an entry.
	Wings     *Wings
	Line      int
	ListLine  int
	KeysLine  int
	InputLine int
}

// KV is an ordered key and value.
type KV struct {
	Key, Value string
	Line       int
}

// Wings describes a per-direction sub-list (Junos flow-information): the
// entry whose Selector leaf is Original is the initiator's direction, the
// one with Reply the reply direction.
type Wings struct {
	List, Selector, Original, Reply string
	Line                            int
}

// Write says how sessions are written (read-write mappings).
type Write struct {
	// EditConfig is the schema path of the list written with
	// <edit-config> (usually the same as Read.List).
	EditConfig string
	// ParentKeys give the keys of the lists enclosing the written list,
	// by list name and key leaf ("instance/id": "1").
	ParentKeys []KV
	// Keys say how the list's own keys are made: a canonical path, or
	// the generator "id-hash32" (first 32 bits of SHA-256 of the id).
	Keys []KV
	Line int
}

// Derivation is a computed part of a session.
type Derivation string

// The derivations.
const (
	// DeriveNATFromTuples: the NAT is the difference between the original
	// tuple and the inverse of the reply tuple (Junos wings).
	DeriveNATFromTuples Derivation = "nat-from-tuples"
	// DeriveReplyFromNAT: the reply tuple is the inverse of the original
	// with the NAT applied, when the vendor does not report it.
	DeriveReplyFromNAT Derivation = "reply-from-nat"
)

var derivations = []Derivation{DeriveNATFromTuples, DeriveReplyFromNAT}

// Field maps one canonical leaf (Target, relative to the session, e.g.
// original/source-address, or vendor-parameter/NAME) from a vendor leaf or
// a constant, with an optional transform.
type Field struct {
	Target string
	// Path is the vendor leaf, relative to the list entry (or to the wing
	// entry when Wing is set).
	Path string
	Wing string // "", "original" or "reply"
	// Const is a constant value instead of a vendor leaf.
	Const   string
	IsConst bool
	// Number is how the vendor text is read as an integer: "decimal" or
	// "hex-or-decimal" (Junos prints some uint32 leaves as 0x...).
	Number string
	// Enum renames vendor values to canonical ones, in file order.
	Enum []KV
	// Otherwise is what happens to a value the Enum does not list:
	// "error", "keep" (use it as is) or "number" (parse it as a number).
	Otherwise string
	// HostPrefix reads an ip-prefix of one host (/32, /128) as an
	// address, and writes an address as a host prefix.
	HostPrefix bool
	// Narrow allows a vendor type wider than the canonical one; values
	// outside the canonical range are then refused per entry.
	Narrow bool
	// Multiply and Divide scale numbers (units: ms -> s is Divide 1000).
	Multiply, Divide uint64
	Units            string
	// Default is used when the vendor leaf is absent.
	Default    string
	HasDefault bool
	// Absent are vendor values that mean "no value" (Junos: Null).
	Absent []string
	// Direction limits the field to "read" or "write" (default both).
	Direction string
	Line      int
	PathLine  int
	EnumLine  int
}

// Reads reports whether the field is used when reading.
func (f *Field) Reads() bool { return f.Direction != "write" }

// Writes reports whether the field is used when writing.
func (f *Field) Writes() bool { return f.Direction != "read" && !f.IsConst }

// Unsupported declares a canonical leaf (or subtree) the vendor cannot
// express, and why.
type Unsupported struct {
	Path, Reason string
	Line         int
}

// HasDerive reports whether the mapping applies d.
func (m *Mapping) HasDerive(d Derivation) bool { return slices.Contains(m.Derive, d) }

// Writable reports whether sessions can be written through the mapping.
func (m *Mapping) Writable() bool { return m.Access == ReadWrite && m.Write != nil }

// Field returns the first read field for a canonical target, or nil.
func (m *Mapping) Field(target string) *Field {
	for _, f := range m.Fields {
		if f.Target == target && f.Reads() {
			return f
		}
	}
	return nil
}

// UnsupportedFor returns the declaration covering canonical path p (the
// path itself or an enclosing container), or nil.
func (m *Mapping) UnsupportedFor(p string) *Unsupported {
	for _, u := range m.Unsupported {
		if u.Path == p || strings.HasPrefix(p, u.Path+"/") {
			return u
		}
	}
	return nil
}

// dataPath is the list's path as elements in a reply: the module prefix
// and, for an RPC, the rpc and output steps removed.
func (m *Mapping) dataPath() []string {
	steps := schemaSteps(m.Read.List)
	if m.Read.RPC != "" && len(steps) >= 2 && steps[0] == m.Read.RPC && (steps[1] == "output") {
		steps = steps[2:]
	}
	return steps
}

// schemaSteps splits /mod:a/b/c into [a b c].
func schemaSteps(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	steps := strings.Split(p, "/")
	for i, s := range steps {
		if j := strings.IndexByte(s, ':'); j >= 0 {
			steps[i] = s[j+1:]
		}
	}
	return steps
}

// listModule is the module named on the first step of Read.List.
func (m *Mapping) listModule() string {
	p := strings.TrimPrefix(m.Read.List, "/")
	if i := strings.IndexByte(p, ':'); i >= 0 && !strings.Contains(p[:i], "/") {
		return p[:i]
	}
	if len(m.Vendor.Modules) > 0 {
		return m.Vendor.Modules[0].Name
	}
	return ""
}
