package simfw_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
)

func sim(opts ...simfw.Option) *simfw.Firewall {
	return simfw.New(simfw.Vendors()["sami-sim"], opts...)
}

// mixed is a set of sessions that uses every feature.
func mixed() []*flow.Session {
	master := sess(tcp, "10.0.0.5", 40000, "198.51.100.21", 21, withHelper("ftp"))
	return []*flow.Session{
		sess(tcp, "10.0.0.5", 40001, "198.51.100.7", 443,
			withNAT("203.0.113.9"), withTCP(true, true), withLabels(3, 1), withMark(7),
			withTimers(300, 432000), withCounters(10, 1000)),
		sess(udp, "2001:db8::5", 5353, "2001:db8::53", 53, withZone(4)),
		sess(icmp, "10.0.0.5", 7, "192.0.2.1", 0),
		sess(gre, "10.0.0.5", 0, "192.0.2.2", 0),
		master,
		sess(tcp, "198.51.100.21", 20, "10.0.0.5", 50000, withMaster(id(master)), withHelper("ftp")),
		sess(tcp, "10.0.0.6", 40002, "198.51.100.7", 80, withoutID()),
	}
}

func TestRoundTrip(t *testing.T) {
	f := sim(simfw.WithClock(newClock().Now))
	in := mixed()
	upsert(t, f, in...)
	if f.Len() != len(in) {
		t.Fatalf("Len = %d, want %d", f.Len(), len(in))
	}
	got := dump(t, f)
	if digest(t, got) != digest(t, in) {
		t.Errorf("digest of the dump differs: %+v", flow.Diff(in, got))
	}
	if !slices.IsSortedFunc(got, func(a, b *flow.Session) int { return cmpString(a.GetId(), b.GetId()) }) {
		t.Errorf("dump not sorted by id: %v", ids(got))
	}
	// Every session has its key as id (also the one written without), and
	// the counters and timers are as given (the clock stood still).
	want := make([]*flow.Session, len(in))
	for i, s := range in {
		want[i] = clone(s)
		if err := flow.SetKey(want[i]); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(want, func(a, b *flow.Session) int { return cmpString(a.GetId(), b.GetId()) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dump (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, f.Snapshot()); diff != "" {
		t.Errorf("Snapshot differs from Dump (-dump +snapshot):\n%s", diff)
	}

	// Delete half, by full session and by bare key; deleting again is fine.
	k, err := flow.ParseKey(id(in[1]))
	if err != nil {
		t.Fatal(err)
	}
	del := []*flow.Session{in[0], k.Session(), in[6]}
	for range 2 {
		if err := f.Delete(t.Context(), del); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	got = dump(t, f)
	rest := []*flow.Session{in[2], in[3], in[4], in[5]}
	if digest(t, got) != digest(t, rest) {
		t.Errorf("after delete: %+v", flow.Diff(rest, got))
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestUpsertIdempotent(t *testing.T) {
	f := sim()
	s := nth(1, withMark(1))
	upsert(t, f, s)
	upsert(t, f, s)
	upsert(t, f, s, clone(s))
	if f.Len() != 1 {
		t.Fatalf("Len = %d after writing one session 4 times, want 1", f.Len())
	}
	changed := clone(s)
	changed.Mark = ygot.Uint32(2)
	upsert(t, f, changed)
	got := f.Snapshot()
	if len(got) != 1 || got[0].GetMark() != 2 {
		t.Errorf("after replacing: %v sessions, mark %d; want 1, 2", len(got), got[0].GetMark())
	}
}

func TestDeepCopies(t *testing.T) {
	f := sim()
	s := nth(1, withMark(1), withCounters(1, 2))
	upsert(t, f, s)
	s.Mark = ygot.Uint32(99)
	s.Counters.Original.Packets = ygot.Uint64(99)
	got := dump(t, f)
	got[0].Mark = ygot.Uint32(98)
	f.Snapshot()[0].Original.SourceAddress = ygot.String("192.0.2.99")
	want := nth(1, withMark(1), withCounters(1, 2))
	if diff := cmp.Diff([]*flow.Session{want}, f.Snapshot()); diff != "" {
		t.Errorf("the caller's mutations reached the table (-want +got):\n%s", diff)
	}
}

func TestUpsertInvalid(t *testing.T) {
	f := sim()
	bad := nth(2)
	bad.Id = ygot.String(id(nth(3)))
	noAddr := nth(4)
	noAddr.Original.SourceAddress = nil
	for name, tc := range map[string]struct {
		s    *flow.Session
		want error
	}{
		"id mismatch": {bad, flow.ErrKeyMismatch},
		"no key":      {noAddr, flow.ErrMissing},
		"nil":         {nil, flow.ErrNilSession},
	} {
		t.Run(name, func(t *testing.T) {
			err := f.Upsert(t.Context(), []*flow.Session{nth(1), tc.s})
			if !errors.Is(err, tc.want) {
				t.Errorf("Upsert = %v, want %v", err, tc.want)
			}
			if f.Len() != 0 {
				t.Errorf("Len = %d, want 0: nothing written", f.Len())
			}
		})
	}
}

func TestCapacity(t *testing.T) {
	p := simfw.Vendors()["sami-sim"]
	p.MaxSessions = 5
	for _, tc := range []struct {
		name          string
		present       int // sessions 0..present-1 in the table
		from, n       int // the batch
		wantNeed, fit uint64
		ok            bool
	}{
		{name: "fits exactly", present: 2, from: 2, n: 3, ok: true},
		{name: "one too many", present: 2, from: 2, n: 4, wantNeed: 4, fit: 3},
		{name: "present keys need no slot", present: 5, from: 0, n: 5, ok: true},
		{name: "present keys are not counted", present: 4, from: 2, n: 4, wantNeed: 2, fit: 1},
		{name: "full", present: 5, from: 5, n: 1, wantNeed: 1, fit: 0},
		{name: "duplicates count once", present: 4, from: 4, n: 1, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := simfw.New(p)
			upsert(t, f, batch(0, tc.present)...)
			before := f.Snapshot()
			events, _ := watch(t, f)
			b := batch(tc.from, tc.n)
			if tc.name == "duplicates count once" {
				b = append(b, clone(b[0]), clone(b[0]))
			}
			err := f.Upsert(t.Context(), b)
			if tc.ok {
				if err != nil {
					t.Fatalf("Upsert: %v", err)
				}
				return
			}
			var ce *backend.CapacityError
			if !errors.As(err, &ce) || !errors.Is(err, backend.ErrCapacity) {
				t.Fatalf("Upsert = %v, want a CapacityError", err)
			}
			if diff := cmp.Diff(&backend.CapacityError{Need: tc.wantNeed, Free: tc.fit}, ce); diff != "" {
				t.Errorf("CapacityError (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, f.Snapshot()); diff != "" {
				t.Errorf("table changed (-before +after):\n%s", diff)
			}
			noMore(t, events)
		})
	}
}

func TestUnsupported(t *testing.T) {
	v := simfw.Vendors()
	tests := []struct {
		vendor string
		s      *flow.Session
		want   string // missing feature; "" when accepted
	}{
		{"sami-sim", mixed()[0], ""},
		{"sami-sim", sess(icmpv6, "2001:db8::1", 1, "2001:db8::2", 0), ""},
		{"basic", nth(1, withNAT("203.0.113.1")), "nat"},
		{"basic", nth(1, withTCP(true, false)), "tcp-window-tracking"},
		{"basic", nth(1, withTCP(false, true)), ""},
		{"basic", nth(1, withTCP(false, false)), ""}, // liberal needs nothing
		{"basic", nth(1, withLabels(1)), "labels"},
		{"basic", nth(1, withZone(3), withMark(1), withHelper("ftp")), ""},
		{"basic", sess(gre, "10.0.0.1", 0, "10.0.0.2", 0), "protocol 47"},
		{"ipv4-only", sess(udp, "2001:db8::1", 1, "2001:db8::2", 2), "ipv6"},
		{"ipv4-only", sess(icmpv6, "2001:db8::1", 1, "2001:db8::2", 0), "protocol 58"},
		{"ipv4-only", mixed()[0], ""},
		{"branch", nth(1, withNAT("203.0.113.1"), withZone(2), withMark(3)), ""},
		{"branch", nth(1, withTCP(false, true)), "seq-tracking"},
		{"branch", nth(1, withHelper("sip")), "alg"},
		{"branch", nth(1, withMaster(id(nth(2)))), "alg"},
		{"branch", nth(1, withZone(0)), ""},
		{"branch", nth(1, withMark(0)), ""},
		{"custom no zones or marks", nth(1, withZone(1)), "zones"},
		{"custom no zones or marks", nth(1, withMark(1)), "marks"},
		{"custom no zones or marks", nth(1), ""},
	}
	v["custom no zones or marks"] = simfw.Personality{Vendor: "x"} // any protocol, no features
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d %s %s", i, tc.vendor, tc.want), func(t *testing.T) {
			p, ok := v[tc.vendor]
			if !ok {
				t.Fatalf("no personality %q", tc.vendor)
			}
			f := simfw.New(p)
			err := f.Upsert(t.Context(), []*flow.Session{nth(100), tc.s})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Upsert: %v", err)
				}
				return
			}
			var fe *simfw.FeatureError
			if !errors.As(err, &fe) || !errors.Is(err, backend.ErrUnsupported) {
				t.Fatalf("Upsert = %v, want a FeatureError", err)
			}
			if diff := cmp.Diff(&simfw.FeatureError{ID: id(tc.s), Feature: tc.want}, fe); diff != "" {
				t.Errorf("FeatureError (-want +got):\n%s", diff)
			}
			if f.Len() != 0 {
				t.Errorf("Len = %d, want 0: nothing written", f.Len())
			}
		})
	}
}

func TestMastersFirst(t *testing.T) {
	f := sim()
	events, _ := watch(t, f)
	m := nth(1, withHelper("sip"))
	r1 := nth(2, withMaster(id(m)))
	r2 := nth(3, withMaster(id(r1)))         // a chain
	loose := nth(4, withMaster(id(nth(99)))) // master elsewhere
	plain := nth(5)
	upsert(t, f, r2, loose, r1, plain, m)
	got := next(t, events, 5)
	want := []ev{
		{backend.Created, id(m)},
		{backend.Created, id(r1)},
		{backend.Created, id(r2)},
		{backend.Created, id(loose)},
		{backend.Created, id(plain)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("write order (-want +got):\n%s", diff)
	}
}

func TestWatch(t *testing.T) {
	c := newClock()
	f := sim(simfw.WithClock(c.Now))
	events, done := watch(t, f)
	events2, _ := watch(t, f)
	a, b := nth(1, withTimers(10, 10)), nth(2)
	upsert(t, f, a, b)
	upsert(t, f, b)
	if !f.Touch(id(b), 3, 300) {
		t.Fatal("Touch: no session")
	}
	if f.Touch(id(nth(3)), 1, 1) {
		t.Error("Touch of a missing session reported true")
	}
	if err := f.Delete(t.Context(), []*flow.Session{b, nth(3)}); err != nil {
		t.Fatal(err)
	}
	c.Advance(10 * time.Second)
	if n := f.Sweep(); n != 1 {
		t.Errorf("Sweep = %d, want 1", n)
	}
	want := []ev{
		{backend.Created, id(a)},
		{backend.Created, id(b)},
		{backend.Updated, id(b)},
		{backend.Updated, id(b)},
		{backend.Destroyed, id(b)},
		{backend.Destroyed, id(a)},
	}
	for i, ch := range []<-chan backend.Event{events, events2} {
		if diff := cmp.Diff(want, next(t, ch, len(want))); diff != "" {
			t.Errorf("watcher %d (-want +got):\n%s", i, diff)
		}
		noMore(t, ch)
	}
	f.Close()
	if err := result(t, done); !errors.Is(err, backend.ErrClosed) {
		t.Errorf("Watch after Close = %v, want ErrClosed", err)
	}
}

func TestWatchEventContent(t *testing.T) {
	f := sim()
	var mu sync.Mutex
	var got []*flow.Session
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- f.Watch(ctx, func(e backend.Event) error {
			mu.Lock()
			got = append(got, e.Session)
			mu.Unlock()
			e.Session.Mark = ygot.Uint32(1234) // a watcher may mutate its copy
			return nil
		})
	}()
	waitFor(t, func() bool { return f.Watchers() == 1 })
	s := nth(1, withCounters(5, 500))
	upsert(t, f, s)
	f.Touch(id(s), 1, 100)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch = %v, want Canceled", err)
	}
	if p, b := got[1].GetCounters().GetOriginal().GetPackets(), got[1].GetCounters().GetOriginal().GetBytes(); p != 6 || b != 600 {
		t.Errorf("counters after Touch: %d packets %d bytes, want 6 600", p, b)
	}
	if f.Snapshot()[0].GetMark() != 0 {
		t.Error("a watcher's mutation reached the table")
	}
}

