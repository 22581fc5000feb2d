package agent

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/gnmiserver"
	"github.com/sami-netops/sami/pkg/simfw"
	"google.golang.org/protobuf/encoding/prototext"
)

// fill sets every field below v (addressable) to a valid non-zero value:
// enumerations to their first value, leaf-lists and binary to two values,
// lists to one entry.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), seed+i)
		}
	case reflect.Slice:
		n := 2
		if _, enum := reflect.Zero(v.Type().Elem()).Interface().(ygot.GoEnum); enum {
			n = 1
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(v.Index(i), seed+i)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, seed)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, seed)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("s" + string(rune('a'+seed%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int64:
		if e, ok := v.Interface().(ygot.GoEnum); ok { // the lowest value
			vals := slices.Sorted(maps.Keys(e.ΛMap()[v.Type().Name()]))
			v.SetInt(vals[0])
			break
		}
		v.SetInt(int64(1 + seed%3))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		v.SetInt(int64(1 + seed%3))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(1 + seed%100))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	}
}

// canonical renders a notification's updates sorted, for comparison.
func canonical(t *testing.T, ns ...*gpb.Notification) []string {
	t.Helper()
	var out []string
	for _, n := range ns {
		for _, u := range n.GetUpdate() {
			out = append(out, prototext.Format(n.GetPrefix())+" | "+prototext.Format(u))
		}
		for _, d := range n.GetDelete() {
			out = append(out, prototext.Format(n.GetPrefix())+" | delete "+prototext.Format(d))
		}
	}
	sort.Strings(out)
	return out
}

// The plan-based encoder gives exactly the updates of
// ygot.TogNMINotifications.
func TestNotificationMatchesYgot(t *testing.T) {
	full := &flow.Session{}
	fill(reflect.ValueOf(full).Elem(), 3)
	sparse := devicetest.Session(7)
	sparse.Label = []uint8{1, 5}
	for name, s := range map[string]*flow.Session{
		"every leaf":   full,
		"typical":      devicetest.Session(1),
		"labels":       sparse,
		"only the key": {Id: ygot.String("x")},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := notification(backend.Event{Type: backend.Updated, Session: s})
			if err != nil {
				t.Fatal(err)
			}
			want, err := ygot.TogNMINotifications(s, got.Timestamp, ygot.GNMINotificationsConfig{UsePathElem: true, PathElemPrefix: sessionPath(s.GetId())})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(canonical(t, want...), canonical(t, got)); diff != "" {
				t.Errorf("updates differ from ygot's (-ygot +ours):\n%s", diff)
			}
			if len(got.Update) == 0 && name != "only the key" {
				t.Error("no updates")
			}
		})
	}
}

func TestNotificationDestroyed(t *testing.T) {
	s := devicetest.Session(1)
	n, err := notification(backend.Event{Type: backend.Destroyed, Session: s})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Update) != 0 || len(n.Delete) != 1 || n.Timestamp > time.Now().UnixNano() {
		t.Errorf("notification = %v, want one delete", n)
	}
	if got := n.Delete[0].Elem[2].Key["id"]; got != s.GetId() {
		t.Errorf("deleted id %q, want %q", got, s.GetId())
	}
}

func BenchmarkNotification(b *testing.B) {
	s := devicetest.Session(5)
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := notification(backend.Event{Type: backend.Updated, Session: s}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ygot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ygot.TogNMINotifications(s, 1, ygot.GNMINotificationsConfig{UsePathElem: true, PathElemPrefix: sessionPath(s.GetId())}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// flat renders every update as its full path and value, sorted.
func flat(ns []*gpb.Notification) []string {
	var out []string
	for _, n := range ns {
		for _, u := range n.GetUpdate() {
			var b strings.Builder
			for _, e := range append(append([]*gpb.PathElem{}, n.GetPrefix().GetElem()...), u.GetPath().GetElem()...) {
				b.WriteString("/" + e.GetName())
				for _, k := range slices.Sorted(maps.Keys(e.GetKey())) {
					b.WriteString("[" + k + "=" + e.GetKey()[k] + "]")
				}
			}
			out = append(out, b.String()+" = "+prototext.Format(u.GetVal()))
		}
	}
	sort.Strings(out)
	return out
}

// Snapshot streams what Current holds, in the notifications Updates uses.
func TestGNMISnapshot(t *testing.T) {
	ctx := t.Context()
	fw := simfw.New(simfw.Vendors()["sami-sim"])
	var ss []*flow.Session
	for i := range snapshotBatch + 10 {
		ss = append(ss, devicetest.Session(i))
	}
	if err := fw.Upsert(ctx, ss); err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, fw)
	if err != nil {
		t.Fatal(err)
	}
	var got []*gpb.Notification
	calls := 0
	if err := a.GNMI().Snapshot(ctx, func(ns []*gpb.Notification) error { calls++; got = append(got, ns...); return nil }); err != nil {
		t.Fatal(err)
	}
	cur, err := a.GNMI().Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ygot.TogNMINotifications(cur, 1, ygot.GNMINotificationsConfig{UsePathElem: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(flat(want), flat(got)); diff != "" {
		t.Errorf("Snapshot differs from Current (-current +snapshot):\n%s", diff)
	}
	if calls != 3 {
		t.Errorf("fn called %d times, want 3 (capabilities, then batches of %d)", calls, snapshotBatch)
	}
	stop := errors.New("stop")
	if err := a.GNMI().Snapshot(ctx, func([]*gpb.Notification) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Snapshot with a failing fn = %v", err)
	}
}

var _ gnmiserver.SnapshotSource = (*GNMISource)(nil)
