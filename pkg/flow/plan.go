package flow

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
)

// A plan is what the canonical walker needs to know about a GoStruct type,
// computed once from reflection and the embedded schema so that walking a
// session does no tag parsing or schema look-ups.
type plan struct {
	fields []*field // sorted by name, so the encoding does not depend on Go field order
	keys   []*field // for list entries: the key leaves, in schema key order
	// tolerant holds, for the root plan, the chain of fields from the root
	// to each tolerant leaf, so Diff can read them without walking.
	tolerant [][]*field
}

type nodeKind uint8

const (
	nodeContainer nodeKind = iota + 1
	nodeList
	nodeLeaf
	nodeLeafList
)

type valueKind uint8

const (
	valString valueKind = iota + 1
	valUint
	valInt
	valFloat
	valBool
	valEnum
	valBinary
	valEmpty
	valUnion
)

// textKind marks string leaves whose YANG type has one meaning for several
// spellings; the walker encodes their meaning.
type textKind uint8

const (
	textPlain textKind = iota
	textAddress
	textDateTime
)

type field struct {
	name     string // the field's path tag, e.g. "source-address"
	path     string // schema path from the plan's root, e.g. "original/source-address"
	index    int    // Go struct field index
	kind     nodeKind
	presence bool // presence container: present even when empty
	volatile bool // left out of the digest and Diff
	tolerant bool // left out of the digest; compared by Diff with a tolerance
	sub      *plan

	val    valueKind
	text   textKind
	ptr    bool             // leaf held as a pointer
	enum   map[int64]string // enum value names
	defEnc []byte           // encoding of the YANG default; a leaf equal to it counts as absent
	header []byte           // encoded field name, written before the value
}

// volatility tells which leaves legitimately change between reading a session
// at the source and reading it back at the destination. The counters keep
// counting and last-seen moves with traffic, so they are ignored; created is
// stamped by the destination itself (ctnetlink cannot set it); remaining
// counts down, so Diff compares it with a tolerance and the digest ignores it.
func volatility(path string) (volatile, tolerant bool) {
	switch path {
	case "counters", "timers/last-seen", "timers/created":
		return true, false
	case remainingPath:
		return false, true
	}
	return false, false
}

// remainingPath is the session's remaining lifetime, in seconds.
const remainingPath = "timers/remaining"

// sessionPlan is computed at init and never modified.
var sessionPlan = mustPlan(reflect.TypeFor[Session]())

func mustPlan(t reflect.Type) *plan {
	p, err := newPlan(t)
	if err != nil {
		panic(fmt.Sprintf("flow: generated code does not match the walker: %v", err))
	}
	return p
}

