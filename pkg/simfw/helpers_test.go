package simfw_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
)

type (
	fsOriginal = flowstate.SamiFlowState_FlowState_Sessions_Session_Original
	fsSNAT     = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source
	fsTcp      = flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp
	fsTcpOrig  = flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Original
	fsTimers   = flowstate.SamiFlowState_FlowState_Sessions_Session_Timers
	fsAlg      = flowstate.SamiFlowState_FlowState_Sessions_Session_Alg
)

const (
	tcp    = 6
	udp    = 17
	icmp   = 1
	gre    = 47
	icmpv6 = 58
)

var epoch = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type opt func(*flow.Session)

// sess builds a session with the given original tuple (address family from
// src) and its key as id.
func sess(proto uint8, src string, sport uint16, dst string, dport uint16, opts ...opt) *flow.Session {
	af := flowstate.SamiFlowState_AddressFamily_ipv4
	if strings.Contains(src, ":") {
		af = flowstate.SamiFlowState_AddressFamily_ipv6
	}
	s := &flow.Session{
		AddressFamily: af,
		Protocol:      ygot.Uint8(proto),
		Original: &fsOriginal{
			SourceAddress:      ygot.String(src),
			DestinationAddress: ygot.String(dst),
		},
	}
	switch proto {
	case icmp, icmpv6:
		s.Original.Icmp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp{
			Type: ygot.Uint8(8), Identifier: ygot.Uint16(sport),
		}
	case tcp, udp:
		s.Original.SourcePort = ygot.Uint16(sport)
		s.Original.DestinationPort = ygot.Uint16(dport)
	}
	for _, o := range opts {
		o(s)
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

// nth returns a plain TCP session numbered i.
func nth(i int, opts ...opt) *flow.Session {
	return sess(tcp, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), uint16(30000+i%30000), "198.51.100.7", 443, opts...)
}

func batch(from, n int, opts ...opt) []*flow.Session {
	out := make([]*flow.Session, n)
	for i := range out {
		out[i] = nth(from+i, opts...)
	}
	return out
}

func withNAT(ext string) opt {
	return func(s *flow.Session) {
		s.GetOrCreateNat().Source = &fsSNAT{
			InternalSrcAddress: s.Original.SourceAddress,
			ExternalSrcAddress: ygot.String(ext),
			ExternalSrcPort:    ygot.Uint16(61000),
		}
	}
}

func withTCP(window, seq bool) opt {
	return func(s *flow.Session) {
		s.Tcp = &fsTcp{State: flowstate.SamiFlowState_TcpState_established, Original: &fsTcpOrig{}}
		if window {
			s.Tcp.Original.WindowScale = ygot.Uint8(7)
			s.Tcp.Original.Flags = []flowstate.E_SamiFlowState_TcpTrackingFlag{flowstate.SamiFlowState_TcpTrackingFlag_window_scale}
		}
		if seq {
			s.Tcp.Original.SequenceEnd = ygot.Uint32(1000)
			s.Tcp.Original.MaxWindow = ygot.Uint32(65535)
		}
		if !window && !seq {
			s.Tcp.Original.Liberal = ygot.Bool(true)
		}
	}
}

func withLabels(l ...uint8) opt { return func(s *flow.Session) { s.Label = l } }
func withZone(z uint16) opt     { return func(s *flow.Session) { s.ZoneId = ygot.Uint16(z) } }
func withMark(m uint32) opt     { return func(s *flow.Session) { s.Mark = ygot.Uint32(m) } }
func withHelper(h string) opt {
	return func(s *flow.Session) { s.Alg = &fsAlg{Helper: ygot.String(h)} }
}
func withMaster(id string) opt {
	return func(s *flow.Session) { s.GetOrCreateAlg().Master = ygot.String(id) }
}
func withoutID() opt { return func(s *flow.Session) { s.Id = nil } }
func withCounters(p, b uint64) opt {
	return func(s *flow.Session) {
		o := s.GetOrCreateCounters().GetOrCreateOriginal()
		o.Packets, o.Bytes = ygot.Uint64(p), ygot.Uint64(b)
	}
}

func withTimers(remaining, idle uint32, status ...flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status) opt {
	return func(s *flow.Session) {
		s.Timers = &fsTimers{Remaining: ygot.Uint32(remaining), IdleTimeout: ygot.Uint32(idle)}
		s.Status = status
	}
}

func id(s *flow.Session) string { return s.GetId() }

func ids(ss []*flow.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.GetId()
	}
	return out
}

func clone(s *flow.Session) *flow.Session {
	c, err := ygot.DeepCopy(s)
	if err != nil {
		panic(err)
	}
	return c.(*flow.Session)
}

func dump(t *testing.T, f *simfw.Firewall) []*flow.Session {
	t.Helper()
	var out []*flow.Session
	if err := f.Dump(t.Context(), func(s *flow.Session) error {
		out = append(out, s)
		return nil
	}); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return out
}

func digest(t *testing.T, ss []*flow.Session) flow.Digest {
	t.Helper()
	d, err := flow.DigestSessions(ss)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func upsert(t *testing.T, f *simfw.Firewall, ss ...*flow.Session) {
	t.Helper()
	if err := f.Upsert(t.Context(), ss); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

// ev is an event reduced to what tests compare.
type ev struct {
	Type backend.EventType
	ID   string
}

// watch runs Watch in the background until the test ends, and returns the
// channel of its events and the channel of its result. It returns once the
// watcher is registered.
func watch(t *testing.T, f *simfw.Firewall) (<-chan backend.Event, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan backend.Event, 1<<16)
	done := make(chan error, 1)
	before := f.Watchers()
	go func() {
		done <- f.Watch(ctx, func(e backend.Event) error {
			events <- e
			return nil
		})
	}()
	t.Cleanup(cancel)
	waitFor(t, func() bool { return f.Watchers() > before })
	return events, done
}

// next collects n events or fails after a while.
func next(t *testing.T, events <-chan backend.Event, n int) []ev {
	t.Helper()
	var out []ev
	timeout := time.After(5 * time.Second)
	for len(out) < n {
		select {
		case e := <-events:
			out = append(out, ev{e.Type, e.Session.GetId()})
		case <-timeout:
			t.Fatalf("got %d events %v, want %d", len(out), out, n)
		}
	}
	return out
}

func noMore(t *testing.T, events <-chan backend.Event) {
	t.Helper()
	select {
	case e := <-events:
		t.Errorf("unexpected event %v %s", e.Type, e.Session.GetId())
	case <-time.After(20 * time.Millisecond):
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return")
		return nil
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
