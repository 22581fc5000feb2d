package conntrack

import (
	"fmt"
	"net/netip"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

type (
	sess      = flow.Session
	tcpOrig   = flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Original
	tcpReply  = flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Reply
	natSource = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source
	natDest   = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Destination
)

// tuple is one direction of a conntrack entry.
type tuple struct {
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16 // ports; for ICMP sport is the identifier
	icmpType     uint8
	icmpCode     uint8
}

func hasPorts(p uint8) bool {
	switch p {
	case protoTCP, protoUDP, protoSCTP, protoDCCP, protoUDPLite:
		return true
	}
	return false
}

func isICMP(p uint8) bool { return p == protoICMP || p == protoICMPv6 }

// icmpInverse mirrors the kernel's invmap tables (nf_conntrack_proto_icmp.c,
// nf_conntrack_proto_icmpv6.c): only query/response types form a flow.
var icmpInverse = map[uint8]uint8{0: 8, 8: 0, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17}
var icmpv6Inverse = map[uint8]uint8{128: 129, 129: 128, 139: 140, 140: 139}

// inverse is the reply tuple of t without NAT.
func (t tuple) inverse() tuple {
	r := tuple{src: t.dst, dst: t.src, proto: t.proto, icmpCode: t.icmpCode}
	switch {
	case isICMP(t.proto):
		r.sport = t.sport
		inv := icmpInverse
		if t.proto == protoICMPv6 {
			inv = icmpv6Inverse
		}
		r.icmpType = t.icmpType
		if v, ok := inv[t.icmpType]; ok {
			r.icmpType = v
		}
	default:
		r.sport, r.dport = t.dport, t.sport
	}
	return r
}

func (t tuple) keyFields(zone uint16) flow.KeyFields {
	k := flow.KeyFields{ZoneID: zone, Protocol: t.proto, Source: t.src, Destination: t.dst}
	switch {
	case isICMP(t.proto):
		k.ICMPID, k.ICMPType, k.ICMPCode = t.sport, t.icmpType, t.icmpCode
	case hasPorts(t.proto):
		k.SourcePort, k.DestinationPort = t.sport, t.dport
	}
	return k
}

func tupleFromKey(k flow.KeyFields) tuple {
	t := tuple{src: k.Source, dst: k.Destination, proto: k.Protocol}
	switch {
	case isICMP(k.Protocol):
		t.sport, t.icmpType, t.icmpCode = k.ICMPID, k.ICMPType, k.ICMPCode
	case hasPorts(k.Protocol):
		t.sport, t.dport = k.SourcePort, k.DestinationPort
	}
	return t
}

// entry is a session as ctnetlink sees it: what is written or was read.
type entry struct {
	family   uint8
	orig     tuple
	reply    tuple
	zone     uint16
	status   uint32
	timeout  uint32
	hasTO    bool
	mark     uint32
	snat     *natTarget
	dnat     *natTarget
	tcp      *tcpInfo
	sctp     *sctpInfo
	labels   []byte // labelBytes long, or nil
	helper   string
	master   *tuple
	counters *[2][2]uint64 // [orig, reply][packets, bytes]
	start    uint64        // timestamp start, ns
}

type natTarget struct {
	addr    netip.Addr // invalid: keep the address
	port    uint16
	hasPort bool
}

type tcpInfo struct {
	state  uint8
	wscale [2]uint8
	flags  [2]uint8
}

type sctpInfo struct {
	state uint8
	vtag  [2]uint32
}

var statusBits = []struct {
	bit uint32
	e   flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status
}{
	{ipsSeenReply, flowstate.SamiFlowState_FlowState_Sessions_Session_Status_seen_reply},
	{ipsAssured, flowstate.SamiFlowState_FlowState_Sessions_Session_Status_assured},
	{ipsFixedTimeout, flowstate.SamiFlowState_FlowState_Sessions_Session_Status_fixed_timeout},
	{ipsOffload, flowstate.SamiFlowState_FlowState_Sessions_Session_Status_offloaded},
}

var tcpFlagBits = []struct {
	bit uint8
	e   flowstate.E_SamiFlowState_TcpTrackingFlag
}{
	{tcpFlagWindowScale, flowstate.SamiFlowState_TcpTrackingFlag_window_scale},
	{tcpFlagSackPerm, flowstate.SamiFlowState_TcpTrackingFlag_sack_permitted},
	{tcpFlagCloseInit, flowstate.SamiFlowState_TcpTrackingFlag_close_init},
	{tcpFlagDataUnacked, flowstate.SamiFlowState_TcpTrackingFlag_data_unacknowledged},
	{tcpFlagMaxackSet, flowstate.SamiFlowState_TcpTrackingFlag_maxack_set},
	{tcpFlagChallengeAck, flowstate.SamiFlowState_TcpTrackingFlag_challenge_ack},
	{tcpFlagSimultOpen, flowstate.SamiFlowState_TcpTrackingFlag_simultaneous_open},
}

func tcpFlags(fl []flowstate.E_SamiFlowState_TcpTrackingFlag, liberal *bool) uint8 {
	var b uint8
	for _, f := range fl {
		for _, m := range tcpFlagBits {
			if m.e == f {
				b |= m.bit
			}
		}
	}
	if liberal != nil && *liberal {
		b |= tcpFlagBeLiberal
	}
	return b
}

func sessionID(s *sess) string {
	if s == nil {
		return "<nil>"
	}
	if s.Id != nil {
		return *s.Id
	}
	if id, err := flow.Key(s); err == nil {
		return id
	}
	return "<no id>"
}

func invalid(s *sess, path string, err error) error {
	return fmt.Errorf("conntrack: session %s: %s: %w", sessionID(s), path, err)
}

func parseAddr(s *sess, path string, p *string, want4 bool) (netip.Addr, error) {
	if p == nil {
		return netip.Addr{}, invalid(s, path, flow.ErrMissing)
	}
	a, err := netip.ParseAddr(*p)
	if err != nil {
		return a, invalid(s, path, fmt.Errorf("%w: %w", flow.ErrInvalid, err))
	}
	a = a.Unmap()
	if a.Is4() != want4 {
		return a, invalid(s, path, flow.ErrFamilyMismatch)
	}
	return a, nil
}

// fromSession turns a session into the entry to write. The reply tuple is
// the plain inverse of the original; NAT comes from nat/source and
// nat/destination, or, when the session has no nat container, from the
// difference between its reply tuple and that inverse (as a dump reports
// it).
func fromSession(s *sess, forceLiberal bool) (*entry, error) {
	return new(entryBuilder).build(s, forceLiberal)
}

// entryBuilder turns sessions into entries whose parts live in the builder
// itself, so that checking and encoding a batch allocates nothing per
// session. The entry it returns is valid until the next call.
type entryBuilder struct {
	e          entry
	snat, dnat natTarget
	tcp        tcpInfo
	sctp       sctpInfo
	master     tuple
	labels     [labelBytes]byte
}

func (eb *entryBuilder) build(s *sess, forceLiberal bool) (*entry, error) {
	if s == nil {
		return nil, flow.ErrNilSession
	}
	k, err := flow.KeyFieldsOf(s)
	if err != nil {
		return nil, err
	}
	eb.e = entry{family: afINET, zone: k.ZoneID, orig: tupleFromKey(k)}
	e := &eb.e
	v4 := k.Source.Is4()
	if !v4 {
		e.family = afINET6
	}
	e.reply = e.orig.inverse()

	for _, st := range s.Status {
		for _, m := range statusBits {
			if m.e == st && m.bit != ipsOffload { // IPS_OFFLOAD is unchangeable through ctnetlink
				e.status |= m.bit
			}
		}
	}
	e.status |= ipsConfirmed // 6.x refuses an unconfirmed entry with EBUSY

	if t := s.Timers; t != nil && t.Remaining != nil {
		e.timeout, e.hasTO = *t.Remaining, true
	} else if t != nil && t.IdleTimeout != nil {
		e.timeout, e.hasTO = *t.IdleTimeout, true
	}
	if !e.hasTO {
		return nil, invalid(s, "timers/remaining", fmt.Errorf("%w: ctnetlink needs a timeout (remaining or idle-timeout)", flow.ErrMissing))
	}
	e.mark = s.GetMark()

	if n := s.Nat; n != nil {
		if src := n.Source; src != nil {
			nt := &eb.snat
			*nt = natTarget{}
			if src.ExternalSrcAddress != nil {
				if nt.addr, err = parseAddr(s, "nat/source/external-src-address", src.ExternalSrcAddress, v4); err != nil {
					return nil, err
				}
			}
			if src.ExternalSrcPort != nil {
				nt.port, nt.hasPort = *src.ExternalSrcPort, true
			}
			if nt.addr.IsValid() || nt.hasPort {
				e.snat = nt
			}
		}
		if dst := n.Destination; dst != nil {
			nt := &eb.dnat
			*nt = natTarget{}
			if dst.InternalDstAddress != nil {
				if nt.addr, err = parseAddr(s, "nat/destination/internal-dst-address", dst.InternalDstAddress, v4); err != nil {
					return nil, err
				}
			}
			if dst.InternalDstPort != nil {
				nt.port, nt.hasPort = *dst.InternalDstPort, true
			}
			if nt.addr.IsValid() || nt.hasPort {
				e.dnat = nt
			}
		}
	} else if r := s.Reply; r != nil {
		// No nat container: derive the translation from the reply tuple.
		inv := e.reply
		if r.SourceAddress != nil || r.SourcePort != nil {
			nt := &eb.dnat
			*nt = natTarget{}
			if r.SourceAddress != nil {
				a, err := parseAddr(s, "reply/source-address", r.SourceAddress, v4)
				if err != nil {
					return nil, err
				}
				if a != inv.src {
					nt.addr = a
				}
			}
			if hasPorts(e.orig.proto) && r.SourcePort != nil && *r.SourcePort != inv.sport {
				nt.port, nt.hasPort = *r.SourcePort, true
			}
			if nt.addr.IsValid() || nt.hasPort {
				e.dnat = nt
			}
		}
		nt := &eb.snat
		*nt = natTarget{}
		if r.DestinationAddress != nil {
			a, err := parseAddr(s, "reply/destination-address", r.DestinationAddress, v4)
			if err != nil {
				return nil, err
			}
			if a != inv.dst {
				nt.addr = a
			}
		}
		switch {
		case hasPorts(e.orig.proto) && r.DestinationPort != nil && *r.DestinationPort != inv.dport:
			nt.port, nt.hasPort = *r.DestinationPort, true
		case isICMP(e.orig.proto) && r.Icmp != nil && r.Icmp.Identifier != nil && *r.Icmp.Identifier != inv.sport:
			nt.port, nt.hasPort = *r.Icmp.Identifier, true
		}
		if nt.addr.IsValid() || nt.hasPort {
			e.snat = nt
		}
	}

	switch e.orig.proto {
	case protoTCP:
		eb.tcp = tcpInfo{}
		ti := &eb.tcp
		if t := s.Tcp; t != nil {
			if t.State != flowstate.SamiFlowState_TcpState_UNSET {
				ti.state = uint8(t.State - 1)
			}
			if o := t.Original; o != nil {
				ti.flags[0] = tcpFlags(o.Flags, o.Liberal)
				ti.wscale[0] = o.GetWindowScale()
			}
			if r := t.Reply; r != nil {
				ti.flags[1] = tcpFlags(r.Flags, r.Liberal)
				ti.wscale[1] = r.GetWindowScale()
			}
		}
		if forceLiberal {
			ti.flags[0] |= tcpFlagBeLiberal
			ti.flags[1] |= tcpFlagBeLiberal
		}
		if s.Tcp != nil || forceLiberal {
			e.tcp = ti
		}
	case protoSCTP:
		if sc := s.Sctp; sc != nil {
			eb.sctp = sctpInfo{vtag: [2]uint32{sc.GetOriginalVtag(), sc.GetReplyVtag()}}
			si := &eb.sctp
			if sc.State != flowstate.SamiFlowState_SctpState_UNSET {
				si.state = uint8(sc.State - 1)
			}
			e.sctp = si
		}
	}

	if len(s.Label) > 0 {
		eb.labels = [labelBytes]byte{}
		e.labels = eb.labels[:]
		for _, l := range s.Label {
			if l >= 8*labelBytes {
				return nil, invalid(s, "label", fmt.Errorf("%w: bit %d out of range 0-127", flow.ErrInvalid, l))
			}
			e.labels[l/8] |= 1 << (l % 8)
		}
	}
	if a := s.Alg; a != nil {
		e.helper = a.GetHelper()
		if len(e.helper) > maxHelperName {
			return nil, invalid(s, "alg/helper", fmt.Errorf("%w: %q is longer than the kernel's %d characters for a helper name", flow.ErrInvalid, e.helper, maxHelperName))
		}
		if a.Master != nil {
			mk, err := flow.ParseKey(*a.Master)
			if err != nil {
				return nil, invalid(s, "alg/master", err)
			}
			eb.master = tupleFromKey(mk)
			e.master = &eb.master
		}
	}
	return e, nil
}
