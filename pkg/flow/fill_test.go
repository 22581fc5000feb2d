package flow_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

// This file fills every leaf of a session and changes one leaf at a time, by
// reflection over the generated structs and independently of the package's
// walker, so that the sensitivity tests cover leaves added to the model later
// without being edited.

// fullSession returns a session in which every leaf, leaf-list, container
// and list holds a value different from its YANG default.
func fullSession(t testing.TB) *flow.Session {
	t.Helper()
	s := &flow.Session{}
	f := filler{t: t}
	f.fill(reflect.ValueOf(s).Elem(), schemaOf(t, reflect.TypeFor[flow.Session]()))
	return s
}

func schemaOf(t testing.TB, typ reflect.Type) *yang.Entry {
	e, ok := flowstate.SchemaTree[typ.Name()]
	if !ok {
		t.Fatalf("no schema for %s", typ.Name())
	}
	return e
}

type filler struct {
	t testing.TB
	n int
}

func (f *filler) fill(v reflect.Value, e *yang.Entry) {
	typ := v.Type()
	for i := range typ.NumField() {
		sf := typ.Field(i)
		tag, ok := sf.Tag.Lookup("path")
		if !ok {
			continue
		}
		ce := e.Dir[tag]
		if ce == nil {
			f.t.Fatalf("%s.%s: no schema node %q", typ.Name(), sf.Name, tag)
		}
		fv := v.Field(i)
		f.n++
		switch {
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct:
			nv := reflect.New(sf.Type.Elem())
			f.fill(nv.Elem(), ce)
			fv.Set(nv)
		case sf.Type.Kind() == reflect.Map:
			ev := reflect.New(sf.Type.Elem().Elem())
			f.fill(ev.Elem(), ce)
			m := reflect.MakeMap(sf.Type)
			m.SetMapIndex(f.mapKey(sf.Type.Key(), ev.Elem(), ce), ev)
			fv.Set(m)
		default:
			fv.Set(f.leaf(sf.Type, ce))
		}
	}
}

// mapKey builds the map key of list entry v from its key leaves.
func (f *filler) mapKey(kt reflect.Type, v reflect.Value, e *yang.Entry) reflect.Value {
	byTag := func(tag string) reflect.Value {
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("path") == tag {
				return v.Field(i).Elem()
			}
		}
		f.t.Fatalf("list %s: no key field %q", e.Name, tag)
		return reflect.Value{}
	}
	if kt.Kind() != reflect.Struct {
		return byTag(e.Key).Convert(kt)
	}
	k := reflect.New(kt).Elem()
	for i := range kt.NumField() {
		k.Field(i).Set(byTag(kt.Field(i).Tag.Get("path")))
	}
	return k
}

func (f *filler) leaf(typ reflect.Type, e *yang.Entry) reflect.Value {
	switch {
	case typ.Kind() == reflect.Slice && e.IsLeafList():
		// Two values in descending order, so that sorting is exercised.
		a, b := f.scalar(typ.Elem(), e, 0), f.scalar(typ.Elem(), e, 1)
		return reflect.Append(reflect.MakeSlice(typ, 0, 2), b, a)
	case typ.Kind() == reflect.Pointer:
		p := reflect.New(typ.Elem())
		p.Elem().Set(f.scalar(typ.Elem(), e, 0))
		return p
	}
	return f.scalar(typ, e, 0)
}

// scalar returns the i-th test value of a leaf of type typ.
func (f *filler) scalar(typ reflect.Type, e *yang.Entry, i int) reflect.Value {
	v := reflect.New(typ).Elem()
	switch {
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8:
		v.SetBytes([]byte{1, 2, byte(f.n)})
	case typ.Kind() == reflect.Int64 && typ.Implements(reflect.TypeFor[ygot.GoEnum]()):
		vals := enumValues(typ)
		v.SetInt(vals[i%len(vals)])
	case typ.Kind() == reflect.Bool:
		v.SetBool(true)
	case typ.Kind() == reflect.String:
		switch e.Type.Name {
		case "ip-address":
			v.SetString(fmt.Sprintf("192.0.2.%d", f.n+i))
		case "date-and-time":
			v.SetString(benchEpoch.Add(time.Duration(f.n+i) * time.Second).Format(time.RFC3339))
		default:
			v.SetString(fmt.Sprintf("%s-%d", e.Name, f.n+i))
		}
	case typ.Kind() >= reflect.Uint8 && typ.Kind() <= reflect.Uint64:
		v.SetUint(uint64(f.n%10 + 1 + 2*i)) // within every range of the model, never a default of 0
	default:
		f.t.Fatalf("leaf %s: no test value for Go type %s; extend the filler", e.Name, typ)
	}
	return v
}

