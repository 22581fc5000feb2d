package conntrack

import (
	"encoding/binary"

	"github.com/mdlayher/netlink"
)

// Requests are written straight into one buffer per batch: header,
// nfgenmsg and attributes, no intermediate slices.

const nlmsgHeaderLen = 16

// beginRequest appends the netlink header (length fixed by endRequest) and
// the nfgenmsg header of a ctnetlink request and returns where it starts.
func beginRequest(b []byte, msg uint16, flags netlink.HeaderFlags, seq uint32, family uint8) ([]byte, int) {
	start := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, uint16(msgType(msg)))
	b = binary.NativeEndian.AppendUint16(b, uint16(flags))
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // port id: the kernel's is 0
	return append(b, family, nfnetlinkV0, 0, 0), start
}

func endRequest(b []byte, start int) []byte {
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendTuple appends a CTA_TUPLE_* attribute.
func appendTuple(b []byte, typ uint16, t tuple) []byte {
	b, outer := beginNested(b, typ)
	b, ip := beginNested(b, ctaTupleIP)
	if t.src.Is4() {
		s, d := t.src.As4(), t.dst.As4()
		b = putBytes(b, ctaIPv4Src, s[:])
		b = putBytes(b, ctaIPv4Dst, d[:])
	} else {
		s, d := t.src.As16(), t.dst.As16()
		b = putBytes(b, ctaIPv6Src, s[:])
		b = putBytes(b, ctaIPv6Dst, d[:])
	}
	b = endNested(b, ip)
	b, p := beginNested(b, ctaTupleProto)
	b = putU8(b, ctaProtoNum, t.proto)
	switch {
	case t.proto == protoICMP:
		b = putU16(b, ctaProtoICMPID, t.sport)
		b = putU8(b, ctaProtoICMPType, t.icmpType)
		b = putU8(b, ctaProtoICMPCode, t.icmpCode)
	case t.proto == protoICMPv6:
		b = putU16(b, ctaProtoICMPv6ID, t.sport)
		b = putU8(b, ctaProtoICMPv6Type, t.icmpType)
		b = putU8(b, ctaProtoICMPv6Code, t.icmpCode)
	case hasPorts(t.proto):
		b = putU16(b, ctaProtoSrcPort, t.sport)
		b = putU16(b, ctaProtoDstPort, t.dport)
	}
	b = endNested(b, p)
	return endNested(b, outer)
}

func appendNAT(b []byte, typ uint16, n *natTarget) []byte {
	b, start := beginNested(b, typ)
	if a := n.addr; a.IsValid() {
		if a.Is4() {
			v := a.As4()
			b = putBytes(b, ctaNatV4MinIP, v[:])
			b = putBytes(b, ctaNatV4MaxIP, v[:])
		} else {
			v := a.As16()
			b = putBytes(b, ctaNatV6MinIP, v[:])
			b = putBytes(b, ctaNatV6MaxIP, v[:])
		}
	}
	if n.hasPort {
		var p int
		b, p = beginNested(b, ctaNatProto)
		b = putU16(b, ctaProtonatPortMin, n.port)
		b = putU16(b, ctaProtonatPortMax, n.port)
		b = endNested(b, p)
	}
	return endNested(b, start)
}

var fullLabelMask = func() (m [labelBytes]byte) {
	for i := range m {
		m[i] = 0xff
	}
	return m
}()

// appendNew appends e as the attributes of IPCTNL_MSG_CT_NEW.
func (e *entry) appendNew(b []byte) []byte {
	b = appendTuple(b, ctaTupleOrig, e.orig)
	b = appendTuple(b, ctaTupleReply, e.reply)
	if e.zone != 0 {
		b = putU16(b, ctaZone, e.zone)
	}
	b = putU32(b, ctaStatus, e.status)
	b = putU32(b, ctaTimeout, e.timeout)
	b = putU32(b, ctaMark, e.mark)
	if e.snat != nil {
		b = appendNAT(b, ctaNatSrc, e.snat)
	}
	if e.dnat != nil {
		b = appendNAT(b, ctaNatDst, e.dnat)
	}
	if e.master != nil {
		b = appendTuple(b, ctaTupleMaster, *e.master)
	}
	if t := e.tcp; t != nil {
		var pi, tc int
		b, pi = beginNested(b, ctaProtoinfo)
		b, tc = beginNested(b, ctaProtoinfoTCP)
		b = putU8(b, ctaProtoinfoTCPState, t.state)
		b = putU8(b, ctaProtoinfoTCPWscaleOrig, t.wscale[0])
		b = putU8(b, ctaProtoinfoTCPWscaleReply, t.wscale[1])
		// struct nf_ct_tcp_flags {flags, mask}: the kernel applies
		// flags & mask. A full mask makes the entry carry exactly these
		// flags, on create and on update.
		b = putBytes(b, ctaProtoinfoTCPFlagsOrig, []byte{t.flags[0], 0xff})
		b = putBytes(b, ctaProtoinfoTCPFlagsReply, []byte{t.flags[1], 0xff})
		b = endNested(endNested(b, tc), pi)
	}
	if sc := e.sctp; sc != nil {
		var pi, p int
		b, pi = beginNested(b, ctaProtoinfo)
		b, p = beginNested(b, ctaProtoinfoSCTP)
		b = putU8(b, ctaProtoinfoSCTPState, sc.state)
		b = putU32(b, ctaProtoinfoSCTPVtagOriginal, sc.vtag[0])
		b = putU32(b, ctaProtoinfoSCTPVtagReply, sc.vtag[1])
		b = endNested(endNested(b, p), pi)
	}
	if e.helper != "" {
		var h int
		b, h = beginNested(b, ctaHelp)
		b = putString(b, ctaHelpName, e.helper)
		b = endNested(b, h)
	}
	if e.labels != nil {
		b = putBytes(b, ctaLabels, e.labels)
		b = putBytes(b, ctaLabelsMask, fullLabelMask[:])
	}
	return b
}

// appendKey appends the attributes that name e: original tuple and zone
// (IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_GET).
func (e *entry) appendKey(b []byte) []byte {
	b = appendTuple(b, ctaTupleOrig, e.orig)
	if e.zone != 0 {
		b = putU16(b, ctaZone, e.zone)
	}
	return b
}
