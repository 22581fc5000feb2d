package ietfnat

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

type (
	natC     = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat
	natSrc   = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source
	natDst   = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Destination
	origC    = flowstate.SamiFlowState_FlowState_Sessions_Session_Original
	origICMP = flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp
	replyC   = flowstate.SamiFlowState_FlowState_Sessions_Session_Reply
	replyIC  = flowstate.SamiFlowState_FlowState_Sessions_Session_Reply_Icmp
	timersC  = flowstate.SamiFlowState_FlowState_Sessions_Session_Timers
)

const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// hasPorts reports the protocols whose session key carries ports (TCP,
// UDP, DCCP, SCTP, UDP-Lite), as in package flow.
func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 33 || p == 132 || p == 136 }

func isICMP(p uint8) bool { return p == protoICMP || p == protoICMPv6 }

// echoRequest is the only ICMP type a mapping entry can stand for: RFC 8512
// carries the identifier (in the port leaves) but no type or code.
func echoRequest(p uint8) uint8 {
	if p == protoICMPv6 {
		return 128
	}
	return 8
}

// Mapping converts between sessions of the sami model and RFC 8512 mapping
// entries of one NAT instance. The zero value is the default: zone 0, reply
// tuples derived. See the package documentation for the rules.
type Mapping struct {
	// ZoneID is the zone-id of the sessions this instance holds: sessions
	// read get it, and only sessions of this zone can be written.
	ZoneID uint16
	// OmitReply leaves the reply tuple out of the sessions built from
	// entries. By default it is derived (the inverse of the original tuple
	// with the translation applied), as Linux conntrack reports it.
	OmitReply bool
}

