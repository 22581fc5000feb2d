package datastore

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/openconfig/ygot/ygot"
)

// The edit engine walks ygot-generated structs by reflection, using the
// `path` and `module` struct tags the generator writes (uncompressed
// structs: one schema node per field).

type fieldKind uint8

const (
	kindLeaf fieldKind = iota
	kindLeafList
	kindContainer
	kindList
)

type fieldInfo struct {
	index    int
	name     string // YANG node name
	module   string
	kind     fieldKind
	presence bool
	elem     *structInfo // container or list entry
	keyNames []string    // list: key leaf names in key order
	keyIndex []int       // list with a key struct: key struct field per keyNames
}

type structInfo struct {
	typ    reflect.Type // the struct type (not the pointer)
	fields []*fieldInfo
	byName map[string]*fieldInfo
}

var infoCache sync.Map // reflect.Type -> *structInfo

// infoOf describes the generated struct type t (a struct, not a pointer).
func infoOf(t reflect.Type) (*structInfo, error) {
	if v, ok := infoCache.Load(t); ok {
		return v.(*structInfo), nil
	}
	si := &structInfo{typ: t, byName: map[string]*fieldInfo{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("path")
		if !ok || !sf.IsExported() {
			continue
		}
		if strings.ContainsAny(tag, "/|") {
			return nil, fmt.Errorf("datastore: field %s.%s: path tag %q: compressed ygot structs are not supported", t.Name(), sf.Name, tag)
		}
		fi := &fieldInfo{index: i, name: tag, module: sf.Tag.Get("module"), presence: sf.Tag.Get("yangPresence") == "true"}
		ft := sf.Type
		switch {
		case ft.Kind() == reflect.Ptr && ft.Elem().Kind() == reflect.Struct:
			fi.kind = kindContainer
		case ft.Kind() == reflect.Map:
			fi.kind = kindList
		case ft.Kind() == reflect.Slice && ft.Name() == "":
			fi.kind = kindLeafList // named slices (Binary) are leaves
		default:
			fi.kind = kindLeaf
		}
		si.fields = append(si.fields, fi)
		si.byName[tag] = fi
	}
	// Store before recursing would allow cycles; YANG trees have none.
	for _, fi := range si.fields {
		ft := t.Field(fi.index).Type
		switch fi.kind {
		case kindContainer:
			child, err := infoOf(ft.Elem())
			if err != nil {
				return nil, err
			}
			fi.elem = child
		case kindList:
			if ft.Elem().Kind() != reflect.Ptr || ft.Elem().Elem().Kind() != reflect.Struct {
				return nil, fmt.Errorf("datastore: list field %s.%s is not a map of struct pointers", t.Name(), fi.name)
			}
			child, err := infoOf(ft.Elem().Elem())
			if err != nil {
				return nil, err
			}
			fi.elem = child
			if err := fi.bindKeys(ft); err != nil {
				return nil, err
			}
		}
	}
	v, _ := infoCache.LoadOrStore(t, si)
	return v.(*structInfo), nil
}

// bindKeys finds the key leaf names of a list. A multi-key list has a key
// struct whose fields carry path tags; a single-key list's key name comes
// from the generated ΛListKeyMap of an entry whose leaves are all set.
func (fi *fieldInfo) bindKeys(mapType reflect.Type) error {
	kt := mapType.Key()
	if kt.Kind() == reflect.Struct {
		for i := range kt.NumField() {
			if tag, ok := kt.Field(i).Tag.Lookup("path"); ok {
				fi.keyNames = append(fi.keyNames, tag)
				fi.keyIndex = append(fi.keyIndex, i)
			}
		}
		if len(fi.keyNames) == 0 {
			return fmt.Errorf("datastore: list %s: key struct without path tags", fi.name)
		}
		return nil
	}
	entry := reflect.New(fi.elem.typ)
	for _, f := range fi.elem.fields {
		fv := entry.Elem().Field(f.index)
		if f.kind == kindLeaf && fv.Kind() == reflect.Ptr {
			fv.Set(reflect.New(fv.Type().Elem()))
		}
	}
	km, ok := entry.Interface().(ygot.KeyHelperGoStruct)
	if !ok {
		return fmt.Errorf("datastore: list %s: entry type has no ΛListKeyMap", fi.name)
	}
	m, err := km.ΛListKeyMap()
	if err != nil || len(m) != 1 {
		return fmt.Errorf("datastore: list %s: cannot find the key leaf (%v)", fi.name, err)
	}
	for k := range m {
		fi.keyNames = []string{k}
	}
	return nil
}

// keyOf returns the key values of a list map key, by key name.
func (fi *fieldInfo) keyOf(k reflect.Value) map[string]reflect.Value {
	if len(fi.keyIndex) == 0 {
		return map[string]reflect.Value{fi.keyNames[0]: k}
	}
	out := make(map[string]reflect.Value, len(fi.keyNames))
	for i, n := range fi.keyNames {
		out[n] = k.Field(fi.keyIndex[i])
	}
	return out
}

// predicates renders the XPath key predicates of the entry with map key k.
func (fi *fieldInfo) predicates(k reflect.Value) string {
	kv := fi.keyOf(k)
	var b strings.Builder
	for _, n := range fi.keyNames {
		s := keyText(kv[n])
		q := "'"
		if strings.Contains(s, "'") {
			q = `"`
		}
		b.WriteString("[" + n + "=" + q + s + q + "]")
	}
	return b.String()
}

// keyText formats a key value as its XML text (enumerations by name, via
// the generated String method).
func keyText(v reflect.Value) string {
	if v.Kind() == reflect.Interface || v.Kind() == reflect.Ptr {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v.Interface())
}

// keyMatches reports whether the key value v is the one written as text
// in the document (numbers are compared by value: "007" matches 7).
func keyMatches(v reflect.Value, text string) bool {
	if keyText(v) == text {
		return true
	}
	text = strings.TrimSpace(text)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, isEnum := v.Interface().(fmt.Stringer); isEnum {
			return false
		}
		n, err := strconv.ParseInt(text, 10, 64)
		return err == nil && n == v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(text, 10, 64)
		return err == nil && n == v.Uint()
	}
	return false
}