func TestWatchFnError(t *testing.T) {
	f := sim()
	stop := errors.New("stop")
	done := make(chan error, 1)
	go func() { done <- f.Watch(t.Context(), func(backend.Event) error { return stop }) }()
	waitFor(t, func() bool { return f.Watchers() == 1 })
	upsert(t, f, nth(1))
	if err := result(t, done); !errors.Is(err, stop) {
		t.Errorf("Watch = %v, want fn's error", err)
	}
	waitFor(t, func() bool { return f.Watchers() == 0 })
}

func TestWatchOverflow(t *testing.T) {
	f := sim(simfw.WithWatchBuffer(4))
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	done := make(chan error, 1)
	var n int
	go func() {
		done <- f.Watch(t.Context(), func(backend.Event) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-block
			n++
			return nil
		})
	}()
	waitFor(t, func() bool { return f.Watchers() == 1 })
	// The first event is taken and the watcher sticks in fn with it, so
	// exactly the buffer's 4 events queue up behind it before the drop.
	upsert(t, f, nth(0))
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher never received the first event")
	}
	// The watcher is stuck in fn; writers go on.
	writes := make(chan struct{})
	go func() {
		for i := 1; i < 50; i++ {
			upsert(t, f, nth(i))
		}
		close(writes)
	}()
	select {
	case <-writes:
	case <-time.After(5 * time.Second):
		t.Fatal("a slow watcher blocked the writers")
	}
	if f.Watchers() != 0 {
		t.Errorf("Watchers = %d, want the slow one dropped", f.Watchers())
	}
	close(block)
	if err := result(t, done); !errors.Is(err, simfw.ErrOverflow) {
		t.Errorf("Watch = %v, want ErrOverflow", err)
	}
	if n != 5 {
		t.Errorf("delivered %d events before the overflow, want 5 (the one in hand and the 4 queued)", n)
	}
}