// Session builds the session a mapping entry stands for, with its id set.
// An entry that is a rule rather than the binding of one flow (a prefix
// wider than a host, a port range, no protocol, no destination, mixed
// address families) gives an *EntryError wrapping ErrNotAFlow.
func (m Mapping) Session(e *Entry) (*flow.Session, error) {
	idx := strconv.FormatUint(uint64(e.Index), 10)
	notFlow := func(path, why string, args ...any) error {
		return &EntryError{Index: idx, Path: path, Err: fmt.Errorf("%w: %s", ErrNotAFlow, fmt.Sprintf(why, args...))}
	}
	if e.Protocol == nil {
		return nil, notFlow("transport-protocol", "absent: the entry applies to any protocol")
	}
	proto := *e.Protocol
	// The realm sides of each direction: the initiator's source is
	// internal, the destination it sent to external (RFC 8512 naming, as
	// in the sami model's nat container).
	sides := [4]struct {
		ep   Endpoint
		name string
		addr netip.Addr
		port uint16
		has  bool // address present
		hasP bool // port present
	}{{ep: e.InternalSrc, name: "internal-src"}, {ep: e.ExternalSrc, name: "external-src"},
		{ep: e.ExternalDst, name: "external-dst"}, {ep: e.InternalDst, name: "internal-dst"}}
	for i := range sides {
		sd := &sides[i]
		if sd.ep.Prefix.IsValid() {
			a, ok := sd.ep.host()
			if !ok {
				return nil, notFlow(sd.name+"-address", "prefix %s is not a single host", sd.ep.Prefix)
			}
			sd.addr, sd.has = a, true
		}
		if !sd.ep.Ports.empty() {
			p, ok := sd.ep.Ports.single()
			if !ok {
				return nil, notFlow(sd.name+"-port", "a port range, not a single port")
			}
			sd.port, sd.hasP = p, true
		}
		if sd.hasP && !hasPorts(proto) && (!isICMP(proto) || i >= 2) {
			return nil, notFlow(sd.name+"-port", "protocol %d has no such port", proto)
		}
	}
	type dir struct {
		orig, xlat   netip.Addr
		port, xport  uint16
		hasXPort, tr bool
	}
	resolve := func(in, out int, what string) (dir, error) {
		inner, outer := sides[in], sides[out]
		var d dir
		switch {
		case inner.has:
			d.orig, d.port = inner.addr, inner.port
			if (hasPorts(proto) || isICMP(proto) && in == 0) && !inner.hasP {
				return d, notFlow(inner.name+"-port", "absent: an address binding, not a flow")
			}
			d.xlat, d.xport, d.hasXPort = inner.addr, inner.port, outer.hasP
			if outer.has {
				d.xlat = outer.addr
			}
			if outer.hasP {
				d.xport = outer.port
			}
			d.tr = d.xlat != d.orig || (outer.hasP && outer.port != inner.port)
		case outer.has: // e.g. an inbound client reported in its own realm only
			d.orig, d.port = outer.addr, outer.port
			if (hasPorts(proto) || isICMP(proto) && in == 0) && !outer.hasP {
				return d, notFlow(outer.name+"-port", "absent: an address binding, not a flow")
			}
			if inner.hasP {
				return d, notFlow(inner.name+"-port", "a port without an address")
			}
		default:
			return d, notFlow(inner.name+"-address", "no %s address: an endpoint-independent binding, not a flow", what)
		}
		return d, nil
	}
	src, err := resolve(0, 1, "source")
	if err != nil {
		return nil, err
	}
	dst, err := resolve(2, 3, "destination")
	if err != nil {
		return nil, err
	}
	v6 := src.orig.Is6()
	for _, a := range []netip.Addr{dst.orig, src.xlat, dst.xlat} {
		if a.Is6() != v6 {
			return nil, notFlow("", "mixed address families (NAT64, CLAT): the sami model has one address-family per session")
		}
	}
	if isICMP(proto) && v6 != (proto == protoICMPv6) {
		return nil, notFlow("transport-protocol", "protocol %d with %s addresses", proto, family(v6))
	}

	s := &flow.Session{Protocol: ygot.Uint8(proto), AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4}
	if v6 {
		s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6
	}
	if m.ZoneID != 0 {
		s.ZoneId = ygot.Uint16(m.ZoneID)
	}
	s.Original = &origC{SourceAddress: ygot.String(src.orig.String()), DestinationAddress: ygot.String(dst.orig.String())}
	switch {
	case hasPorts(proto):
		s.Original.SourcePort, s.Original.DestinationPort = ygot.Uint16(src.port), ygot.Uint16(dst.port)
	case isICMP(proto):
		s.Original.Icmp = &origICMP{Type: ygot.Uint8(echoRequest(proto)), Code: ygot.Uint8(0), Identifier: ygot.Uint16(src.port)}
	}
	if src.tr || dst.tr || e.Type == Static {
		s.Nat = &natC{}
		if e.Type == Static {
			s.Nat.Type = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Type_static
		}
	}
	if src.tr {
		ns := &natSrc{InternalSrcAddress: ygot.String(src.orig.String()), ExternalSrcAddress: ygot.String(src.xlat.String())}
		if hasPorts(proto) || isICMP(proto) {
			ns.InternalSrcPort = ygot.Uint16(src.port)
			if src.hasXPort {
				ns.ExternalSrcPort = ygot.Uint16(src.xport)
			}
		}
		s.Nat.Source = ns
	}
	if dst.tr {
		nd := &natDst{ExternalDstAddress: ygot.String(dst.orig.String()), InternalDstAddress: ygot.String(dst.xlat.String())}
		if hasPorts(proto) {
			nd.ExternalDstPort = ygot.Uint16(dst.port)
			if dst.hasXPort {
				nd.InternalDstPort = ygot.Uint16(dst.xport)
			}
		}
		s.Nat.Destination = nd
	}
	if e.Lifetime != nil {
		s.Timers = &timersC{Remaining: ygot.Uint32(*e.Lifetime)}
	}
	if !m.OmitReply {
		s.Reply = deriveReply(s)
	}
	if err := flow.SetKey(s); err != nil {
		return nil, &EntryError{Index: idx, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	return s, nil
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// deriveReply is the reply tuple the model implies when reply is omitted:
// the inverse of the original with the translation applied.
func deriveReply(s *flow.Session) *replyC {
	o, ns, nd := s.Original, s.GetNat().GetSource(), s.GetNat().GetDestination()
	r := &replyC{SourceAddress: o.DestinationAddress, DestinationAddress: o.SourceAddress}
	if nd != nil {
		r.SourceAddress = nd.InternalDstAddress
	}
	if ns != nil {
		r.DestinationAddress = ns.ExternalSrcAddress
	}
	p := s.GetProtocol()
	switch {
	case hasPorts(p):
		r.SourcePort, r.DestinationPort = o.DestinationPort, o.SourcePort
		if nd != nil && nd.InternalDstPort != nil {
			r.SourcePort = nd.InternalDstPort
		}
		if ns != nil && ns.ExternalSrcPort != nil {
			r.DestinationPort = ns.ExternalSrcPort
		}
	case isICMP(p) && o.Icmp != nil:
		ri := &replyIC{Type: ygot.Uint8(replyType(o.Icmp.GetType())), Code: o.Icmp.Code, Identifier: o.Icmp.Identifier}
		if ns != nil && ns.ExternalSrcPort != nil {
			ri.Identifier = ns.ExternalSrcPort
		}
		r.Icmp = ri
	}
	// Copies, so the reply does not alias the original's leaves.
	r.SourceAddress, r.DestinationAddress = clone(r.SourceAddress), clone(r.DestinationAddress)
	r.SourcePort, r.DestinationPort = clone(r.SourcePort), clone(r.DestinationPort)
	if r.Icmp != nil {
		r.Icmp.Code, r.Icmp.Identifier = clone(r.Icmp.Code), clone(r.Icmp.Identifier)
	}
	return r
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// replyType is the ICMP reply type of a query type (echo, timestamp,
// information, address mask; ICMPv6 echo).
func replyType(t uint8) uint8 {
	switch t {
	case 8:
		return 0
	case 13, 15, 17:
		return t + 1
	case 128:
		return 129
	}
	return t
}

// Entry converts s into a mapping entry (Index: IndexFor(id, 0)). It
// refuses, with a *SessionError wrapping ErrInexpressible, a session that
// holds anything the entry cannot carry, so that nothing is lost silently:
// what can be written is exactly what Project returns. Counters and the
// created and last-seen timers are volatile and not refused (they are not
// compared when a copy is verified).
func (m Mapping) Entry(s *flow.Session) (*Entry, error) {
	e, id, err := m.entry(s)
	if err != nil {
		return nil, err
	}
	p, err := m.Session(e)
	if err != nil {
		return nil, &SessionError{ID: id, Err: err}
	}
	if lost := lostFields(s, p); len(lost) > 0 {
		return nil, &SessionError{ID: id, Fields: lost, Err: ErrInexpressible}
	}
	return e, nil
}

// Project returns what of s a mapping entry keeps: the session that reading
// s back after writing it gives. It fails only for sessions that cannot be
// written at all (malformed, another zone, an ICMP type other than echo, an
// inconsistent translation).
func (m Mapping) Project(s *flow.Session) (*flow.Session, error) {
	e, id, err := m.entry(s)
	if err != nil {
		return nil, err
	}
	p, err := m.Session(e)
	if err != nil {
		return nil, &SessionError{ID: id, Err: err}
	}
	return p, nil
}

// lostFields lists the leaves of s that p lacks or holds differently;
// leaves that p adds (a derived reply, a filled-in default) lose nothing.
func lostFields(s, p *flow.Session) []string {
	r := flow.Diff([]*flow.Session{s}, []*flow.Session{p})
	var out []string
	for _, err := range r.Errors {
		out = append(out, err.Error())
	}
	for _, c := range r.Changed {
		for _, f := range c.Fields {
			if f.A != nil {
				out = append(out, fmt.Sprintf("%s (%v)", f.Path, f.A))
			}
		}
	}
	return out
}

// entry does the conversion of Entry without the completeness check.
func (m Mapping) entry(s *flow.Session) (*Entry, string, error) {
	if s == nil {
		return nil, "", &SessionError{Err: flow.ErrNilSession}
	}
	id, err := flow.Key(s)
	if err != nil {
		return nil, s.GetId(), &SessionError{ID: s.GetId(), Err: err}
	}
	if s.Id != nil && *s.Id != id {
		return nil, *s.Id, &SessionError{ID: *s.Id, Err: fmt.Errorf("id %w %s", flow.ErrKeyMismatch, id)}
	}
	bad := func(format string, args ...any) (*Entry, string, error) {
		return nil, id, &SessionError{ID: id, Err: fmt.Errorf("%w: %s", ErrInexpressible, fmt.Sprintf(format, args...))}
	}
	k, err := flow.ParseKey(id)
	if err != nil {
		return nil, id, &SessionError{ID: id, Err: err}
	}
	if k.ZoneID != m.ZoneID {
		return bad("zone-id %d: this NAT instance holds zone %d (driver option zone-id)", k.ZoneID, m.ZoneID)
	}
	for _, a := range []netip.Addr{k.Source, k.Destination} {
		if a.Zone() != "" {
			return bad("address %s has a zone index, which an inet:ip-prefix cannot carry", a)
		}
	}
	proto := k.Protocol
	e := &Entry{Index: IndexFor(id, 0), Type: DynamicImplicit, Protocol: &proto}
	if s.GetNat().GetType() == flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Type_static {
		e.Type = Static
	}
	e.InternalSrc.Prefix = hostPrefix(k.Source)
	e.ExternalDst.Prefix = hostPrefix(k.Destination)
	sport, dport := k.SourcePort, k.DestinationPort
	switch {
	case hasPorts(proto):
		e.InternalSrc.Ports.Start, e.ExternalDst.Ports.Start = &sport, &dport
	case isICMP(proto):
		if k.ICMPType != echoRequest(proto) || k.ICMPCode != 0 {
			return bad("original/icmp type %d code %d: RFC 8512 carries no ICMP type or code, so only echo requests (type %d code 0) can be written",
				k.ICMPType, k.ICMPCode, echoRequest(proto))
		}
		sport = k.ICMPID
		e.InternalSrc.Ports.Start = &sport
	}
	if ns := s.GetNat().GetSource(); ns != nil {
		if a := ns.InternalSrcAddress; a != nil {
			if ia, err := netip.ParseAddr(*a); err != nil || ia != k.Source {
				return bad("nat/source/internal-src-address %s is not original/source-address %s: an entry has one internal source", *a, k.Source)
			}
		}
		if p := ns.InternalSrcPort; p != nil && (!(hasPorts(proto) || isICMP(proto)) || *p != sport) {
			return bad("nat/source/internal-src-port %d is not the original source port or identifier", *p)
		}
		if ns.ExternalSrcAddress == nil {
			return nil, id, &SessionError{ID: id, Err: fmt.Errorf("nat/source/external-src-address: %w", flow.ErrMissing)}
		}
		xa, err := netip.ParseAddr(*ns.ExternalSrcAddress)
		if err != nil || xa.Zone() != "" {
			return nil, id, &SessionError{ID: id, Err: fmt.Errorf("nat/source/external-src-address %q: %w", *ns.ExternalSrcAddress, flow.ErrInvalid)}
		}
		if xa.Is6() != k.Source.Is6() {
			return bad("nat/source/external-src-address %s: translation between address families (NAT64)", xa)
		}
		e.ExternalSrc.Prefix = hostPrefix(xa)
		if p := ns.ExternalSrcPort; p != nil && (hasPorts(proto) || isICMP(proto)) {
			xp := *p
			e.ExternalSrc.Ports.Start = &xp
		}
	}
	if nd := s.GetNat().GetDestination(); nd != nil {
		if a := nd.ExternalDstAddress; a != nil {
			if xa, err := netip.ParseAddr(*a); err != nil || xa != k.Destination {
				return bad("nat/destination/external-dst-address %s is not original/destination-address %s: an entry has one external destination", *a, k.Destination)
			}
		}
		if p := nd.ExternalDstPort; p != nil && (!hasPorts(proto) || *p != dport) {
			return bad("nat/destination/external-dst-port %d is not the original destination port", *p)
		}
		if nd.InternalDstAddress == nil {
			return nil, id, &SessionError{ID: id, Err: fmt.Errorf("nat/destination/internal-dst-address: %w", flow.ErrMissing)}
		}
		ia, err := netip.ParseAddr(*nd.InternalDstAddress)
		if err != nil || ia.Zone() != "" {
			return nil, id, &SessionError{ID: id, Err: fmt.Errorf("nat/destination/internal-dst-address %q: %w", *nd.InternalDstAddress, flow.ErrInvalid)}
		}
		if ia.Is6() != k.Destination.Is6() {
			return bad("nat/destination/internal-dst-address %s: translation between address families (NAT64)", ia)
		}
		e.InternalDst.Prefix = hostPrefix(ia)
		if p := nd.InternalDstPort; p != nil && hasPorts(proto) {
			ip := *p
			e.InternalDst.Ports.Start = &ip
		}
	}
	if t := s.GetTimers(); t != nil && t.Remaining != nil {
		l := *t.Remaining
		e.Lifetime = &l
	}
	return e, id, nil
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
