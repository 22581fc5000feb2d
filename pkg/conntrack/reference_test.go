package conntrack

// The ctnetlink encoder, decoder and session conversion as they were
// before they were rewritten for speed (on netlink.AttributeDecoder and
// AttributeEncoder, one allocation per value): the reference that
// FuzzDecodeEntry and the encoder tests compare the fast versions with.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

func refEncodeTuple(ae *netlink.AttributeEncoder, typ uint16, t tuple) {
	ae.Nested(typ, func(nae *netlink.AttributeEncoder) error {
		nae.ByteOrder = binary.BigEndian
		nae.Nested(ctaTupleIP, func(ip *netlink.AttributeEncoder) error {
			if t.src.Is4() {
				s, d := t.src.As4(), t.dst.As4()
				ip.Bytes(ctaIPv4Src, s[:])
				ip.Bytes(ctaIPv4Dst, d[:])
			} else {
				s, d := t.src.As16(), t.dst.As16()
				ip.Bytes(ctaIPv6Src, s[:])
				ip.Bytes(ctaIPv6Dst, d[:])
			}
			return nil
		})
		nae.Nested(ctaTupleProto, func(p *netlink.AttributeEncoder) error {
			p.ByteOrder = binary.BigEndian
			p.Uint8(ctaProtoNum, t.proto)
			switch {
			case t.proto == protoICMP:
				p.Uint16(ctaProtoICMPID, t.sport)
				p.Uint8(ctaProtoICMPType, t.icmpType)
				p.Uint8(ctaProtoICMPCode, t.icmpCode)
			case t.proto == protoICMPv6:
				p.Uint16(ctaProtoICMPv6ID, t.sport)
				p.Uint8(ctaProtoICMPv6Type, t.icmpType)
				p.Uint8(ctaProtoICMPv6Code, t.icmpCode)
			case hasPorts(t.proto):
				p.Uint16(ctaProtoSrcPort, t.sport)
				p.Uint16(ctaProtoDstPort, t.dport)
			}
			return nil
		})
		return nil
	})
}

func refDecodeTuple(ad *netlink.AttributeDecoder) (tuple, error) {
	var t tuple
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleIP:
			ad.Nested(func(ip *netlink.AttributeDecoder) error {
				for ip.Next() {
					b := ip.Bytes()
					switch ip.Type() {
					case ctaIPv4Src, ctaIPv6Src:
						t.src, _ = netip.AddrFromSlice(b)
					case ctaIPv4Dst, ctaIPv6Dst:
						t.dst, _ = netip.AddrFromSlice(b)
					}
				}
				return nil
			})
		case ctaTupleProto:
			ad.Nested(func(p *netlink.AttributeDecoder) error {
				p.ByteOrder = binary.BigEndian
				for p.Next() {
					switch p.Type() {
					case ctaProtoNum:
						t.proto = p.Uint8()
					case ctaProtoSrcPort, ctaProtoICMPID, ctaProtoICMPv6ID:
						t.sport = p.Uint16()
					case ctaProtoDstPort:
						t.dport = p.Uint16()
					case ctaProtoICMPType, ctaProtoICMPv6Type:
						t.icmpType = p.Uint8()
					case ctaProtoICMPCode, ctaProtoICMPv6Code:
						t.icmpCode = p.Uint8()
					}
				}
				return nil
			})
		}
	}
	if !t.src.IsValid() || !t.dst.IsValid() {
		return t, errors.New("conntrack: tuple without addresses")
	}
	return t, ad.Err()
}

