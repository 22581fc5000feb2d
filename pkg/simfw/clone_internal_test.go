package simfw

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
)

// fill sets every field below v (an addressable value) to something that
// is not zero: each pointer allocated, each leaf-list and binary given two
// values, each list one entry; seed varies the values.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed+i)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), seed)
		fill(v.Index(1), seed+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, seed)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, seed)
		v.SetMapIndex(k, e)
	case reflect.Interface:
		v.Set(reflect.ValueOf(flowstate.UnionUint64(seed)))
	case reflect.String:
		v.SetString("s" + string(rune('a'+seed%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(1 + seed%3))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(1 + seed%100))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	}
}

// refs collects the addresses of every pointer, slice array and map below v.
func refs(v reflect.Value, out map[uintptr]string, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out[v.Pointer()] = path
			refs(v.Elem(), out, path)
		}
	case reflect.Interface:
		if !v.IsNil() {
			refs(v.Elem(), out, path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			refs(v.Field(i), out, path+"/"+v.Type().Field(i).Name)
		}
	case reflect.Slice:
		if v.Len() > 0 {
			out[v.Pointer()] = path
		}
		for i := range v.Len() {
			refs(v.Index(i), out, path)
		}
	case reflect.Map:
		if !v.IsNil() {
			out[v.Pointer()] = path
		}
		it := v.MapRange()
		for it.Next() {
			refs(it.Value(), out, path)
		}
	}
}

func TestCloneIsADeepCopy(t *testing.T) {
	full := &flow.Session{}
	fill(reflect.ValueOf(full).Elem(), 1)
	withUnion := &flow.Session{}
	fill(reflect.ValueOf(withUnion).Elem(), 7)
	withUnion.VendorData = nil
	for name, s := range map[string]*flow.Session{
		"every field set": full,
		"some unset":      withUnion,
		"typical":         devicetest.Session(42),
		"empty":           {},
	} {
		t.Run(name, func(t *testing.T) {
			c := clone(s)
			if diff := cmp.Diff(s, c); diff != "" {
				t.Fatalf("clone differs (-orig +clone):\n%s", diff)
			}
			want, err := ygot.DeepCopy(s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, ygot.GoStruct(c)); diff != "" {
				t.Errorf("clone differs from ygot.DeepCopy:\n%s", diff)
			}
			orig, copied := map[uintptr]string{}, map[uintptr]string{}
			refs(reflect.ValueOf(s), orig, "")
			refs(reflect.ValueOf(c), copied, "")
			for p, path := range copied {
				if o, ok := orig[p]; ok {
					t.Errorf("clone shares %s with the original (%s)", path, o)
				}
			}
		})
	}
	if clone(nil) != nil {
		t.Error("clone(nil) != nil")
	}
}

func BenchmarkClone(b *testing.B) {
	s := devicetest.Session(5)
	b.Run("clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clone(s)
		}
	})
	b.Run("ygot.DeepCopy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ygot.DeepCopy(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
