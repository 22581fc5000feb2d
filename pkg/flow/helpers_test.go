package flow_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

type (
	fsOriginal = flowstate.SamiFlowState_FlowState_Sessions_Session_Original
	fsReply    = flowstate.SamiFlowState_FlowState_Sessions_Session_Reply
	fsSNAT     = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source
	fsDNAT     = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Destination
	fsOwner    = flowstate.SamiFlowState_FlowState_Sessions_Session_Owner
	fsTimers   = flowstate.SamiFlowState_FlowState_Sessions_Session_Timers
	fsTcp      = flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp
	fsTcpOrig  = flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Original
	fsTcpReply = flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Reply
	fsCounters = flowstate.SamiFlowState_FlowState_Sessions_Session_Counters
	fsLocation = flowstate.SamiFlowState_FlowState_Sessions_Session_Location
)

const (
	tcp    = 6
	udp    = 17
	icmp   = 1
	icmpv6 = 58
	sctp   = 132
	dccp   = 33
	gre    = 47
)

// opt modifies a fixture.
type opt func(*flow.Session)

// newSession builds a session of protocol proto with the given original
// tuple; the address family follows from src. Ports are set for every
// protocol (protocols without ports must ignore them); ICMP fixtures use
// icmpSession.
func newSession(proto uint8, src string, sport uint16, dst string, dport uint16, opts ...opt) *flow.Session {
	s := &flow.Session{
		AddressFamily: family(src),
		Protocol:      ygot.Uint8(proto),
		Original: &fsOriginal{
			SourceAddress:      ygot.String(src),
			SourcePort:         ygot.Uint16(sport),
			DestinationAddress: ygot.String(dst),
			DestinationPort:    ygot.Uint16(dport),
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// icmpSession builds an ICMP or ICMPv6 session.
func icmpSession(proto uint8, src, dst string, id uint16, typ, code uint8, opts ...opt) *flow.Session {
	s := newSession(proto, src, 0, dst, 0)
	s.Original.SourcePort, s.Original.DestinationPort = nil, nil
	s.Original.GetOrCreateIcmp().Identifier = ygot.Uint16(id)
	s.Original.Icmp.Type = ygot.Uint8(typ)
	s.Original.Icmp.Code = ygot.Uint8(code)
	for _, o := range opts {
		o(s)
	}
	return s
}

func family(addr string) flowstate.E_SamiFlowState_AddressFamily {
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() {
		return flowstate.SamiFlowState_AddressFamily_ipv6
	}
	return flowstate.SamiFlowState_AddressFamily_ipv4
}

func withZone(z uint16) opt { return func(s *flow.Session) { s.ZoneId = ygot.Uint16(z) } }
func withID(id string) opt  { return func(s *flow.Session) { s.Id = ygot.String(id) } }
func withMark(m uint32) opt { return func(s *flow.Session) { s.Mark = ygot.Uint32(m) } }

// withKey sets the id to the derived key; fixtures must be valid.
func withKey() opt {
	return func(s *flow.Session) {
		if err := flow.SetKey(s); err != nil {
			panic(err)
		}
	}
}

func withSNAT(internal, external string, port uint16) opt {
	return func(s *flow.Session) {
		s.GetOrCreateNat().Source = &fsSNAT{
			InternalSrcAddress: ygot.String(internal),
			ExternalSrcAddress: ygot.String(external),
			InternalSrcPort:    s.Original.SourcePort,
			ExternalSrcPort:    ygot.Uint16(port),
		}
	}
}

func withDNAT(external, internal string, port uint16) opt {
	return func(s *flow.Session) {
		s.GetOrCreateNat().Destination = &fsDNAT{
			ExternalDstAddress: ygot.String(external),
			InternalDstAddress: ygot.String(internal),
			ExternalDstPort:    s.Original.DestinationPort,
			InternalDstPort:    ygot.Uint16(port),
		}
	}
}

func withReply(src string, sport uint16, dst string, dport uint16) opt {
	return func(s *flow.Session) {
		s.Reply = &fsReply{
			SourceAddress:      ygot.String(src),
			SourcePort:         ygot.Uint16(sport),
			DestinationAddress: ygot.String(dst),
			DestinationPort:    ygot.Uint16(dport),
		}
	}
}

func withOwner(id, addr string) opt {
	return func(s *flow.Session) {
		o := s.GetOrCreateOwner()
		if id != "" {
			o.EndpointId = ygot.String(id)
		}
		if addr != "" {
			o.EndpointAddress = ygot.String(addr)
		}
	}
}

func withRemaining(sec uint32) opt {
	return func(s *flow.Session) { s.GetOrCreateTimers().Remaining = ygot.Uint32(sec) }
}

var (
	established = flowstate.SamiFlowState_TcpState_established
	flagWScale  = flowstate.SamiFlowState_TcpTrackingFlag_window_scale
	flagSACK    = flowstate.SamiFlowState_TcpTrackingFlag_sack_permitted
	flagMaxAck  = flowstate.SamiFlowState_TcpTrackingFlag_maxack_set
	seenReply   = flowstate.SamiFlowState_FlowState_Sessions_Session_Status_seen_reply
	assured     = flowstate.SamiFlowState_FlowState_Sessions_Session_Status_assured
)

var benchEpoch = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)

// realistic returns session i of a deterministic population like a busy
// NAT gateway holds: TCP with source NAT, per-direction tracking data,
// timers, counters, mark, location and owner; one in five is IPv6.
func realistic(i int) *flow.Session {
	r := rand.New(rand.NewPCG(uint64(i), 0x5a41))
	var src, dst, ext string
	if i%5 == 0 {
		src = fmt.Sprintf("fd00:10:%x::%x", i>>16, i&0xffff)
		dst = fmt.Sprintf("2001:db8:%x::%x", r.IntN(256), r.IntN(65536))
		ext = fmt.Sprintf("2001:db8:ffff::%x", r.IntN(16)+1)
	} else {
		src = fmt.Sprintf("10.%d.%d.%d", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
		dst = fmt.Sprintf("198.51.100.%d", r.IntN(254)+1)
		ext = fmt.Sprintf("203.0.113.%d", r.IntN(16)+1)
	}
	sport := uint16(32768 + r.IntN(28000))
	dport := []uint16{443, 80, 22, 8443, 5432}[r.IntN(5)]
	eport := uint16(1024 + r.IntN(60000))
	s := newSession(tcp, src, sport, dst, dport,
		withSNAT(src, ext, eport),
		withReply(dst, dport, ext, eport),
		withOwner(fmt.Sprintf("vm-%06d", i/8), src),
		withMark(uint32(r.IntN(16))),
	)
	s.Initiator = flowstate.SamiFlowState_FlowState_Sessions_Session_Initiator_endpoint
	s.ZoneId = ygot.Uint16(uint16(i % 4))
	s.Owner.Policy = ygot.String("allow-egress-web")
	s.Owner.Domain = ygot.String("tenant-a")
	s.Location = &fsLocation{
		Vrf:              ygot.String("tenant-a"),
		IngressZone:      ygot.String("trust"),
		EgressZone:       ygot.String("untrust"),
		IngressInterface: ygot.String("eth1"),
		EgressInterface:  ygot.String("eth0"),
	}
	s.Tcp = &fsTcp{
		State: established,
		Original: &fsTcpOrig{
			Flags:          []flowstate.E_SamiFlowState_TcpTrackingFlag{flagWScale, flagSACK, flagMaxAck},
			WindowScale:    ygot.Uint8(7),
			SequenceEnd:    ygot.Uint32(r.Uint32()),
			SequenceMaxEnd: ygot.Uint32(r.Uint32()),
			MaxWindow:      ygot.Uint32(64240),
			MaxAck:         ygot.Uint32(r.Uint32()),
		},
		Reply: &fsTcpReply{
			Flags:          []flowstate.E_SamiFlowState_TcpTrackingFlag{flagSACK, flagWScale},
			WindowScale:    ygot.Uint8(9),
			SequenceEnd:    ygot.Uint32(r.Uint32()),
			SequenceMaxEnd: ygot.Uint32(r.Uint32()),
			MaxWindow:      ygot.Uint32(65535),
		},
	}
	s.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{seenReply, assured}
	created := benchEpoch.Add(-time.Duration(r.IntN(3600)) * time.Second)
	s.Timers = &fsTimers{
		IdleTimeout: ygot.Uint32(432000),
		Remaining:   ygot.Uint32(uint32(r.IntN(432000))),
		Created:     ygot.String(created.Format(time.RFC3339)),
		LastSeen:    ygot.String(benchEpoch.Format(time.RFC3339)),
	}
	s.Counters = &fsCounters{
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Original{
			Packets: ygot.Uint64(r.Uint64N(1e6)), Bytes: ygot.Uint64(r.Uint64N(1e9)),
		},
		Reply: &flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Reply{
			Packets: ygot.Uint64(r.Uint64N(1e6)), Bytes: ygot.Uint64(r.Uint64N(1e9)),
		},
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

func population(n int) []*flow.Session {
	out := make([]*flow.Session, n)
	for i := range out {
		out[i] = realistic(i)
	}
	return out
}

// clone deep-copies a session, so a test can change one copy.
func clone(s *flow.Session) *flow.Session {
	c, err := ygot.DeepCopy(s)
	if err != nil {
		panic(err)
	}
	return c.(*flow.Session)
}
