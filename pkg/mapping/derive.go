package mapping

import (
	"fmt"
	"net/netip"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

type (
	natSrc = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source
	natDst = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Destination
	replyC = flowstate.SamiFlowState_FlowState_Sessions_Session_Reply
)

// derive fills what the mapping computes rather than reads, in a fixed
// order: address family, NAT from the tuples, the reply from the NAT,
// then drops translations that translate nothing.
func (c *Converter) derive(s *flow.Session) error {
	o := s.Original
	if o == nil || o.SourceAddress == nil || o.DestinationAddress == nil {
		return fmt.Errorf("the original tuple has no source or destination address")
	}
	src, err := netip.ParseAddr(*o.SourceAddress)
	if err != nil {
		return fmt.Errorf("original/source-address: %w", err)
	}
	if s.AddressFamily == flowstate.SamiFlowState_AddressFamily_UNSET {
		s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv4
		if src.Is6() && !src.Is4In6() {
			s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6
		}
	}
	if c.m.HasDerive(DeriveNATFromTuples) {
		natFromTuples(s)
	}
	normalizeNAT(s)
	if c.m.HasDerive(DeriveReplyFromNAT) && s.Reply == nil {
		replyFromNAT(s)
	}
	return nil
}

func sameAddr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, err1 := netip.ParseAddr(*a)
	y, err2 := netip.ParseAddr(*b)
	if err1 != nil || err2 != nil {
		return *a == *b
	}
	return x == y
}

func samePort(a, b *uint16) bool {
	if a == nil || b == nil {
		return true // an absent port translates nothing
	}
	return *a == *b
}

// natFromTuples: the reply tuple is what the device expects back, after
// translation; where its destination differs from the original source the
// source was translated (SNAT), where its source differs from the original
// destination the destination was (DNAT).
func natFromTuples(s *flow.Session) {
	o, r := s.Original, s.Reply
	if r == nil {
		return
	}
	if r.DestinationAddress != nil && (!sameAddr(r.DestinationAddress, o.SourceAddress) || !samePort(r.DestinationPort, o.SourcePort)) {
		n := s.GetOrCreateNat()
		n.Source = &natSrc{InternalSrcAddress: o.SourceAddress, InternalSrcPort: o.SourcePort,
			ExternalSrcAddress: r.DestinationAddress, ExternalSrcPort: r.DestinationPort}
	}
	if r.SourceAddress != nil && (!sameAddr(r.SourceAddress, o.DestinationAddress) || !samePort(r.SourcePort, o.DestinationPort)) {
		n := s.GetOrCreateNat()
		n.Destination = &natDst{ExternalDstAddress: o.DestinationAddress, ExternalDstPort: o.DestinationPort,
			InternalDstAddress: r.SourceAddress, InternalDstPort: r.SourcePort}
	}
}

// normalizeNAT drops a source or destination translation that has no
// translated address or translates to the same address and port, and a
// nat container left without either.
func normalizeNAT(s *flow.Session) {
	n := s.Nat
	if n == nil {
		return
	}
	if t := n.Source; t != nil {
		if t.ExternalSrcAddress == nil || (sameAddr(t.ExternalSrcAddress, orDefault(t.InternalSrcAddress, s.Original.SourceAddress)) &&
			samePort(t.ExternalSrcPort, orDefault(t.InternalSrcPort, s.Original.SourcePort))) {
			n.Source = nil
		}
	}
	if t := n.Destination; t != nil {
		if t.InternalDstAddress == nil || (sameAddr(t.InternalDstAddress, orDefault(t.ExternalDstAddress, s.Original.DestinationAddress)) &&
			samePort(t.InternalDstPort, orDefault(t.ExternalDstPort, s.Original.DestinationPort))) {
			n.Destination = nil
		}
	}
	if n.Source == nil && n.Destination == nil {
		s.Nat = nil
	}
}

func orDefault[T any](v, d *T) *T {
	if v != nil {
		return v
	}
	return d
}

// replyFromNAT builds the reply tuple as the model defines it when omitted:
// the inverse of the original with the translation applied.
func replyFromNAT(s *flow.Session) {
	o := s.Original
	r := &replyC{SourceAddress: o.DestinationAddress, SourcePort: o.DestinationPort,
		DestinationAddress: o.SourceAddress, DestinationPort: o.SourcePort}
	if n := s.Nat; n != nil {
		if t := n.Destination; t != nil {
			r.SourceAddress = t.InternalDstAddress
			if t.InternalDstPort != nil {
				r.SourcePort = t.InternalDstPort
			}
		}
		if t := n.Source; t != nil {
			r.DestinationAddress = t.ExternalSrcAddress
			if t.ExternalSrcPort != nil {
				r.DestinationPort = t.ExternalSrcPort
			}
		}
	}
	if oi := o.Icmp; oi != nil {
		ri := r.GetOrCreateIcmp()
		ri.Code, ri.Identifier = oi.Code, oi.Identifier
		if oi.Type != nil {
			ri.Type = ygot.Uint8(icmpReply(s.GetProtocol(), *oi.Type))
		}
		if t := s.GetNat().GetSource(); t != nil && t.ExternalSrcPort != nil {
			ri.Identifier = t.ExternalSrcPort
		}
		r.SourcePort, r.DestinationPort = nil, nil
	}
	s.Reply = r
}

func icmpReply(proto, typ uint8) uint8 {
	if proto == 58 {
		if typ == 128 {
			return 129
		}
		return typ
	}
	switch typ {
	case 8:
		return 0
	case 13, 15, 17:
		return typ + 1
	}
	return typ
}