// encodeNew encodes e as the attributes of IPCTNL_MSG_CT_NEW.
func refEncodeNew(e *entry, withNAT bool) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	refEncodeTuple(ae, ctaTupleOrig, e.orig)
	refEncodeTuple(ae, ctaTupleReply, e.reply)
	if e.zone != 0 {
		ae.Uint16(ctaZone, e.zone)
	}
	ae.Uint32(ctaStatus, e.status)
	ae.Uint32(ctaTimeout, e.timeout)
	ae.Uint32(ctaMark, e.mark)
	if withNAT {
		for _, n := range []struct {
			typ uint16
			t   *natTarget
		}{{ctaNatSrc, e.snat}, {ctaNatDst, e.dnat}} {
			if n.t == nil {
				continue
			}
			ae.Nested(n.typ, func(nae *netlink.AttributeEncoder) error {
				nae.ByteOrder = binary.BigEndian
				if a := n.t.addr; a.IsValid() {
					if a.Is4() {
						b := a.As4()
						nae.Bytes(ctaNatV4MinIP, b[:])
						nae.Bytes(ctaNatV4MaxIP, b[:])
					} else {
						b := a.As16()
						nae.Bytes(ctaNatV6MinIP, b[:])
						nae.Bytes(ctaNatV6MaxIP, b[:])
					}
				}
				if n.t.hasPort {
					nae.Nested(ctaNatProto, func(p *netlink.AttributeEncoder) error {
						p.ByteOrder = binary.BigEndian
						p.Uint16(ctaProtonatPortMin, n.t.port)
						p.Uint16(ctaProtonatPortMax, n.t.port)
						return nil
					})
				}
				return nil
			})
		}
		if e.master != nil {
			refEncodeTuple(ae, ctaTupleMaster, *e.master)
		}
	}
	if e.tcp != nil {
		t := e.tcp
		ae.Nested(ctaProtoinfo, func(pi *netlink.AttributeEncoder) error {
			pi.Nested(ctaProtoinfoTCP, func(tc *netlink.AttributeEncoder) error {
				tc.Uint8(ctaProtoinfoTCPState, t.state)
				tc.Uint8(ctaProtoinfoTCPWscaleOrig, t.wscale[0])
				tc.Uint8(ctaProtoinfoTCPWscaleReply, t.wscale[1])
				// struct nf_ct_tcp_flags {flags, mask}: the kernel applies
				// flags & mask. A full mask makes the entry carry exactly
				// these flags, on create and on update.
				tc.Bytes(ctaProtoinfoTCPFlagsOrig, []byte{t.flags[0], 0xff})
				tc.Bytes(ctaProtoinfoTCPFlagsReply, []byte{t.flags[1], 0xff})
				return nil
			})
			return nil
		})
	}
	if e.sctp != nil {
		sc := e.sctp
		ae.Nested(ctaProtoinfo, func(pi *netlink.AttributeEncoder) error {
			pi.Nested(ctaProtoinfoSCTP, func(p *netlink.AttributeEncoder) error {
				p.ByteOrder = binary.BigEndian
				p.Uint8(ctaProtoinfoSCTPState, sc.state)
				p.Uint32(ctaProtoinfoSCTPVtagOriginal, sc.vtag[0])
				p.Uint32(ctaProtoinfoSCTPVtagReply, sc.vtag[1])
				return nil
			})
			return nil
		})
	}
	if e.helper != "" {
		ae.Nested(ctaHelp, func(h *netlink.AttributeEncoder) error {
			h.String(ctaHelpName, e.helper)
			return nil
		})
	}
	if e.labels != nil {
		ae.Bytes(ctaLabels, e.labels)
		mask := make([]byte, labelBytes)
		for i := range mask {
			mask[i] = 0xff
		}
		ae.Bytes(ctaLabelsMask, mask)
	}
	return ae.Encode()
}

// encodeKey encodes the attributes that name e: original tuple and zone
// (IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_GET).
func refEncodeKey(e *entry) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	refEncodeTuple(ae, ctaTupleOrig, e.orig)
	if e.zone != 0 {
		ae.Uint16(ctaZone, e.zone)
	}
	return ae.Encode()
}