func enumValues(typ reflect.Type) []int64 {
	m := reflect.Zero(typ).Interface().(ygot.GoEnum).ΛMap()[typ.Name()]
	var vals []int64
	for k := range m {
		vals = append(vals, k)
	}
	slices.Sort(vals)
	return vals
}

// mutation changes one leaf of a session; ok is false when leaf i does not
// exist.
type mutation func(s *flow.Session, i int) (path string, ok bool)

// changeLeaf sets leaf i to another value.
func changeLeaf(s *flow.Session, i int) (string, bool) {
	return walkLeaves(reflect.ValueOf(s).Elem(), "", &i, changeValue)
}

// removeLeaf removes leaf i.
func removeLeaf(s *flow.Session, i int) (string, bool) {
	return walkLeaves(reflect.ValueOf(s).Elem(), "", &i, func(v reflect.Value) { v.SetZero() })
}

// walkLeaves applies mod to the i-th leaf in field order and returns its
// schema path (list entries unnamed).
func walkLeaves(v reflect.Value, prefix string, i *int, mod func(reflect.Value)) (string, bool) {
	typ := v.Type()
	for k := range typ.NumField() {
		tag, ok := typ.Field(k).Tag.Lookup("path")
		if !ok {
			continue
		}
		fv := v.Field(k)
		path := prefix + tag
		switch {
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct:
			if fv.IsNil() {
				continue
			}
			if p, ok := walkLeaves(fv.Elem(), path+"/", i, mod); ok {
				return p, true
			}
		case fv.Kind() == reflect.Map:
			for _, ev := range fv.Seq2() {
				if p, ok := walkLeaves(ev.Elem(), path+"/", i, mod); ok {
					return p, true
				}
			}
		default:
			if *i == 0 {
				mod(fv)
				return path, true
			}
			*i--
		}
	}
	return "", false
}

func changeValue(v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch {
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 && v.Type().Name() != "":
		v.SetBytes(append(slices.Clone(v.Bytes()), 0xff)) // binary
	case v.Kind() == reflect.Slice:
		// A leaf-list gets one more value than it had.
		e := reflect.New(v.Type().Elem()).Elem()
		if e.Kind() == reflect.Int64 {
			have := map[int64]bool{}
			for _, y := range v.Seq2() {
				have[y.Int()] = true
			}
			for _, x := range enumValues(e.Type()) {
				if !have[x] {
					e.SetInt(x)
					break
				}
			}
		} else {
			e.SetUint(100)
		}
		v.Set(reflect.Append(v, e))
	case v.Kind() == reflect.Int64:
		vals := enumValues(v.Type())
		i := slices.Index(vals, v.Int())
		v.SetInt(vals[(i+1)%len(vals)])
	case v.Kind() == reflect.Bool:
		v.SetBool(!v.Bool())
	case v.Kind() == reflect.String:
		s := v.String()
		if a, err := netip.ParseAddr(s); err == nil {
			v.SetString(a.Next().String())
		} else if tm, err := time.Parse(time.RFC3339, s); err == nil {
			v.SetString(tm.Add(time.Second).Format(time.RFC3339))
		} else {
			v.SetString(s + "x")
		}
	case v.Kind() >= reflect.Uint8 && v.Kind() <= reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	default:
		panic("changeValue: unsupported " + v.Type().String())
	}
}

// isVolatile lists the leaves the digest must ignore.
func isVolatile(path string) bool {
	return strings.HasPrefix(path, "counters/") || path == "timers/remaining" || path == "timers/last-seen" || path == "timers/created"
}