func TestExpiry(t *testing.T) {
	c := newClock()
	f := sim(simfw.WithClock(c.Now))
	fixed := flowstate.SamiFlowState_FlowState_Sessions_Session_Status_fixed_timeout
	short := nth(1, withTimers(30, 120))
	long := nth(2, withTimers(100, 120))
	pinned := nth(3, withTimers(50, 120, fixed))
	forever := nth(4)
	upsert(t, f, short, long, pinned, forever)
	events, _ := watch(t, f)

	remaining := func() map[string]uint32 {
		out := map[string]uint32{}
		for _, s := range dump(t, f) {
			if s.GetTimers() != nil && s.GetTimers().Remaining != nil {
				out[id(s)] = s.GetTimers().GetRemaining()
			}
		}
		return out
	}
	c.Advance(20*time.Second + 500*time.Millisecond)
	want := map[string]uint32{id(short): 9, id(long): 79, id(pinned): 29}
	if diff := cmp.Diff(want, remaining()); diff != "" {
		t.Errorf("remaining after 20.5s (-want +got):\n%s", diff)
	}
	if n := f.Sweep(); n != 0 {
		t.Errorf("Sweep removed %d, want 0", n)
	}
	// Traffic restarts the timer at idle-timeout, except a fixed one.
	f.Touch(id(long), 1, 60)
	f.Touch(id(pinned), 1, 60)
	if diff := cmp.Diff([]ev{{backend.Updated, id(long)}, {backend.Updated, id(pinned)}}, next(t, events, 2)); diff != "" {
		t.Errorf("Touch events (-want +got):\n%s", diff)
	}
	c.Advance(10 * time.Second) // 30.5s: short has run out
	want = map[string]uint32{id(short): 0, id(long): 110, id(pinned): 19}
	if diff := cmp.Diff(want, remaining()); diff != "" {
		t.Errorf("remaining after 30.5s (-want +got):\n%s", diff)
	}
	if n := f.Sweep(); n != 1 {
		t.Errorf("Sweep removed %d, want 1", n)
	}
	c.Advance(time.Hour)
	if n := f.Sweep(); n != 2 {
		t.Errorf("Sweep removed %d, want 2", n)
	}
	want2 := []ev{{backend.Destroyed, id(short)}, {backend.Destroyed, id(long)}, {backend.Destroyed, id(pinned)}}
	got := next(t, events, 3)
	slices.SortStableFunc(got[1:], func(a, b ev) int { return cmpString(a.ID, b.ID) })
	if diff := cmp.Diff(want2, got); diff != "" {
		t.Errorf("expiry events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{id(forever)}, ids(f.Snapshot())); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestSweepInterval(t *testing.T) {
	c := newClock()
	f := sim(simfw.WithClock(c.Now), simfw.WithSweepInterval(time.Millisecond))
	defer f.Close()
	upsert(t, f, nth(1, withTimers(5, 5)))
	c.Advance(6 * time.Second)
	waitFor(t, func() bool { return f.Len() == 0 })
}

func TestCapabilities(t *testing.T) {
	unlimited := flowstate.SamiFlowState_FlowState_Capabilities_MaxSessions_unlimited
	for _, tc := range []struct {
		vendor string
		max    uint64
		n      int
		want   *backend.Capabilities
	}{
		{vendor: "sami-sim", n: 3, want: &backend.Capabilities{
			Vendor: ygot.String("sami"), Model: ygot.String("simfw"), SoftwareVersion: ygot.String("1.0"),
			MaxSessions:        unlimited,
			ActiveSessions:     ygot.Uint64(3),
			SupportedProtocols: []uint8{1, 6, 17, 33, 47, 58, 132, 136},
			Features:           simfw.AllFeatures(),
		}},
		{vendor: "basic", n: 3, want: &backend.Capabilities{
			Vendor: ygot.String("sami"), Model: ygot.String("simfw-basic"), SoftwareVersion: ygot.String("1.0"),
			MaxSessions:        flowstate.UnionUint64(1000),
			ActiveSessions:     ygot.Uint64(3),
			FreeSlots:          ygot.Uint64(997),
			Utilization:        ygot.Float64(0.3),
			SupportedProtocols: []uint8{1, 6, 17, 58},
			Features: []flowstate.E_SamiFlowState_Feature{
				flowstate.SamiFlowState_Feature_alg,
				flowstate.SamiFlowState_Feature_ipv6,
				flowstate.SamiFlowState_Feature_marks,
				flowstate.SamiFlowState_Feature_seq_tracking,
				flowstate.SamiFlowState_Feature_zones,
			},
		}},
		{vendor: "branch", max: 3, n: 1, want: &backend.Capabilities{
			Vendor: ygot.String("sami"), Model: ygot.String("simfw-branch"), SoftwareVersion: ygot.String("0.9"),
			Domain:             ygot.String("branch"),
			MaxSessions:        flowstate.UnionUint64(3),
			ActiveSessions:     ygot.Uint64(1),
			FreeSlots:          ygot.Uint64(2),
			Utilization:        ygot.Float64(33.33),
			SupportedProtocols: []uint8{1, 6, 17, 58},
			Features: []flowstate.E_SamiFlowState_Feature{
				flowstate.SamiFlowState_Feature_ipv6,
				flowstate.SamiFlowState_Feature_marks,
				flowstate.SamiFlowState_Feature_nat,
				flowstate.SamiFlowState_Feature_zones,
			},
		}},
		{vendor: "branch", max: 3, n: 2, want: &backend.Capabilities{
			Vendor: ygot.String("sami"), Model: ygot.String("simfw-branch"), SoftwareVersion: ygot.String("0.9"),
			Domain:             ygot.String("branch"),
			MaxSessions:        flowstate.UnionUint64(3),
			ActiveSessions:     ygot.Uint64(2),
			FreeSlots:          ygot.Uint64(1),
			Utilization:        ygot.Float64(66.67),
			SupportedProtocols: []uint8{1, 6, 17, 58},
			Features: []flowstate.E_SamiFlowState_Feature{
				flowstate.SamiFlowState_Feature_ipv6,
				flowstate.SamiFlowState_Feature_marks,
				flowstate.SamiFlowState_Feature_nat,
				flowstate.SamiFlowState_Feature_zones,
			},
		}},
	} {
		t.Run(fmt.Sprintf("%s %d of %d", tc.vendor, tc.n, tc.max), func(t *testing.T) {
			p := simfw.Vendors()[tc.vendor]
			if tc.max > 0 {
				p.MaxSessions = tc.max
			}
			f := simfw.New(p)
			upsert(t, f, batch(0, tc.n)...)
			got, err := f.Capabilities(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Capabilities (-want +got):\n%s", diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("capabilities do not validate: %v", err)
			}
		})
	}
}

func TestVendors(t *testing.T) {
	v := simfw.Vendors()
	for _, name := range []string{"sami-sim", "basic", "ipv4-only", "branch"} {
		p, ok := v[name]
		if !ok {
			t.Errorf("no personality %q", name)
			continue
		}
		if p.Vendor == "" || p.Model == "" || len(p.Protocols) == 0 {
			t.Errorf("%s: incomplete: %+v", name, p)
		}
	}
	v["basic"].Features[0] = flowstate.SamiFlowState_Feature_nat
	if simfw.Vendors()["basic"].Features[0] == flowstate.SamiFlowState_Feature_nat {
		t.Error("Vendors shares its slices between calls")
	}
	if got := simfw.Vendors()["basic"].MaxSessions; got != 1000 {
		t.Errorf("basic has %d sessions, want 1000", got)
	}
}

func TestClose(t *testing.T) {
	f := sim()
	upsert(t, f, nth(1))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := t.Context()
	for name, err := range map[string]error{
		"Upsert": f.Upsert(ctx, []*flow.Session{nth(2)}),
		"Delete": f.Delete(ctx, []*flow.Session{nth(1)}),
		"Dump":   f.Dump(ctx, func(*flow.Session) error { return nil }),
		"Watch":  f.Watch(ctx, func(backend.Event) error { return nil }),
	} {
		if !errors.Is(err, backend.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// TestConcurrent runs writers, readers, watchers and the fault switches at
// once; it is meant for -race.
func TestConcurrent(t *testing.T) {
	c := newClock()
	p := simfw.Vendors()["sami-sim"]
	p.MaxSessions = 10000
	f := simfw.New(p, simfw.WithClock(c.Now), simfw.WithWatchBuffer(1<<16))
	ctx, cancel := context.WithCancel(t.Context())
	var watchers sync.WaitGroup
	counts := make([]int, 3)
	var sawMarker atomic.Int32
	marker := nth(9999)
	for w := range counts {
		watchers.Go(func() {
			_ = f.Watch(ctx, func(e backend.Event) error {
				counts[w]++
				if id(e.Session) == id(marker) {
					sawMarker.Add(1)
				}
				e.Session.Mark = ygot.Uint32(1) // own copy
				return nil
			})
		})
	}
	waitFor(t, func() bool { return f.Watchers() == len(counts) })

	const writers, rounds, per = 4, 20, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				b := batch(w*1000+r*per, per, withTimers(uint32(r%5), 60))
				if err := f.Upsert(ctx, b); err != nil {
					t.Errorf("Upsert: %v", err)
					return
				}
				for _, s := range b[:per/2] {
					f.Touch(id(s), 1, 100)
				}
				if err := f.Delete(ctx, b[per/2:]); err != nil {
					t.Errorf("Delete: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			_ = f.Dump(ctx, func(s *flow.Session) error {
				s.Mark = ygot.Uint32(2)
				return nil
			})
			_, _ = f.Capabilities(ctx)
			_ = f.Snapshot()
			_ = f.Len()
			c.Advance(time.Second)
			f.Sweep()
			f.SetLatency(time.Duration(0))
		}
	})
	wg.Wait()
	if f.Len() > writers*rounds*per/2 {
		t.Errorf("Len = %d, more than was written and not deleted", f.Len())
	}
	// Every watcher sees every event: write a last marker, wait until all
	// watchers have seen it, then compare the counts.
	upsert(t, f, marker)
	waitFor(t, func() bool { return int(sawMarker.Load()) == len(counts) })
	cancel()
	watchers.Wait()
	for w := 1; w < len(counts); w++ {
		if counts[w] != counts[0] {
			t.Errorf("watcher %d saw %d events, watcher 0 %d", w, counts[w], counts[0])
		}
	}
	if counts[0] == 0 {
		t.Error("watchers saw nothing")
	}
}

func TestFaultsWhileRunning(t *testing.T) {
	f := sim()
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused, unreachable := 0, 0
	for w := range 4 {
		wg.Go(func() {
			for r := range 50 {
				err := f.Upsert(ctx, batch(w*1000+r*3, 3))
				var be *backend.BatchError
				mu.Lock()
				switch {
				case err == nil:
				case errors.As(err, &be):
					refused++
				case errors.Is(err, simfw.ErrUnreachable):
					unreachable++
				default:
					t.Errorf("Upsert: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			f.FailWriteAt(i%3 + 1)
			f.Disconnect()
			f.Reconnect()
			f.SetLatency(time.Duration(i%2) * time.Microsecond)
		}
	})
	wg.Wait()
	t.Logf("%d refused, %d unreachable", refused, unreachable)
}
