package agent

import (
	"fmt"
	"reflect"
	"sync"
	"unicode/utf8"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
)

// Every change of the table becomes a gNMI notification with one update per
// leaf of the session. ygot.TogNMINotifications derives the paths from the
// struct tags and collects the leaves in a map on every call, which made
// the agent's gNMI feed the biggest CPU cost of a bulk commit; a plan per
// generated type (paths and field kinds worked out once) produces the same
// updates, with the values still encoded by ygot.EncodeTypedValue.

type leafKind uint8

const (
	leafValue     leafKind = iota // pointer to a scalar, leaf-list, binary, union
	leafEnum                      // enumeration: absent when 0
	leafEmpty                     // YANG empty: present when true
	leafContainer                 // pointer to a struct
	leafList                      // keyed list
)

type gnmiField struct {
	index int
	name  string
	kind  leafKind
	plan  *gnmiPlan     // leafContainer, leafList
	elem  *gpb.PathElem // the field's path element (no keys): shared, never modified
	basic reflect.Kind  // leafValue: the kind of a pointer to an unnamed scalar, else Invalid
}

type gnmiPlan struct {
	fields []gnmiField
	err    error
}

var gnmiPlans sync.Map // reflect.Type (struct) -> *gnmiPlan

// gnmiPlanFor returns the plan of generated struct type t. A field without
// a single-element path tag makes the plan fail (with the error
// TogNMINotifications would give too).
func gnmiPlanFor(t reflect.Type) *gnmiPlan {
	if p, ok := gnmiPlans.Load(t); ok {
		return p.(*gnmiPlan)
	}
	p := &gnmiPlan{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, ok := sf.Tag.Lookup("path")
		if !ok || name == "" || !sf.IsExported() {
			p.err = fmt.Errorf("field %s.%s has no path tag", t.Name(), sf.Name)
			break
		}
		for _, c := range name {
			if c == '/' || c == '|' {
				p.err = fmt.Errorf("field %s.%s: path %q: compressed structs are not supported", t.Name(), sf.Name, name)
			}
		}
		f := gnmiField{index: i, name: name, elem: &gpb.PathElem{Name: name}}
		ft := sf.Type
		switch ft.Kind() {
		case reflect.Pointer:
			switch et := ft.Elem(); {
			case et.Kind() == reflect.Struct:
				f.kind, f.plan = leafContainer, gnmiPlanFor(et)
			case et.PkgPath() == "" && et.Name() == et.Kind().String():
				f.basic = et.Kind()
			}
		case reflect.Map:
			if ft.Elem().Kind() != reflect.Pointer || ft.Elem().Elem().Kind() != reflect.Struct {
				p.err = fmt.Errorf("list %s.%s is not a map of structs", t.Name(), sf.Name)
			}
			f.kind, f.plan = leafList, gnmiPlanFor(ft.Elem().Elem())
		case reflect.Int64:
			f.kind = leafEnum
		case reflect.Bool:
			if ft.Name() != ygot.EmptyTypeName {
				continue // not a YANG type ygot renders
			}
			f.kind = leafEmpty
		case reflect.Slice:
			if ft.Elem().Kind() == reflect.Pointer {
				p.err = fmt.Errorf("keyless list %s.%s cannot be rendered", t.Name(), sf.Name)
			}
		}
		if p.err != nil {
			break
		}
		p.fields = append(p.fields, f)
	}
	v, _ := gnmiPlans.LoadOrStore(t, p)
	return v.(*gnmiPlan)
}

// gnmiUpdates appends to out one update per leaf below the struct pointer
// v, with paths relative to it, prefixed by rel (shared, never modified).
// The updates are those of ygot.TogNMINotifications, in schema order.
func gnmiUpdates(out []*gpb.Update, v reflect.Value, rel []*gpb.PathElem) ([]*gpb.Update, error) {
	p := gnmiPlanFor(v.Type().Elem())
	if p.err != nil {
		return out, p.err
	}
	sv := v.Elem()
	for _, f := range p.fields {
		fv := sv.Field(f.index)
		var val any
		switch f.kind {
		case leafContainer:
			if fv.IsNil() {
				continue
			}
			var err error
			if out, err = gnmiUpdates(out, fv, appendElem(rel, f.elem)); err != nil {
				return out, err
			}
			continue
		case leafList:
			it := fv.MapRange()
			for it.Next() {
				e := it.Value()
				if e.IsNil() {
					continue
				}
				keys, err := ygot.PathKeyFromStruct(e)
				if err != nil {
					return out, fmt.Errorf("list %s: %w", f.name, err)
				}
				if out, err = gnmiUpdates(out, e, appendElem(rel, &gpb.PathElem{Name: f.name, Key: keys})); err != nil {
					return out, err
				}
			}
			continue
		case leafEnum:
			if fv.Int() == 0 {
				continue // unset
			}
			val = fv.Interface()
		case leafEmpty:
			if !fv.Bool() {
				continue
			}
			val = fv.Interface()
		default:
			if (fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice || fv.Kind() == reflect.Interface || fv.Kind() == reflect.Map) && fv.IsNil() {
				continue
			}
			if tv := scalarValue(f.basic, fv); tv != nil {
				out = append(out, &gpb.Update{Path: &gpb.Path{Elem: appendElem(rel, f.elem)}, Val: tv})
				continue
			}
			val = fv.Interface()
		}
		tv, err := ygot.EncodeTypedValue(val, gpb.Encoding_JSON)
		if err != nil {
			return out, fmt.Errorf("leaf %s: %w", f.name, err)
		}
		if tv == nil {
			continue
		}
		out = append(out, &gpb.Update{Path: &gpb.Path{Elem: appendElem(rel, f.elem)}, Val: tv})
	}
	return out, nil
}

// scalarValue encodes the most common leaves, pointers to unnamed integers,
// strings and booleans, as ygot.EncodeTypedValue does (via
// value.FromScalar); nil leaves the value to it.
func scalarValue(k reflect.Kind, p reflect.Value) *gpb.TypedValue {
	switch k {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: p.Elem().Uint()}}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return &gpb.TypedValue{Value: &gpb.TypedValue_IntVal{IntVal: p.Elem().Int()}}
	case reflect.Bool:
		return &gpb.TypedValue{Value: &gpb.TypedValue_BoolVal{BoolVal: p.Elem().Bool()}}
	case reflect.String:
		if s := p.Elem().String(); utf8.ValidString(s) {
			return &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: s}}
		}
	}
	return nil
}

// appendElem returns rel + e in a new slice (rel is shared by siblings).
func appendElem(rel []*gpb.PathElem, e *gpb.PathElem) []*gpb.PathElem {
	out := make([]*gpb.PathElem, len(rel)+1)
	copy(out, rel)
	out[len(rel)] = e
	return out
}
