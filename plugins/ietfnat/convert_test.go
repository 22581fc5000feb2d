package ietfnat

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

var cmpPrefix = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

// The entries of a fixture stand for the sessions of its companion, and
// the rules among them are skipped with the reason given.
func TestEntriesToSessions(t *testing.T) {
	for _, tc := range []struct {
		entries, sessions string
		rules             map[uint32]string // index -> path named by the ErrNotAFlow error
	}{
		{"entries.xml", "sessions.xml", map[uint32]string{
			10: "internal-src-address", 11: "internal-src-port", 12: "transport-protocol",
			13: "external-dst-address", 14: "",
		}},
		{"lenient.xml", "lenient-sessions.xml", nil},
	} {
		t.Run(tc.entries, func(t *testing.T) {
			entries, _ := loadEntries(t, tc.entries)
			var got []*flow.Session
			rules := map[uint32]string{}
			for _, e := range entries {
				s, err := Mapping{}.Session(e)
				var ee *EntryError
				switch {
				case errors.Is(err, ErrNotAFlow) && errors.As(err, &ee):
					rules[e.Index] = ee.Path
				case err != nil:
					t.Fatalf("entry %d: %v", e.Index, err)
				default:
					got = append(got, s)
				}
			}
			if d := cmp.Diff(tc.rules, rules, cmp.Transformer("nilmap", func(m map[uint32]string) map[uint32]string {
				if len(m) == 0 {
					return nil
				}
				return m
			})); d != "" {
				t.Errorf("rules skipped (index -> path), -want +got:\n%s", d)
			}
			if r := flow.Diff(loadSessions(t, tc.sessions), got); !r.Empty() {
				t.Errorf("sessions differ from %s:%s", tc.sessions, diffText(r))
			}
		})
	}
}

// Writing the fixture's sessions gives exactly the fixture's entries.
func TestSessionsToEntries(t *testing.T) {
	want := map[uint32]*Entry{}
	entries, _ := loadEntries(t, "entries.xml")
	for _, e := range entries {
		want[e.Index] = e
	}
	for _, s := range loadSessions(t, "sessions.xml") {
		t.Run(s.GetId(), func(t *testing.T) {
			e, err := Mapping{}.Entry(s)
			if err != nil {
				t.Fatal(err)
			}
			if e.Index != IndexFor(s.GetId(), 0) {
				t.Errorf("index %d, want IndexFor(id, 0) = %d", e.Index, IndexFor(s.GetId(), 0))
			}
			if d := cmp.Diff(want[e.Index], e, cmpPrefix); d != "" {
				t.Errorf("entry -fixture +got:\n%s", d)
			}
		})
	}
}

