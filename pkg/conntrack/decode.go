package conntrack

import (
	"errors"
	"fmt"
	"net/netip"
)

// entryDecoder parses ctnetlink conntrack messages into an entry whose
// optional parts (TCP, SCTP, master, counters, labels) live in the decoder
// itself: decoding allocates nothing but the helper name. The entry it
// returns is valid until the next call.
type entryDecoder struct {
	e        entry
	tcp      tcpInfo
	sctp     sctpInfo
	master   tuple
	counters [2][2]uint64
	labels   [labelBytes]byte
}

// decodeEntry parses the attributes of a ctnetlink conntrack message into
// an entry of its own.
func decodeEntry(family uint8, b []byte) (*entry, error) {
	return new(entryDecoder).decode(family, b)
}

// decode parses the attributes b of a ctnetlink conntrack message of the
// given address family.
func (d *entryDecoder) decode(family uint8, b []byte) (*entry, error) {
	d.e = entry{family: family}
	e := &d.e
	var haveOrig, haveReply bool
	a := newAttrs(b)
	for a.next() {
		switch a.typ {
		case ctaTupleOrig:
			e.orig, a.err = decodeTuple(a.val)
			haveOrig = a.err == nil
		case ctaTupleReply:
			e.reply, a.err = decodeTuple(a.val)
			haveReply = a.err == nil
		case ctaTupleMaster:
			d.master, a.err = decodeTuple(a.val)
			e.master = &d.master
		case ctaStatus:
			e.status = a.u32()
		case ctaTimeout:
			e.timeout, e.hasTO = a.u32(), true
		case ctaMark:
			e.mark = a.u32()
		case ctaZone:
			e.zone = a.u16()
		case ctaLabels:
			if len(a.val) <= labelBytes {
				e.labels = d.labels[:len(a.val):len(a.val)]
				copy(e.labels, a.val)
			} else {
				e.labels = append([]byte(nil), a.val...)
			}
		case ctaHelp:
			h := a.nested()
			for h.next() {
				if h.typ == ctaHelpName {
					e.helper = cString(h.val)
				}
			}
			a.fail(h.err)
		case ctaCountersOrig, ctaCountersReply:
			dir := 0
			if a.typ == ctaCountersReply {
				dir = 1
			}
			if e.counters == nil {
				d.counters = [2][2]uint64{}
				e.counters = &d.counters
			}
			c := a.nested()
			for c.next() {
				switch c.typ {
				case ctaCountersPackets:
					e.counters[dir][0] = c.u64()
				case ctaCountersBytes:
					e.counters[dir][1] = c.u64()
				}
			}
			a.fail(c.err)
		case ctaTimestamp:
			ts := a.nested()
			for ts.next() {
				if ts.typ == ctaTimestampStart {
					e.start = ts.u64()
				}
			}
			a.fail(ts.err)
		case ctaProtoinfo:
			d.decodeProtoinfo(&a)
		}
	}
	if a.err != nil {
		return nil, fmt.Errorf("conntrack: decoding entry: %w", a.err)
	}
	if !haveOrig || !haveReply {
		return nil, errors.New("conntrack: entry without original or reply tuple")
	}
	return e, nil
}

func (d *entryDecoder) decodeProtoinfo(a *attrs) {
	pi := a.nested()
	for pi.next() {
		switch pi.typ {
		case ctaProtoinfoTCP:
			d.tcp = tcpInfo{}
			d.e.tcp = &d.tcp
			ti := &d.tcp
			t := pi.nested()
			for t.next() {
				switch t.typ {
				case ctaProtoinfoTCPState:
					ti.state = t.u8()
				case ctaProtoinfoTCPWscaleOrig:
					ti.wscale[0] = t.u8()
				case ctaProtoinfoTCPWscaleReply:
					ti.wscale[1] = t.u8()
				case ctaProtoinfoTCPFlagsOrig:
					if len(t.val) >= 1 {
						ti.flags[0] = t.val[0] // the mask comes back 0
					}
				case ctaProtoinfoTCPFlagsReply:
					if len(t.val) >= 1 {
						ti.flags[1] = t.val[0]
					}
				}
			}
			pi.fail(t.err)
		case ctaProtoinfoSCTP:
			d.sctp = sctpInfo{}
			d.e.sctp = &d.sctp
			si := &d.sctp
			p := pi.nested()
			for p.next() {
				switch p.typ {
				case ctaProtoinfoSCTPState:
					si.state = p.u8()
				case ctaProtoinfoSCTPVtagOriginal:
					si.vtag[0] = p.u32()
				case ctaProtoinfoSCTPVtagReply:
					si.vtag[1] = p.u32()
				}
			}
			pi.fail(p.err)
		}
	}
	a.fail(pi.err)
}

// decodeTuple parses a CTA_TUPLE_* attribute's value.
func decodeTuple(b []byte) (tuple, error) {
	var t tuple
	a := newAttrs(b)
	for a.next() {
		switch a.typ {
		case ctaTupleIP:
			ip := a.nested()
			for ip.next() {
				switch ip.typ {
				case ctaIPv4Src, ctaIPv6Src:
					t.src, _ = netip.AddrFromSlice(ip.val)
				case ctaIPv4Dst, ctaIPv6Dst:
					t.dst, _ = netip.AddrFromSlice(ip.val)
				}
			}
			a.fail(ip.err)
		case ctaTupleProto:
			p := a.nested()
			for p.next() {
				switch p.typ {
				case ctaProtoNum:
					t.proto = p.u8()
				case ctaProtoSrcPort, ctaProtoICMPID, ctaProtoICMPv6ID:
					t.sport = p.u16()
				case ctaProtoDstPort:
					t.dport = p.u16()
				case ctaProtoICMPType, ctaProtoICMPv6Type:
					t.icmpType = p.u8()
				case ctaProtoICMPCode, ctaProtoICMPv6Code:
					t.icmpCode = p.u8()
				}
			}
			a.fail(p.err)
		}
	}
	if a.err != nil {
		return t, a.err
	}
	if !t.src.IsValid() || !t.dst.IsValid() {
		return t, errors.New("conntrack: tuple without addresses")
	}
	return t, nil
}

// cString is a NUL-padded string attribute without its NULs.
func cString(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b)
}