// lookupEntry finds the entry of list map m whose keys are written as
// keys (name -> text); the zero Value when there is none.
func (fi *fieldInfo) lookupEntry(m reflect.Value, keys map[string]string) (reflect.Value, reflect.Value) {
	if m.IsNil() {
		return reflect.Value{}, reflect.Value{}
	}
	if len(fi.keyIndex) == 0 && m.Type().Key().Kind() == reflect.String {
		k := reflect.ValueOf(keys[fi.keyNames[0]]).Convert(m.Type().Key())
		if e := m.MapIndex(k); e.IsValid() {
			return k, e
		}
	}
	it := m.MapRange()
	for it.Next() {
		kv := fi.keyOf(it.Key())
		ok := true
		for n, v := range kv {
			if t, given := keys[n]; !given || !keyMatches(v, t) {
				ok = false
				break
			}
		}
		if ok {
			return it.Key(), it.Value()
		}
	}
	return reflect.Value{}, reflect.Value{}
}

// sortedKeys returns the keys of list map m in a stable order.
func sortedKeys(m reflect.Value) []reflect.Value {
	keys := m.MapKeys()
	// Format each key once: formatting inside the comparison was millions
	// of fmt.Sprint calls for a 100k-entry list.
	type kt struct {
		text string
		key  reflect.Value
	}
	ks := make([]kt, len(keys))
	for i, k := range keys {
		if k.Kind() == reflect.String {
			ks[i] = kt{k.String(), k}
		} else {
			ks[i] = kt{fmt.Sprint(k.Interface()), k}
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].text < ks[j].text })
	for i := range ks {
		keys[i] = ks[i].key
	}
	return keys
}

// prune removes empty non-presence containers, empty lists and empty
// leaf-lists below the struct v, so that equal configurations have equal
// structs. It reports whether v itself is empty.
func prune(si *structInfo, v reflect.Value) bool {
	empty := true
	for _, f := range si.fields {
		fv := v.Field(f.index)
		switch f.kind {
		case kindContainer:
			if fv.IsNil() {
				continue
			}
			if prune(f.elem, fv.Elem()) && !f.presence {
				fv.SetZero()
				continue
			}
		case kindList:
			if fv.IsNil() {
				continue
			}
			it := fv.MapRange()
			for it.Next() {
				prune(f.elem, it.Value().Elem())
			}
			if fv.Len() == 0 {
				fv.SetZero()
				continue
			}
		case kindLeafList:
			if fv.Len() == 0 {
				fv.SetZero()
				continue
			}
		}
		if !fv.IsZero() {
			empty = false
		}
	}
	return empty
}