// decodeEntry parses the attributes of a ctnetlink conntrack message.
func refDecodeEntry(family uint8, b []byte) (*entry, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	e := &entry{family: family}
	var haveOrig, haveReply bool
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleOrig:
			ad.Nested(func(nad *netlink.AttributeDecoder) (err error) {
				e.orig, err = refDecodeTuple(nad)
				haveOrig = err == nil
				return err
			})
		case ctaTupleReply:
			ad.Nested(func(nad *netlink.AttributeDecoder) (err error) {
				e.reply, err = refDecodeTuple(nad)
				haveReply = err == nil
				return err
			})
		case ctaTupleMaster:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				t, err := refDecodeTuple(nad)
				e.master = &t
				return err
			})
		case ctaStatus:
			e.status = ad.Uint32()
		case ctaTimeout:
			e.timeout, e.hasTO = ad.Uint32(), true
		case ctaMark:
			e.mark = ad.Uint32()
		case ctaZone:
			e.zone = ad.Uint16()
		case ctaLabels:
			e.labels = slices.Clone(ad.Bytes())
		case ctaHelp:
			ad.Nested(func(h *netlink.AttributeDecoder) error {
				for h.Next() {
					if h.Type() == ctaHelpName {
						e.helper = h.String()
					}
				}
				return nil
			})
		case ctaCountersOrig, ctaCountersReply:
			dir := 0
			if ad.Type() == ctaCountersReply {
				dir = 1
			}
			if e.counters == nil {
				e.counters = new([2][2]uint64)
			}
			ad.Nested(func(c *netlink.AttributeDecoder) error {
				c.ByteOrder = binary.BigEndian
				for c.Next() {
					switch c.Type() {
					case ctaCountersPackets:
						e.counters[dir][0] = c.Uint64()
					case ctaCountersBytes:
						e.counters[dir][1] = c.Uint64()
					}
				}
				return nil
			})
		case ctaTimestamp:
			ad.Nested(func(ts *netlink.AttributeDecoder) error {
				ts.ByteOrder = binary.BigEndian
				for ts.Next() {
					if ts.Type() == ctaTimestampStart {
						e.start = ts.Uint64()
					}
				}
				return nil
			})
		case ctaProtoinfo:
			ad.Nested(func(pi *netlink.AttributeDecoder) error {
				for pi.Next() {
					switch pi.Type() {
					case ctaProtoinfoTCP:
						ti := &tcpInfo{}
						e.tcp = ti
						pi.Nested(func(t *netlink.AttributeDecoder) error {
							for t.Next() {
								switch t.Type() {
								case ctaProtoinfoTCPState:
									ti.state = t.Uint8()
								case ctaProtoinfoTCPWscaleOrig:
									ti.wscale[0] = t.Uint8()
								case ctaProtoinfoTCPWscaleReply:
									ti.wscale[1] = t.Uint8()
								case ctaProtoinfoTCPFlagsOrig:
									if b := t.Bytes(); len(b) >= 1 {
										ti.flags[0] = b[0] // the mask comes back 0
									}
								case ctaProtoinfoTCPFlagsReply:
									if b := t.Bytes(); len(b) >= 1 {
										ti.flags[1] = b[0]
									}
								}
							}
							return nil
						})
					case ctaProtoinfoSCTP:
						si := &sctpInfo{}
						e.sctp = si
						pi.Nested(func(p *netlink.AttributeDecoder) error {
							p.ByteOrder = binary.BigEndian
							for p.Next() {
								switch p.Type() {
								case ctaProtoinfoSCTPState:
									si.state = p.Uint8()
								case ctaProtoinfoSCTPVtagOriginal:
									si.vtag[0] = p.Uint32()
								case ctaProtoinfoSCTPVtagReply:
									si.vtag[1] = p.Uint32()
								}
							}
							return nil
						})
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("conntrack: decoding entry: %w", err)
	}
	if !haveOrig || !haveReply {
		return nil, errors.New("conntrack: entry without original or reply tuple")
	}
	return e, nil
}

func refPortPtr(proto uint8, p uint16) *uint16 {
	if hasPorts(proto) {
		return ygot.Uint16(p)
	}
	return nil
}

// toSession builds the model's session from a dumped entry. NAT is derived
// from the difference between the reply tuple and the inverse of the
// original.
func refToSession(e *entry) (*sess, error) {
	s := &sess{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(e.orig.proto),
		ZoneId:        ygot.Uint16(e.zone),
	}
	if e.family == afINET6 || e.orig.src.Is6() {
		s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6
	}
	o := e.orig
	s.Original = &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
		SourceAddress:      ygot.String(o.src.String()),
		DestinationAddress: ygot.String(o.dst.String()),
		SourcePort:         refPortPtr(o.proto, o.sport),
		DestinationPort:    refPortPtr(o.proto, o.dport),
	}
	r := e.reply
	s.Reply = &flowstate.SamiFlowState_FlowState_Sessions_Session_Reply{
		SourceAddress:      ygot.String(r.src.String()),
		DestinationAddress: ygot.String(r.dst.String()),
		SourcePort:         refPortPtr(r.proto, r.sport),
		DestinationPort:    refPortPtr(r.proto, r.dport),
	}
	if isICMP(o.proto) {
		s.Original.Icmp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp{
			Type: ygot.Uint8(o.icmpType), Code: ygot.Uint8(o.icmpCode), Identifier: ygot.Uint16(o.sport),
		}
		s.Reply.Icmp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Reply_Icmp{
			Type: ygot.Uint8(r.icmpType), Code: ygot.Uint8(r.icmpCode), Identifier: ygot.Uint16(r.sport),
		}
	}

	// NAT: SNAT when the reply goes to another address/port than the
	// original source, DNAT when it comes from another than the original
	// destination.
	inv := o.inverse()
	snat := r.dst != inv.dst || r.dport != inv.dport || (isICMP(o.proto) && r.sport != inv.sport)
	dnat := r.src != inv.src || (hasPorts(o.proto) && r.sport != inv.sport)
	if snat || dnat {
		s.Nat = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{}
	}
	if snat {
		ns := &natSource{
			InternalSrcAddress: ygot.String(o.src.String()),
			ExternalSrcAddress: ygot.String(r.dst.String()),
		}
		switch {
		case hasPorts(o.proto):
			ns.InternalSrcPort, ns.ExternalSrcPort = ygot.Uint16(o.sport), ygot.Uint16(r.dport)
		case isICMP(o.proto):
			ns.InternalSrcPort, ns.ExternalSrcPort = ygot.Uint16(o.sport), ygot.Uint16(r.sport)
		}
		s.Nat.Source = ns
	}
	if dnat {
		nd := &natDest{
			ExternalDstAddress: ygot.String(o.dst.String()),
			InternalDstAddress: ygot.String(r.src.String()),
		}
		if hasPorts(o.proto) {
			nd.ExternalDstPort, nd.InternalDstPort = ygot.Uint16(o.dport), ygot.Uint16(r.sport)
		}
		s.Nat.Destination = nd
	}

	for _, m := range statusBits {
		if e.status&m.bit != 0 {
			s.Status = append(s.Status, m.e)
		}
	}
	if e.hasTO || e.start != 0 {
		s.Timers = &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{}
		if e.hasTO {
			s.Timers.Remaining = ygot.Uint32(e.timeout)
		}
		if e.start != 0 {
			s.Timers.Created = ygot.String(time.Unix(0, int64(e.start)).UTC().Format(time.RFC3339Nano))
		}
	}
	if e.mark != 0 {
		s.Mark = ygot.Uint32(e.mark)
	}
	if t := e.tcp; t != nil && o.proto == protoTCP {
		s.Tcp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{
			State: flowstate.E_SamiFlowState_TcpState(t.state + 1),
		}
		if t.flags[0] != 0 {
			d := &tcpOrig{Flags: modelFlags(t.flags[0])}
			if t.flags[0]&tcpFlagWindowScale != 0 {
				d.WindowScale = ygot.Uint8(t.wscale[0])
			}
			if t.flags[0]&tcpFlagBeLiberal != 0 {
				d.Liberal = ygot.Bool(true)
			}
			s.Tcp.Original = d
		}
		if t.flags[1] != 0 {
			d := &tcpReply{Flags: modelFlags(t.flags[1])}
			if t.flags[1]&tcpFlagWindowScale != 0 {
				d.WindowScale = ygot.Uint8(t.wscale[1])
			}
			if t.flags[1]&tcpFlagBeLiberal != 0 {
				d.Liberal = ygot.Bool(true)
			}
			s.Tcp.Reply = d
		}
	}
	if sc := e.sctp; sc != nil && o.proto == protoSCTP {
		s.Sctp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Sctp{
			State:        flowstate.E_SamiFlowState_SctpState(sc.state + 1),
			OriginalVtag: ygot.Uint32(sc.vtag[0]),
			ReplyVtag:    ygot.Uint32(sc.vtag[1]),
		}
	}
	for i, b := range e.labels {
		for bit := range 8 {
			if b&(1<<bit) != 0 && i*8+bit < 256 {
				s.Label = append(s.Label, uint8(i*8+bit))
			}
		}
	}
	if e.helper != "" || e.master != nil {
		s.Alg = &flowstate.SamiFlowState_FlowState_Sessions_Session_Alg{}
		if e.helper != "" {
			s.Alg.Helper = ygot.String(e.helper)
		}
		if e.master != nil {
			s.Alg.Master = ygot.String(e.master.keyFields(e.zone).String())
		}
	}
	if c := e.counters; c != nil {
		s.Counters = &flowstate.SamiFlowState_FlowState_Sessions_Session_Counters{
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Original{
				Packets: ygot.Uint64(c[0][0]), Bytes: ygot.Uint64(c[0][1]),
			},
			Reply: &flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Reply{
				Packets: ygot.Uint64(c[1][0]), Bytes: ygot.Uint64(c[1][1]),
			},
		}
	}
	if err := flow.SetKey(s); err != nil {
		return nil, err
	}
	return s, nil
}

func modelFlags(b uint8) []flowstate.E_SamiFlowState_TcpTrackingFlag {
	var out []flowstate.E_SamiFlowState_TcpTrackingFlag
	for _, m := range tcpFlagBits {
		if b&m.bit != 0 {
			out = append(out, m.e)
		}
	}
	return out
}

// refFromSession turns a session into the entry to write. The reply tuple is
// the plain inverse of the original; NAT comes from nat/source and
// nat/destination, or, when the session has no nat container, from the
// difference between its reply tuple and that inverse (as a dump reports
// it).
func refFromSession(s *sess, forceLiberal bool) (*entry, error) {
	if s == nil {
		return nil, flow.ErrNilSession
	}
	id, err := flow.Key(s)
	if err != nil {
		return nil, err
	}
	k, err := flow.ParseKey(id)
	if err != nil {
		return nil, err
	}
	e := &entry{family: afINET, zone: k.ZoneID, orig: tupleFromKey(k)}
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
			nt := &natTarget{}
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
			nt := &natTarget{}
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
			nt := &natTarget{}
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
		nt := &natTarget{}
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
		ti := &tcpInfo{}
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
			si := &sctpInfo{vtag: [2]uint32{sc.GetOriginalVtag(), sc.GetReplyVtag()}}
			if sc.State != flowstate.SamiFlowState_SctpState_UNSET {
				si.state = uint8(sc.State - 1)
			}
			e.sctp = si
		}
	}

	if len(s.Label) > 0 {
		e.labels = make([]byte, labelBytes)
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
			mt := tupleFromKey(mk)
			e.master = &mt
		}
	}
	return e, nil
}