// newPlan builds the plan of GoStruct type t (not a pointer), with paths
// relative to t.
func newPlan(t reflect.Type) (*plan, error) {
	e, ok := flowstate.SchemaTree[t.Name()]
	if !ok {
		return nil, fmt.Errorf("no schema for %s", t.Name())
	}
	p, err := buildPlan(t, e, "")
	if err != nil {
		return nil, err
	}
	var walk func(q *plan, chain []*field) error
	walk = func(q *plan, chain []*field) error {
		for _, f := range q.fields {
			c := append(slices.Clip(chain), f)
			switch {
			case f.tolerant && (f.kind != nodeLeaf || f.val != valUint):
				return fmt.Errorf("tolerant node %s is not an unsigned leaf", f.path)
			case f.tolerant:
				p.tolerant = append(p.tolerant, c)
			case f.kind == nodeContainer:
				if err := walk(f.sub, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return p, walk(p, nil)
}

var (
	goEnumType = reflect.TypeFor[ygot.GoEnum]()
	binaryType = reflect.TypeFor[flowstate.Binary]()
)

func buildPlan(t reflect.Type, e *yang.Entry, prefix string) (*plan, error) {
	p := &plan{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("path")
		if !ok {
			continue
		}
		// A field may carry alternative paths ("a|b"); the first is the
		// schema path relative to this struct.
		name, _, _ := strings.Cut(tag, "|")
		ce := e
		for _, el := range strings.Split(name, "/") {
			if ce = ce.Dir[el]; ce == nil {
				return nil, fmt.Errorf("%s: field %s: no schema node %q", t.Name(), sf.Name, name)
			}
		}
		f := &field{name: name, path: prefix + name, index: i}
		f.volatile, f.tolerant = volatility(f.path)
		f.header = binary.AppendUvarint(nil, uint64(len(name)))
		f.header = append(f.header, name...)
		if err := f.setKind(sf, ce); err != nil {
			return nil, fmt.Errorf("%s: field %s: %w", t.Name(), sf.Name, err)
		}
		p.fields = append(p.fields, f)
	}
	slices.SortFunc(p.fields, func(a, b *field) int { return cmp.Compare(a.name, b.name) })
	if e.Key != "" {
		for _, k := range strings.Fields(e.Key) {
			i := slices.IndexFunc(p.fields, func(f *field) bool { return f.name == k })
			if i < 0 {
				return nil, fmt.Errorf("%s: no field for list key %q", t.Name(), k)
			}
			p.keys = append(p.keys, p.fields[i])
		}
	}
	return p, nil
}

func (f *field) setKind(sf reflect.StructField, e *yang.Entry) error {
	t := sf.Type
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		f.kind = nodeContainer
		f.presence = sf.Tag.Get("yangPresence") == "true"
		sub, err := buildPlan(t.Elem(), e, f.path+"/")
		f.sub = sub
		return err
	case t.Kind() == reflect.Map:
		if t.Elem().Kind() != reflect.Pointer || t.Elem().Elem().Kind() != reflect.Struct {
			return fmt.Errorf("unsupported list type %s", t)
		}
		f.kind = nodeList
		sub, err := buildPlan(t.Elem().Elem(), e, f.path+"/")
		f.sub = sub
		return err
	case e.IsLeafList():
		if t.Kind() != reflect.Slice {
			return fmt.Errorf("leaf-list of Go type %s", t)
		}
		f.kind = nodeLeafList
		return f.setLeaf(t.Elem(), e)
	case e.IsLeaf():
		f.kind = nodeLeaf
		if t.Kind() == reflect.Pointer {
			f.ptr = true
			t = t.Elem()
		}
		if err := f.setLeaf(t, e); err != nil {
			return err
		}
		if d, ok := e.SingleDefaultValue(); ok {
			enc, err := f.encodeDefault(t, d)
			if err != nil {
				return fmt.Errorf("default %q: %w", d, err)
			}
			f.defEnc = enc
		}
		return nil
	}
	return fmt.Errorf("unsupported schema node kind %v for Go type %s", e.Kind, t)
}

// setLeaf sets how a scalar value of Go type t (after pointer indirection) is
// encoded.
func (f *field) setLeaf(t reflect.Type, e *yang.Entry) error {
	if e.Type != nil {
		switch e.Type.Name {
		case "ip-address", "ipv4-address", "ipv6-address",
			"ip-address-no-zone", "ipv4-address-no-zone", "ipv6-address-no-zone":
			f.text = textAddress
		case "date-and-time":
			f.text = textDateTime
		}
	}
	switch {
	case t == binaryType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && e.Type != nil && e.Type.Kind == yang.Ybinary):
		f.val = valBinary
	case t.Kind() == reflect.Interface:
		f.val = valUnion
	case t.Implements(goEnumType) && t.Kind() == reflect.Int64:
		f.val = valEnum
		m := reflect.Zero(t).Interface().(ygot.GoEnum).ΛMap()[t.Name()]
		if m == nil {
			return fmt.Errorf("enum %s has no value map", t)
		}
		f.enum = make(map[int64]string, len(m))
		for v, d := range m {
			f.enum[v] = d.Name
		}
	case t.Kind() == reflect.Bool && e.Type != nil && e.Type.Kind == yang.Yempty:
		f.val = valEmpty
	case t.Kind() == reflect.Bool:
		f.val = valBool
	case t.Kind() == reflect.String:
		f.val = valString
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		f.val = valUint
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		f.val = valInt
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		f.val = valFloat
	default:
		return fmt.Errorf("unsupported leaf type %s", t)
	}
	return nil
}

// encodeDefault returns the encoding of the YANG default d of a leaf of Go
// type t, so a leaf equal to its default encodes like an absent one.
func (f *field) encodeDefault(t reflect.Type, d string) ([]byte, error) {
	v := reflect.New(t).Elem()
	switch f.val {
	case valString:
		v.SetString(d)
	case valUint:
		u, err := strconv.ParseUint(d, 10, t.Bits())
		if err != nil {
			return nil, err
		}
		v.SetUint(u)
	case valInt:
		i, err := strconv.ParseInt(d, 10, t.Bits())
		if err != nil {
			return nil, err
		}
		v.SetInt(i)
	case valFloat:
		x, err := strconv.ParseFloat(d, t.Bits())
		if err != nil {
			return nil, err
		}
		v.SetFloat(x)
	case valBool:
		b, err := strconv.ParseBool(d)
		if err != nil {
			return nil, err
		}
		v.SetBool(b)
	case valEnum:
		for n, name := range f.enum {
			if name == d {
				v.SetInt(n)
			}
		}
		if v.Int() == 0 {
			return nil, fmt.Errorf("not a value of %s", t)
		}
	case valBinary:
		b, err := base64.StdEncoding.DecodeString(d)
		if err != nil {
			return nil, err
		}
		v.SetBytes(b)
	default:
		// Unions and empty leaves have no defaults that matter here.
		return nil, nil
	}
	enc, ok, err := f.appendValue(nil, v)
	if err != nil || !ok {
		return nil, err
	}
	return enc, nil
}

// ip-address values are compared by meaning; netip keeps the zone.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil
}
