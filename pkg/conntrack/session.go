package conntrack

import (
	"math/bits"
	"net/netip"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

// Every leaf of a ygot struct is a pointer, so a session built leaf by leaf
// was about 70 small allocations, the largest cost of a dump. Here a session
// and the parts every session has come from one allocation (sessionBlock),
// each optional part from one more (TCP, NAT, ICMP, ...), and all its text
// (id and addresses) from one string. A block belongs to its session only:
// nothing is shared between sessions, so keeping one session keeps no
// other alive, and the caller may change any leaf.

type sessionBlock struct {
	s         sess
	orig      flowstate.SamiFlowState_FlowState_Sessions_Session_Original
	reply     flowstate.SamiFlowState_FlowState_Sessions_Session_Reply
	timers    flowstate.SamiFlowState_FlowState_Sessions_Session_Timers
	text      [5]string // id, original src/dst, reply src/dst
	ports     [4]uint16 // original sport/dport, reply sport/dport
	zone      uint16
	proto     uint8
	remaining uint32
	mark      uint32
	status    [4]flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status
}

type tcpBlock struct {
	tcp     flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp
	dir     [2]tcpDirBlock
	orig    tcpOrig
	reply   tcpReply
	wscale  [2]uint8
	liberal [2]bool
}

type tcpDirBlock struct {
	flags [7]flowstate.E_SamiFlowState_TcpTrackingFlag // len(tcpFlagBits)
}

type natBlock struct {
	nat   flowstate.SamiFlowState_FlowState_Sessions_Session_Nat
	src   natSource
	dst   natDest
	text  [4]string
	ports [4]uint16
}

type icmpBlock struct {
	orig  flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp
	reply flowstate.SamiFlowState_FlowState_Sessions_Session_Reply_Icmp
	u8    [4]uint8 // original type/code, reply type/code
	id    [2]uint16
}

type sctpBlock struct {
	sctp flowstate.SamiFlowState_FlowState_Sessions_Session_Sctp
	vtag [2]uint32
}

type countersBlock struct {
	c     flowstate.SamiFlowState_FlowState_Sessions_Session_Counters
	orig  flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Original
	reply flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Reply
	v     [2][2]uint64
}

// sessionBuilder turns entries into sessions; its scratch buffer is reused
// from one session to the next. Not safe for concurrent use.
type sessionBuilder struct {
	buf []byte
}

// toSession builds the model's session from a dumped entry.
func (e *entry) toSession() (*sess, error) {
	var b sessionBuilder
	return b.build(e)
}

// build builds the model's session from a dumped entry. NAT is derived
// from the difference between the reply tuple and the inverse of the
// original.
func (sb *sessionBuilder) build(e *entry) (*sess, error) {
	o, r := e.orig, e.reply
	blk := &sessionBlock{zone: e.zone, proto: o.proto}
	s := &blk.s
	s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv4
	if e.family == afINET6 || o.src.Is6() {
		s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6
	}
	s.Protocol, s.ZoneId = &blk.proto, &blk.zone

	// All text in one string: the id, then the four addresses.
	b := sb.buf[:0]
	var end [5]int
	b = o.keyFields(e.zone).AppendTo(b)
	end[0] = len(b)
	for i, a := range [4]netip.Addr{o.src, o.dst, r.src, r.dst} {
		b = a.AppendTo(b)
		end[i+1] = len(b)
	}
	sb.buf = b
	text := string(b)
	for i, start := 0, 0; i < len(end); i++ {
		blk.text[i], start = text[start:end[i]], end[i]
	}
	s.Id = &blk.text[0]
	s.Original, s.Reply = &blk.orig, &blk.reply
	blk.orig.SourceAddress, blk.orig.DestinationAddress = &blk.text[1], &blk.text[2]
	blk.reply.SourceAddress, blk.reply.DestinationAddress = &blk.text[3], &blk.text[4]
	blk.ports = [4]uint16{o.sport, o.dport, r.sport, r.dport}
	if hasPorts(o.proto) {
		blk.orig.SourcePort, blk.orig.DestinationPort = &blk.ports[0], &blk.ports[1]
	}
	if hasPorts(r.proto) { // the kernel's tuples agree; a malformed message may not
		blk.reply.SourcePort, blk.reply.DestinationPort = &blk.ports[2], &blk.ports[3]
	}
	if isICMP(o.proto) {
		ib := &icmpBlock{u8: [4]uint8{o.icmpType, o.icmpCode, r.icmpType, r.icmpCode}, id: [2]uint16{o.sport, r.sport}}
		ib.orig = flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp{Type: &ib.u8[0], Code: &ib.u8[1], Identifier: &ib.id[0]}
		ib.reply = flowstate.SamiFlowState_FlowState_Sessions_Session_Reply_Icmp{Type: &ib.u8[2], Code: &ib.u8[3], Identifier: &ib.id[1]}
		blk.orig.Icmp, blk.reply.Icmp = &ib.orig, &ib.reply
	}

	// NAT: SNAT when the reply goes to another address/port than the
	// original source, DNAT when it comes from another than the original
	// destination.
	inv := o.inverse()
	snat := r.dst != inv.dst || r.dport != inv.dport || (isICMP(o.proto) && r.sport != inv.sport)
	dnat := r.src != inv.src || (hasPorts(o.proto) && r.sport != inv.sport)
	if snat || dnat {
		nb := &natBlock{text: [4]string{blk.text[1], blk.text[4], blk.text[2], blk.text[3]}}
		s.Nat = &nb.nat
		if snat {
			ns := &nb.src
			ns.InternalSrcAddress, ns.ExternalSrcAddress = &nb.text[0], &nb.text[1]
			switch {
			case hasPorts(o.proto):
				nb.ports[0], nb.ports[1] = o.sport, r.dport
				ns.InternalSrcPort, ns.ExternalSrcPort = &nb.ports[0], &nb.ports[1]
			case isICMP(o.proto):
				nb.ports[0], nb.ports[1] = o.sport, r.sport
				ns.InternalSrcPort, ns.ExternalSrcPort = &nb.ports[0], &nb.ports[1]
			}
			nb.nat.Source = ns
		}
		if dnat {
			nd := &nb.dst
			nd.ExternalDstAddress, nd.InternalDstAddress = &nb.text[2], &nb.text[3]
			if hasPorts(o.proto) {
				nb.ports[2], nb.ports[3] = o.dport, r.sport
				nd.ExternalDstPort, nd.InternalDstPort = &nb.ports[2], &nb.ports[3]
			}
			nb.nat.Destination = nd
		}
	}

	n := 0
	for _, m := range statusBits {
		if e.status&m.bit != 0 {
			blk.status[n] = m.e
			n++
		}
	}
	if n > 0 {
		s.Status = blk.status[:n:n]
	}
	if e.hasTO || e.start != 0 {
		s.Timers = &blk.timers
		if e.hasTO {
			blk.remaining = e.timeout
			blk.timers.Remaining = &blk.remaining
		}
		if e.start != 0 {
			blk.timers.Created = ygot.String(time.Unix(0, int64(e.start)).UTC().Format(time.RFC3339Nano))
		}
	}
	if e.mark != 0 {
		blk.mark = e.mark
		s.Mark = &blk.mark
	}
	if t := e.tcp; t != nil && o.proto == protoTCP {
		tb := &tcpBlock{}
		tb.tcp.State = flowstate.E_SamiFlowState_TcpState(t.state + 1)
		s.Tcp = &tb.tcp
		if t.flags[0] != 0 {
			tb.orig.Flags = tb.dir[0].model(t.flags[0])
			if t.flags[0]&tcpFlagWindowScale != 0 {
				tb.wscale[0] = t.wscale[0]
				tb.orig.WindowScale = &tb.wscale[0]
			}
			if t.flags[0]&tcpFlagBeLiberal != 0 {
				tb.liberal[0] = true
				tb.orig.Liberal = &tb.liberal[0]
			}
			tb.tcp.Original = &tb.orig
		}
		if t.flags[1] != 0 {
			tb.reply.Flags = tb.dir[1].model(t.flags[1])
			if t.flags[1]&tcpFlagWindowScale != 0 {
				tb.wscale[1] = t.wscale[1]
				tb.reply.WindowScale = &tb.wscale[1]
			}
			if t.flags[1]&tcpFlagBeLiberal != 0 {
				tb.liberal[1] = true
				tb.reply.Liberal = &tb.liberal[1]
			}
			tb.tcp.Reply = &tb.reply
		}
	}
	if sc := e.sctp; sc != nil && o.proto == protoSCTP {
		scb := &sctpBlock{vtag: sc.vtag}
		scb.sctp = flowstate.SamiFlowState_FlowState_Sessions_Session_Sctp{
			State:        flowstate.E_SamiFlowState_SctpState(sc.state + 1),
			OriginalVtag: &scb.vtag[0],
			ReplyVtag:    &scb.vtag[1],
		}
		s.Sctp = &scb.sctp
	}
	if len(e.labels) > 0 {
		s.Label = modelLabels(e.labels)
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
		cb := &countersBlock{v: *c}
		cb.orig = flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Original{Packets: &cb.v[0][0], Bytes: &cb.v[0][1]}
		cb.reply = flowstate.SamiFlowState_FlowState_Sessions_Session_Counters_Reply{Packets: &cb.v[1][0], Bytes: &cb.v[1][1]}
		cb.c = flowstate.SamiFlowState_FlowState_Sessions_Session_Counters{Original: &cb.orig, Reply: &cb.reply}
		s.Counters = &cb.c
	}
	// The id above is flow.Key's, derived from the tuple instead of from
	// the address strings. Where the family would not check out (a
	// malformed message), flow.SetKey derives it and gives its error.
	if v6 := s.AddressFamily == flowstate.SamiFlowState_AddressFamily_ipv6; o.src.Is6() != v6 || o.dst.Is6() != v6 {
		if err := flow.SetKey(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// model fills d with the model's names of the tracking flags in b.
func (d *tcpDirBlock) model(b uint8) []flowstate.E_SamiFlowState_TcpTrackingFlag {
	n := 0
	for _, m := range tcpFlagBits {
		if b&m.bit != 0 {
			d.flags[n] = m.e
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return d.flags[:n:n]
}

// modelLabels lists the label bits set in b (at most 256).
func modelLabels(b []byte) []uint8 {
	n := 0
	for i, v := range b {
		if i >= 32 {
			break
		}
		n += bits.OnesCount8(v)
	}
	if n == 0 {
		return nil
	}
	out := make([]uint8, 0, n)
	for i, v := range b {
		for bit := range 8 {
			if v&(1<<bit) != 0 && i*8+bit < 256 {
				out = append(out, uint8(i*8+bit))
			}
		}
	}
	return out
}