// session -> entry -> session keeps everything an entry can express.
func TestRoundTrip(t *testing.T) {
	type tc struct {
		name string
		m    Mapping
		in   *flow.Session
		want *flow.Session // nil: in itself
	}
	var cases []tc
	for _, f := range []string{"sessions.xml", "lenient-sessions.xml"} {
		for _, s := range loadSessions(t, f) {
			cases = append(cases, tc{name: f + "/" + s.GetId(), in: s})
		}
	}
	withReply := func(s *flow.Session) *flow.Session { s.Reply = deriveReply(s); return s }
	cases = append(cases,
		tc{name: "reply omitted: derived on read", in: sess(nil), want: withReply(sess(nil))},
		tc{name: "reply omitted with OmitReply", m: Mapping{OmitReply: true}, in: sess(nil)},
		tc{name: "zone of the instance", m: Mapping{ZoneID: 3, OmitReply: true},
			in: sess(func(s *flow.Session) { s.ZoneId = ygot.Uint16(3) })},
		tc{name: "zone-id 0 spelled out", m: Mapping{OmitReply: true},
			in: sess(func(s *flow.Session) { s.ZoneId = ygot.Uint16(0) })},
		tc{name: "nat/source internal leaves filled in", m: Mapping{OmitReply: true},
			in:   sess(func(s *flow.Session) { s.Nat.Source.InternalSrcAddress, s.Nat.Source.InternalSrcPort = nil, nil }),
			want: sess(nil)},
		tc{name: "nat type dynamic spelled out", m: Mapping{OmitReply: true},
			in: sess(func(s *flow.Session) {
				s.Nat.Type = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Type_dynamic
			})},
		tc{name: "address translation without port", m: Mapping{OmitReply: true},
			in: sess(func(s *flow.Session) { s.Nat.Source.ExternalSrcPort = nil })},
		tc{name: "non-canonical addresses", m: Mapping{OmitReply: true},
			in: sess(func(s *flow.Session) {
				s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6
				s.Original.SourceAddress, s.Original.DestinationAddress = ygot.String("2001:DB8::5"), ygot.String("2001:db8:0:0:1::20")
				s.Nat.Source.InternalSrcAddress, s.Nat.Source.ExternalSrcAddress = ygot.String("2001:db8::5"), ygot.String("2001:db8:ffff::7")
			})},
		tc{name: "ICMP code and identifier absent count as 0", m: Mapping{OmitReply: true},
			in: &flow.Session{AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4, Protocol: ygot.Uint8(1),
				Original: &origC{SourceAddress: ygot.String("10.0.0.1"), DestinationAddress: ygot.String("10.0.0.2"), Icmp: &origICMP{Type: ygot.Uint8(8)}}},
			want: &flow.Session{AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4, Protocol: ygot.Uint8(1),
				Original: &origC{SourceAddress: ygot.String("10.0.0.1"), DestinationAddress: ygot.String("10.0.0.2"),
					Icmp: &origICMP{Type: ygot.Uint8(8), Code: ygot.Uint8(0), Identifier: ygot.Uint16(0)}}}},
		tc{name: "volatile leaves are not kept", m: Mapping{OmitReply: true},
			in: sess(func(s *flow.Session) {
				s.Timers.Created, s.Timers.LastSeen = ygot.String("2026-11-21T09:14:02Z"), ygot.String("2026-11-21T09:15:00Z")
				s.Counters = &flowstate.SamiFlowState_FlowState_Sessions_Session_Counters{}
			})},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := c.m.Entry(c.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.m.Session(e)
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			if want == nil {
				want = c.in
			}
			if want.Id == nil {
				if err := flow.SetKey(want); err != nil {
					t.Fatal(err)
				}
			}
			if r := flow.Diff([]*flow.Session{want}, []*flow.Session{got}); !r.Empty() {
				t.Errorf("round trip changed the session:%s", diffText(r))
			}
			p, err := c.m.Project(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if r := flow.Diff([]*flow.Session{p}, []*flow.Session{got}); !r.Empty() {
				t.Errorf("Project disagrees with the round trip:%s", diffText(r))
			}
		})
	}
}

