package sami

import (
	"testing"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"google.golang.org/protobuf/proto"
)

func sessionNotifications(tb testing.TB, s *flow.Session) []*gpb.Notification {
	tb.Helper()
	ns, err := ygot.TogNMINotifications(s, 1, ygot.GNMINotificationsConfig{UsePathElem: true,
		PathElemPrefix: []*gpb.PathElem{{Name: "flow-state"}, {Name: "sessions"}, {Name: "session", Key: map[string]string{"id": s.GetId()}}}})
	if err != nil {
		tb.Fatal(err)
	}
	return ns
}

// FuzzMirror feeds notifications from a device (untrusted input) to the
// watch mirror: it must not panic, and must deliver only whole sessions
// stored under their own id.
func FuzzMirror(f *testing.F) {
	s := devicetest.Session(1)
	for _, n := range sessionNotifications(f, s) {
		b, _ := proto.Marshal(n)
		f.Add(b, false)
	}
	del, _ := proto.Marshal(&gpb.Notification{Delete: []*gpb.Path{{Elem: []*gpb.PathElem{{Name: "flow-state"}, {Name: "sessions"}, {Name: "session", Key: map[string]string{"id": s.GetId()}}}}}})
	f.Add(del, true)
	f.Fuzz(func(t *testing.T, data []byte, known bool) {
		n := &gpb.Notification{}
		if proto.Unmarshal(data, n) != nil {
			return
		}
		check := func(d device.Delta) error {
			switch d.Type {
			case device.Upserted:
				if d.Session == nil || d.Session.GetId() != d.ID || flow.CheckKey(d.Session) != nil {
					t.Fatalf("delivered a session that is not whole or not under its id: %+v", d)
				}
			case device.Removed:
				if d.ID == "" {
					t.Fatal("removed without id")
				}
			}
			return nil
		}
		m, err := newMirror(nil, check)
		if err != nil {
			t.Fatal(err)
		}
		if known {
			m.known[s.GetId()] = devicetest.Session(1)
		}
		if err := m.add(n); err != nil {
			t.Fatal(err)
		}
		if err := m.flush(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMirror: leaf updates merge into the known copy; deletes of the
// session or its id are removals, deletes of other leaves remove them.
func TestMirror(t *testing.T) {
	s := devicetest.Session(1)
	prefix := &gpb.Path{Elem: []*gpb.PathElem{{Name: "flow-state"}, {Name: "sessions"}, {Name: "session", Key: map[string]string{"id": s.GetId()}}}}
	leaf := func(names ...string) *gpb.Path {
		p := &gpb.Path{}
		for _, n := range names {
			p.Elem = append(p.Elem, &gpb.PathElem{Name: n})
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		known bool
		n     []*gpb.Notification
		want  device.DeltaType
		check func(t *testing.T, s *flow.Session)
	}{
		{name: "whole new session", n: sessionNotifications(t, s), want: device.Upserted},
		{name: "partial update of a known session", known: true, want: device.Upserted,
			n: []*gpb.Notification{{Prefix: prefix, Update: []*gpb.Update{{Path: leaf("counters", "original", "packets"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: 7}}}}}},
			check: func(t *testing.T, got *flow.Session) {
				if got.GetCounters().GetOriginal().GetPackets() != 7 || got.GetTcp().GetState() != s.GetTcp().GetState() {
					t.Errorf("merged copy: %+v", got)
				}
			}},
		{name: "partial update of an unknown session", want: device.Resync,
			n: []*gpb.Notification{{Prefix: prefix, Update: []*gpb.Update{{Path: leaf("counters", "original", "packets"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: 7}}}}}}},
		{name: "leaf deleted", known: true, want: device.Upserted,
			n: []*gpb.Notification{{Prefix: prefix, Delete: []*gpb.Path{leaf("timers", "idle-timeout")}}},
			check: func(t *testing.T, got *flow.Session) {
				if got.GetTimers().IdleTimeout != nil {
					t.Error("idle-timeout still there")
				}
			}},
		{name: "session deleted leaf by leaf", known: true, want: device.Removed,
			n: []*gpb.Notification{{Prefix: prefix, Delete: []*gpb.Path{leaf("tcp", "state"), leaf("id"), leaf("protocol")}}}},
		{name: "leaf of the wrong type", known: true, want: device.Resync,
			n: []*gpb.Notification{{Prefix: prefix, Update: []*gpb.Update{{Path: leaf("protocol"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "tcp"}}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []device.Delta
			m, err := newMirror(nil, func(d device.Delta) error { got = append(got, d); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if tc.known {
				m.known[s.GetId()] = devicetest.Session(1)
			}
			for _, n := range tc.n {
				if err := m.add(n); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.flush(); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Type != tc.want {
				t.Fatalf("deltas %+v, want one %v", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, got[0].Session)
			}
		})
	}
}
