package datastore

import (
	"bytes"
	"reflect"

	"github.com/openconfig/ygot/ygot"
)

// Stored trees are immutable, so a change shares every node it does not
// touch with the tree it was made from (copy on write: an edit copies the
// structs on the path to what it changes, and the maps of the lists it
// changes). That sharing is what makes an edit, a commit and a validation
// of a few sessions in a table of 100k cost a few sessions, not the table:
// a node shared by two trees is equal in both, and one that was valid in a
// validated tree is valid in any tree that shares it.

// shallow returns a new struct pointer holding a copy of the struct that
// the pointer p points to (the children are shared).
func shallow(p reflect.Value) reflect.Value {
	n := reflect.New(p.Type().Elem())
	n.Elem().Set(p.Elem())
	return n
}

// copyMap returns a new map with the entries of m (the entries are shared).
func copyMap(m reflect.Value) reflect.Value {
	n := reflect.MakeMapWithSize(m.Type(), m.Len())
	it := m.MapRange()
	for it.Next() {
		n.SetMapIndex(it.Key(), it.Value())
	}
	return n
}

// equalTrees reports whether two trees of the Store's root type hold the
// same configuration: reflect.DeepEqual's answer, without walking the
// nodes the trees share.
func (s *Store) equalTrees(a, b ygot.GoStruct) bool {
	if a == b {
		return true
	}
	av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
	if av.Type() != bv.Type() || av.IsNil() || bv.IsNil() {
		return reflect.DeepEqual(a, b)
	}
	return equalStruct(s.rootInfo, av.Elem(), bv.Elem(), &s.lin)
}

// equalStruct compares two structs of type si field by field; fields
// without a schema node are compared with reflect.DeepEqual. A list whose
// maps have a lineage (lin) is compared on the keys it touched.
func equalStruct(si *structInfo, a, b reflect.Value, lin *lineages) bool {
	if len(si.fields) != a.NumField() {
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
	for _, f := range si.fields {
		av, bv := a.Field(f.index), b.Field(f.index)
		switch f.kind {
		case kindContainer:
			if !equalPtr(f.elem, av, bv, lin) {
				return false
			}
		case kindList:
			if !equalMap(f.elem, av, bv, lin) {
				return false
			}
		default:
			if !equalLeaf(av, bv) {
				return false
			}
		}
	}
	return true
}

func equalPtr(si *structInfo, a, b reflect.Value, lin *lineages) bool {
	switch {
	case a.Pointer() == b.Pointer():
		return true
	case a.IsNil() || b.IsNil():
		return false
	}
	return equalStruct(si, a.Elem(), b.Elem(), lin)
}

func equalMap(si *structInfo, a, b reflect.Value, lin *lineages) bool {
	switch {
	case a.IsNil() != b.IsNil() || a.Len() != b.Len():
		return false
	case a.Pointer() == b.Pointer():
		return true
	}
	if keys, ok := lin.changed(a, b); ok {
		for _, k := range keys {
			ae, be := a.MapIndex(k), b.MapIndex(k)
			if ae.IsValid() != be.IsValid() || (ae.IsValid() && !equalPtr(si, ae, be, lin)) {
				return false
			}
		}
		return true
	}
	it := a.MapRange()
	for it.Next() {
		be := b.MapIndex(it.Key())
		if !be.IsValid() || !equalPtr(si, it.Value(), be, lin) {
			return false
		}
	}
	return true
}

// equalLeaf compares leaf and leaf-list values the way reflect.DeepEqual
// does (a nil slice differs from an empty one).
func equalLeaf(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer:
		switch {
		case a.Pointer() == b.Pointer():
			return true
		case a.IsNil() || b.IsNil():
			return false
		}
		if a.Elem().Comparable() {
			return a.Elem().Equal(b.Elem())
		}
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		if a.Type().Elem().Kind() == reflect.Uint8 {
			return bytes.Equal(a.Bytes(), b.Bytes())
		}
		for i := range a.Len() {
			if !a.Index(i).Comparable() || !a.Index(i).Equal(b.Index(i)) {
				return reflect.DeepEqual(a.Interface(), b.Interface())
			}
		}
		return true
	case reflect.Interface, reflect.Map, reflect.Struct:
	default:
		return a.Equal(b)
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// unshared returns what of the tree t needs validating when base passed
// validation: a shallow copy of t in which every list holds only the
// entries that are not shared with base (same place, same key, same
// pointer). Validation checks each node on its own (mandatory children,
// values, keys), so a node shared with a valid tree is valid; the
// containers on the way are kept (with their leaves) so the paths and the
// mandatory checks of what remains stay those of t. A list whose maps have
// a lineage is looked at on the keys it touched only.
func unshared(si *structInfo, t, base reflect.Value, lin *lineages) reflect.Value {
	n := shallow(t)
	for _, f := range si.fields {
		fv := n.Elem().Field(f.index)
		if fv.IsNil() || (f.kind != kindContainer && f.kind != kindList) {
			continue
		}
		var bf reflect.Value
		if base.IsValid() && !base.IsNil() {
			bf = base.Elem().Field(f.index)
		}
		if f.kind == kindContainer {
			fv.Set(unshared(f.elem, fv, bf, lin))
			continue
		}
		hasBase := bf.IsValid() && !bf.IsNil()
		if hasBase && bf.Pointer() == fv.Pointer() {
			fv.SetZero()
			continue
		}
		m := reflect.MakeMap(fv.Type())
		keep := func(k, e reflect.Value) {
			if hasBase {
				if be := bf.MapIndex(k); be.IsValid() && be.Pointer() == e.Pointer() {
					return
				}
			}
			m.SetMapIndex(k, e)
		}
		if keys, ok := lin.changed(fv, bf); hasBase && ok {
			for _, k := range keys {
				if e := fv.MapIndex(k); e.IsValid() {
					keep(k, e)
				}
			}
		} else {
			it := fv.MapRange()
			for it.Next() {
				keep(it.Key(), it.Value())
			}
		}
		if m.Len() == 0 {
			fv.SetZero()
		} else {
			fv.Set(m)
		}
	}
	return n
}