// Sessions holding what an entry cannot carry are refused, naming it;
// Project drops it instead.
func TestEntryRefuses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		m         Mapping
		mod       func(s *flow.Session)
		nilSess   bool
		sentinel  error
		want      string
		noProject bool // Project refuses it too
	}{
		{name: "tcp state", mod: func(s *flow.Session) {
			s.Tcp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established}
		}, sentinel: ErrInexpressible, want: "tcp/state (established)"},
		{name: "mark", mod: func(s *flow.Session) { s.Mark = ygot.Uint32(16) }, sentinel: ErrInexpressible, want: "mark (16)"},
		{name: "labels and status", mod: func(s *flow.Session) {
			s.Label = []uint8{3}
			s.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{flowstate.SamiFlowState_FlowState_Sessions_Session_Status_assured}
		}, sentinel: ErrInexpressible, want: "label ([3]), status ([assured])"},
		{name: "owner", mod: func(s *flow.Session) {
			s.Owner = &flowstate.SamiFlowState_FlowState_Sessions_Session_Owner{EndpointId: ygot.String("vm-1")}
		}, sentinel: ErrInexpressible, want: "owner/endpoint-id (vm-1)"},
		{name: "idle timeout", mod: func(s *flow.Session) { s.Timers.IdleTimeout = ygot.Uint32(7440) },
			sentinel: ErrInexpressible, want: "timers/idle-timeout (7440)"},
		{name: "initiator", mod: func(s *flow.Session) {
			s.Initiator = flowstate.SamiFlowState_FlowState_Sessions_Session_Initiator_endpoint
		}, sentinel: ErrInexpressible, want: "initiator (endpoint)"},
		{name: "vendor parameter", mod: func(s *flow.Session) {
			s.AppendVendorParameter(&flowstate.SamiFlowState_FlowState_Sessions_Session_VendorParameter{Vendor: ygot.String("acme"), Name: ygot.String("slot"), Value: ygot.String("3")})
		}, sentinel: ErrInexpressible, want: "vendor-parameter[vendor=acme][name=slot]"},
		{name: "a reply the translation does not imply", mod: func(s *flow.Session) {
			s.Reply = &replyC{DestinationPort: ygot.Uint16(1)}
		}, sentinel: ErrInexpressible, want: "reply/destination-port (1)"},
		{name: "identity translation", mod: func(s *flow.Session) {
			s.Nat.Source.ExternalSrcAddress, s.Nat.Source.ExternalSrcPort = ygot.String("10.0.0.5"), ygot.Uint16(40312)
		}, sentinel: ErrInexpressible, want: "nat/source (true)"},
		{name: "port translation of GRE", mod: func(s *flow.Session) {
			s.Protocol = ygot.Uint8(47)
			s.Original.SourcePort, s.Original.DestinationPort, s.Nat.Source.InternalSrcPort = nil, nil, nil
		}, sentinel: ErrInexpressible, want: "nat/source/external-src-port (61000)"},
		{name: "ICMP timestamp", mod: func(s *flow.Session) {
			s.Protocol, s.Nat = ygot.Uint8(1), nil
			s.Original.SourcePort, s.Original.DestinationPort = nil, nil
			s.Original.Icmp = &origICMP{Type: ygot.Uint8(13), Identifier: ygot.Uint16(9)}
		}, sentinel: ErrInexpressible, want: "only echo requests (type 8 code 0)", noProject: true},
		{name: "another zone", mod: func(s *flow.Session) { s.ZoneId = ygot.Uint16(4) },
			sentinel: ErrInexpressible, want: "zone-id 4: this NAT instance holds zone 0", noProject: true},
		{name: "two internal sources", mod: func(s *flow.Session) { s.Nat.Source.InternalSrcAddress = ygot.String("10.0.0.6") },
			sentinel: ErrInexpressible, want: "nat/source/internal-src-address 10.0.0.6 is not original/source-address 10.0.0.5", noProject: true},
		{name: "NAT64", mod: func(s *flow.Session) { s.Nat.Source.ExternalSrcAddress = ygot.String("2001:db8::7") },
			sentinel: ErrInexpressible, want: "translation between address families", noProject: true},
		{name: "link-local zone index", mod: func(s *flow.Session) {
			s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6
			s.Original.SourceAddress, s.Original.DestinationAddress = ygot.String("fe80::1%eth0"), ygot.String("fe80::2")
			s.Nat = nil
		}, sentinel: ErrInexpressible, want: "fe80::1%eth0 has a zone index", noProject: true},
		{name: "no original tuple", mod: func(s *flow.Session) { s.Original = nil }, sentinel: flow.ErrMissing, noProject: true},
		{name: "id disagrees with the tuple", mod: func(s *flow.Session) { s.Id = ygot.String("0/6/10.0.0.5/1/198.51.100.20/443") },
			sentinel: flow.ErrKeyMismatch, want: "0/6/10.0.0.5/40312/198.51.100.20/443", noProject: true},
		{name: "nil session", nilSess: true, sentinel: flow.ErrNilSession, noProject: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *flow.Session
			if !tc.nilSess {
				s = sess(tc.mod)
			}
			_, err := tc.m.Entry(s)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Entry: %v, want %v", err, tc.sentinel)
			}
			var se *SessionError
			if !errors.As(err, &se) {
				t.Fatalf("Entry: %T, want *SessionError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Entry: %q does not say %q", err, tc.want)
			}
			p, err := tc.m.Project(s)
			if tc.noProject {
				if err == nil {
					t.Fatalf("Project accepted it: %v", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Project: %v", err)
			}
			if _, err := tc.m.Entry(p); err != nil {
				t.Errorf("the projection is not writable as it is: %v", err)
			}
		})
	}
}
