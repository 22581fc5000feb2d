package simfw

import (
	"reflect"
	"sync"

	"github.com/sami-netops/sami/pkg/flow"
)

// The firewall copies a session on every write, read and event (callers
// own what they get and may change it). ygot.DeepCopy walks the struct
// generically (about 50 allocations and several microseconds a session);
// a copy plan per generated type does the same in a fraction of that: a
// shallow copy of the struct, then a copy of each field that refers to
// memory (leaf pointers, containers, leaf-lists, lists, unions).

type copyKind uint8

const (
	copyPtrScalar copyKind = iota // *uint8, *string, ...
	copyPtrStruct                 // container
	copySlice                     // leaf-list, binary
	copyMap                       // keyed list
	copyIface                     // union
)

type copyField struct {
	index int
	kind  copyKind
	plan  *copyPlan // copyPtrStruct, copyMap of struct pointers
}

type copyPlan struct {
	fields []copyField
}

var copyPlans sync.Map // reflect.Type (struct) -> *copyPlan

// planFor returns the copy plan of struct type t.
func planFor(t reflect.Type) *copyPlan {
	if p, ok := copyPlans.Load(t); ok {
		return p.(*copyPlan)
	}
	p := &copyPlan{}
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			continue // generated structs have none; a plain copy is all we can do
		}
		ft := t.Field(i).Type
		switch ft.Kind() {
		case reflect.Pointer:
			if ft.Elem().Kind() == reflect.Struct {
				p.fields = append(p.fields, copyField{index: i, kind: copyPtrStruct, plan: planFor(ft.Elem())})
			} else {
				p.fields = append(p.fields, copyField{index: i, kind: copyPtrScalar})
			}
		case reflect.Slice:
			p.fields = append(p.fields, copyField{index: i, kind: copySlice})
		case reflect.Map:
			f := copyField{index: i, kind: copyMap}
			if et := ft.Elem(); et.Kind() == reflect.Pointer && et.Elem().Kind() == reflect.Struct {
				f.plan = planFor(et.Elem())
			}
			p.fields = append(p.fields, f)
		case reflect.Interface:
			p.fields = append(p.fields, copyField{index: i, kind: copyIface})
		}
	}
	v, _ := copyPlans.LoadOrStore(t, p)
	return v.(*copyPlan)
}

// clone returns a deep copy of s that shares no memory with it.
func clone(s *flow.Session) *flow.Session {
	if s == nil {
		return nil
	}
	c := new(flow.Session)
	*c = *s
	planFor(reflect.TypeFor[flow.Session]()).fix(reflect.ValueOf(c).Elem())
	return c
}

// fix replaces the references of v (an addressable struct that is a
// shallow copy) by copies.
func (p *copyPlan) fix(v reflect.Value) {
	for _, f := range p.fields {
		fv := v.Field(f.index)
		if fv.IsNil() {
			continue
		}
		switch f.kind {
		case copyPtrScalar:
			n := reflect.New(fv.Type().Elem())
			n.Elem().Set(fv.Elem())
			fv.Set(n)
		case copyPtrStruct:
			fv.Set(f.plan.copyPtr(fv))
		case copySlice:
			fv.Set(copySliceOf(fv))
		case copyMap:
			m := reflect.MakeMapWithSize(fv.Type(), fv.Len())
			it := fv.MapRange()
			for it.Next() {
				e := it.Value()
				switch {
				case f.plan != nil && !e.IsNil():
					e = f.plan.copyPtr(e)
				default:
					e = copyAny(e)
				}
				m.SetMapIndex(it.Key(), e)
			}
			fv.Set(m)
		case copyIface:
			fv.Set(copyAny(fv))
		}
	}
}

// copyPtr copies the struct pointer v.
func (p *copyPlan) copyPtr(v reflect.Value) reflect.Value {
	n := reflect.New(v.Type().Elem())
	n.Elem().Set(v.Elem())
	p.fix(n.Elem())
	return n
}

func copySliceOf(v reflect.Value) reflect.Value {
	n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	switch v.Type().Elem().Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Struct:
	default: // values without references: leaf-lists, binary
		reflect.Copy(n, v)
		return n
	}
	for i := range v.Len() {
		n.Index(i).Set(copyAny(v.Index(i)))
	}
	return n
}

// copyAny deep-copies a value of any kind (the rare shapes: union members,
// lists of non-struct values).
func copyAny(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type()).Elem()
		n.Set(copyAny(v.Elem()))
		return n
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		if v.Elem().Kind() == reflect.Struct {
			return planFor(v.Type().Elem()).copyPtr(v)
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(copyAny(v.Elem()))
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		return copySliceOf(v)
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			n.SetMapIndex(it.Key(), copyAny(it.Value()))
		}
		return n
	case reflect.Struct:
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		planFor(v.Type()).fix(n)
		return n
	}
	return v
}
