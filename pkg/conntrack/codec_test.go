package conntrack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

// Tests of the in-place netlink codec against the netlink.Attribute*-based
// one it replaced (reference_test.go). None needs the kernel.

var entryCmp = []cmp.Option{
	cmp.AllowUnexported(entry{}, tuple{}, natTarget{}, tcpInfo{}, sctpInfo{}),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

// codecSessions covers every part of the encoder: the kernel test set
// plus what the kernel tests cannot write in a fresh namespace (helper,
// master, labels) and the protocols without ports.
func codecSessions() []*fs {
	ss := testSessions(true)
	ftp := sb(0, 6, "10.1.0.8", 40100, "10.2.0.8", 21, 600)
	ftp.Alg = &flowstate.SamiFlowState_FlowState_Sessions_Session_Alg{Helper: ygot.String("ftp")}
	data := sb(0, 6, "10.2.0.8", 20, "10.1.0.8", 40101, 60)
	data.Alg = &flowstate.SamiFlowState_FlowState_Sessions_Session_Alg{Master: ygot.String("0/6/10.1.0.8/40100/10.2.0.8/21")}
	lab := sb(3, 17, "10.1.0.9", 1000, "10.2.0.9", 2000, 60)
	lab.Label = []uint8{0, 5, 127}
	v6 := established(sb(0, 6, "2001:db8::1", 40000, "2001:db8:2::1", 443, 300), 7, 7)
	v6.Nat = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{Source: &natSource{
		InternalSrcAddress: ygot.String("2001:db8::1"), InternalSrcPort: ygot.Uint16(40000),
		ExternalSrcAddress: ygot.String("2001:db8:ffff::1"), ExternalSrcPort: ygot.Uint16(1024),
	}}
	icmp6 := sb(0, 58, "2001:db8::1", 0, "2001:db8::2", 0, 30)
	icmp6.Original.Icmp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp{
		Type: ygot.Uint8(128), Code: ygot.Uint8(0), Identifier: ygot.Uint16(77),
	}
	gre := sb(9, 47, "10.1.0.10", 0, "10.2.0.10", 0, 120)
	gre.Mark = ygot.Uint32(7)
	liberal := established(sb(0, 6, "10.1.0.11", 1, "10.2.0.11", 2, 60), 0, 14)
	liberal.Tcp.Reply.Liberal = ygot.Bool(true)
	for _, s := range []*fs{ftp, data, lab, v6, icmp6, gre, liberal} {
		ss = append(ss, withReply(s))
	}
	return ss
}

type namedEntry struct {
	name string
	e    *entry
}

// codecEntries are codecSessions as written, also with WithLiberal(true).
func codecEntries(t testing.TB) []namedEntry {
	t.Helper()
	var es []namedEntry
	for _, s := range codecSessions() {
		for _, forceLiberal := range []bool{false, true} {
			e, err := fromSession(s, forceLiberal)
			if err != nil {
				t.Fatalf("fromSession(%s): %v", *s.Id, err)
			}
			name := *s.Id
			if forceLiberal {
				name += " liberal"
			}
			es = append(es, namedEntry{name, e})
		}
	}
	return es
}

func TestEncodeMatchesReference(t *testing.T) {
	for _, ne := range codecEntries(t) {
		e := ne.e
		t.Run(ne.name, func(t *testing.T) {
			want, err := refEncodeNew(e, true)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.appendNew(nil); !bytes.Equal(got, want) {
				t.Errorf("appendNew:\n got %x\nwant %x", got, want)
			}
			wantKey, err := refEncodeKey(e)
			if err != nil {
				t.Fatal(err)
			}
			// Appending after other bytes must not disturb them.
			if got := e.appendKey([]byte{1, 2, 3, 4}); !bytes.Equal(got[4:], wantKey) || !bytes.Equal(got[:4], []byte{1, 2, 3, 4}) {
				t.Errorf("appendKey:\n got %x\nwant 01020304%x", got, wantKey)
			}
		})
	}
}

// dumpMessage is e as the kernel sends it in a dump (near enough: the
// attributes of IPCTNL_MSG_CT_NEW).
func dumpMessage(b []byte, e *entry, seq uint32, flags netlink.HeaderFlags) []byte {
	b, start := beginRequest(b, ipctnlMsgCtNew, flags, seq, e.family)
	return endRequest(e.appendNew(b), start)
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, ne := range codecEntries(t) {
		e := ne.e
		t.Run(ne.name, func(t *testing.T) {
			attrs := e.appendNew(nil)
			var d entryDecoder
			got, err := d.decode(e.family, attrs)
			if err != nil {
				t.Fatal(err)
			}
			// NAT goes to the kernel as CTA_NAT_*, which a dump does not
			// report (it shows the translated reply tuple).
			want := *e
			want.snat, want.dnat = nil, nil
			if diff := cmp.Diff(&want, got, entryCmp...); diff != "" {
				t.Errorf("decode(appendNew(e)) (-want +got):\n%s", diff)
			}
			ref, err := refDecodeEntry(e.family, attrs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ref, got, entryCmp...); diff != "" {
				t.Errorf("decode differs from the reference decoder (-ref +got):\n%s", diff)
			}
			var sb sessionBuilder
			s, err := sb.build(got)
			if err != nil {
				t.Fatal(err)
			}
			refS, err := refToSession(ref)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(refS, s); diff != "" {
				t.Errorf("session differs from the reference conversion (-ref +got):\n%s", diff)
			}
			if err := flow.CheckKey(s); err != nil {
				t.Errorf("CheckKey: %v", err)
			}
		})
	}
}

// TestSessionsShareNothing: a dumped session's leaves belong to it alone,
// so a caller may change them (the agent clears counters, for one).
func TestSessionsShareNothing(t *testing.T) {
	var sb sessionBuilder
	var d entryDecoder
	es := codecEntries(t)
	var ss []*fs
	for _, ne := range es {
		e := ne.e
		got, err := d.decode(e.family, e.appendNew(nil))
		if err != nil {
			t.Fatal(err)
		}
		s, err := sb.build(got)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	want := make([]*fs, len(ss))
	for i, s := range ss {
		c, err := ygot.DeepCopy(s)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = c.(*fs)
	}
	// Scribble over every other session, through every pointer.
	for i := 0; i < len(ss); i += 2 {
		s := ss[i]
		*s.Id, *s.Original.SourceAddress, *s.Reply.DestinationAddress = "x", "x", "x"
		*s.Protocol, *s.ZoneId = 99, 99
		if s.Original.SourcePort != nil {
			*s.Original.SourcePort, *s.Reply.DestinationPort = 1, 1
		}
		if s.Timers != nil && s.Timers.Remaining != nil {
			*s.Timers.Remaining = 1
		}
		if len(s.Status) > 0 {
			s.Status[0] = flowstate.SamiFlowState_FlowState_Sessions_Session_Status_offloaded
			s.Status = append(s.Status, flowstate.SamiFlowState_FlowState_Sessions_Session_Status_offloaded)
		}
		if s.Tcp != nil && s.Tcp.Original != nil {
			s.Tcp.Original.Flags = append(s.Tcp.Original.Flags, flowstate.SamiFlowState_TcpTrackingFlag_close_init)
			if s.Tcp.Original.WindowScale != nil {
				*s.Tcp.Original.WindowScale = 1
			}
		}
		if s.Nat != nil && s.Nat.Source != nil {
			*s.Nat.Source.ExternalSrcAddress = "x"
		}
	}
	for i := 1; i < len(ss); i += 2 {
		if diff := cmp.Diff(want[i], ss[i]); diff != "" {
			t.Errorf("session %d changed by writes to its neighbours (-want +got):\n%s", i, diff)
		}
	}
}

func TestAttrsMalformed(t *testing.T) {
	le := binary.NativeEndian
	attr := func(l, typ uint16, data ...byte) []byte {
		b := le.AppendUint16(nil, l)
		return append(le.AppendUint16(b, typ), data...)
	}
	tests := []struct {
		name string
		b    []byte
		n    int // attributes read before the end or the error
		bad  bool
	}{
		{"empty", nil, 0, false},
		{"one u32", attr(8, 1, 0, 0, 0, 1), 1, false},
		{"zero length is an empty attribute", attr(0, 1), 1, false},
		{"short header", []byte{8, 0}, 0, true},
		{"length below header", attr(3, 1, 0), 0, true},
		{"length beyond buffer", attr(12, 1, 0, 0, 0, 1), 0, true},
		{"unpadded last attribute", attr(5, 1, 9), 1, false},
		{"trailing bytes", append(attr(8, 1, 0, 0, 0, 1), 0, 0), 1, true},
		{"flags masked", attr(4, 1|nlaFNested), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAttrs(tt.b)
			n := 0
			for a.next() {
				n++
				if a.typ&^nlaTypeMask != 0 {
					t.Errorf("type %#x keeps its flags", a.typ)
				}
			}
			if n != tt.n || (a.err != nil) != tt.bad {
				t.Errorf("read %d attributes, err %v; want %d, bad %v", n, a.err, tt.n, tt.bad)
			}
			// The reference decoder agrees on what is malformed.
			ad, err := netlink.NewAttributeDecoder(tt.b)
			if err == nil {
				for ad.Next() {
				}
				err = ad.Err()
			}
			if (err != nil) != tt.bad {
				t.Errorf("netlink.AttributeDecoder: %v, want bad %v", err, tt.bad)
			}
		})
	}
	a := newAttrs(attr(6, 1, 0, 1))
	if !a.next() || a.u32() != 0 || a.err == nil {
		t.Errorf("u32 of a 2-byte value: err %v, want an error", a.err)
	}
}

// ackMessage builds an NLMSG_ERROR answer to a request with sequence seq.
func ackMessage(seq uint32, errno syscall.Errno, capped bool, msg string) []byte {
	flags := netlink.HeaderFlags(0)
	var payload []byte
	payload = binary.NativeEndian.AppendUint32(payload, uint32(-int32(errno)))
	req, start := beginRequest(nil, ipctnlMsgCtNew, netlink.Request, seq, afINET)
	req = endRequest(putU32(req, ctaMark, 1), start)
	if capped {
		flags |= netlink.Capped
		payload = append(payload, req[:nlmsgHeaderLen]...)
	} else {
		payload = append(payload, req...)
	}
	if msg != "" {
		flags |= netlink.AcknowledgeTLVs
		payload = putString(payload, 1, msg)
	}
	b := binary.NativeEndian.AppendUint32(nil, uint32(nlmsgHeaderLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, nlmsgError)
	b = binary.NativeEndian.AppendUint16(b, uint16(flags))
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	return append(b, payload...)
}

func TestMessageStatus(t *testing.T) {
	tests := []struct {
		name   string
		b      []byte
		errno  syscall.Errno
		msg    string
		capped bool
	}{
		{"ack", ackMessage(7, 0, true, ""), 0, "", true},
		{"errno", ackMessage(7, syscall.EEXIST, true, ""), syscall.EEXIST, "", true},
		{"extended ack, capped", ackMessage(7, syscall.EINVAL, true, "bad helper"), syscall.EINVAL, "bad helper", true},
		{"extended ack with the request", ackMessage(7, syscall.ENOENT, false, "no such entry"), syscall.ENOENT, "no such entry", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, rest, err := nextMsg(tt.b)
			if err != nil || len(rest) != 0 {
				t.Fatalf("nextMsg: %v, %d bytes left", err, len(rest))
			}
			if m.seq != 7 || m.typ != nlmsgError {
				t.Errorf("seq %d type %d", m.seq, m.typ)
			}
			err = m.status()
			if tt.errno == 0 {
				if err != nil {
					t.Errorf("status of an ack: %v", err)
				}
				return
			}
			var ke *kernelError
			if !errors.As(err, &ke) || !errors.Is(err, tt.errno) || ke.Msg != tt.msg {
				t.Errorf("status = %v, want errno %v message %q", err, tt.errno, tt.msg)
			}
		})
	}
	hdr := func(l uint32) []byte {
		return append(binary.NativeEndian.AppendUint32(nil, l), make([]byte, 12)...)
	}
	for name, b := range map[string][]byte{"short": {1, 2, 3}, "length below header": hdr(15), "length beyond datagram": hdr(64)} {
		if _, _, err := nextMsg(b); !errors.Is(err, errBadMessage) {
			t.Errorf("nextMsg of a %s message: %v, want errBadMessage", name, err)
		}
	}
}

// TestFromSessionMatchesReference: the builder that reuses its storage
// gives the entries and the errors of the allocating version it replaced,
// also when one builder converts many sessions in a row.
func TestFromSessionMatchesReference(t *testing.T) {
	bad := func(f func(s *fs)) *fs {
		s := withReply(established(sb(0, 6, "10.1.0.1", 1, "10.2.0.1", 2, 60), 7, 7))
		f(s)
		return s
	}
	ss := append(codecSessions(), nil,
		bad(func(s *fs) { s.Timers = nil }),
		bad(func(s *fs) { s.Original.SourcePort = nil }),
		bad(func(s *fs) { s.Reply.SourceAddress = ygot.String("2001:db8::1") }),
		bad(func(s *fs) { s.Reply.DestinationAddress = ygot.String("10.0.0") }),
		bad(func(s *fs) {
			s.Nat = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{Source: &natSource{ExternalSrcAddress: ygot.String("x")}}
		}),
		bad(func(s *fs) {
			s.Nat = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{Destination: &natDest{InternalDstAddress: ygot.String("2001:db8::1")}}
		}),
		bad(func(s *fs) { s.Label = []uint8{128} }),
		bad(func(s *fs) {
			s.Alg = &flowstate.SamiFlowState_FlowState_Sessions_Session_Alg{Master: ygot.String("0/6/10.0.0.1")}
		}),
		bad(func(s *fs) { s.Timers.Remaining, s.Timers.IdleTimeout = nil, ygot.Uint32(30) }),
	)
	nErr := 0
	for _, forceLiberal := range []bool{false, true} {
		var eb entryBuilder
		for i, s := range ss {
			t.Run(fmt.Sprintf("%d liberal=%v", i, forceLiberal), func(t *testing.T) {
				want, wantErr := refFromSession(s, forceLiberal)
				if wantErr != nil {
					nErr++
				}
				got, err := eb.build(s, forceLiberal)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("error %v, want %v", err, wantErr)
				}
				if diff := cmp.Diff(want, got, entryCmp...); diff != "" {
					t.Errorf("entry differs (-ref +got):\n%s", diff)
				}
			})
		}
	}
	if nErr != 2*9 {
		t.Errorf("%d conversions failed, want the 9 bad sessions twice", nErr)
	}
	long := withReply(sb(0, 6, "10.1.0.1", 1, "10.2.0.1", 21, 60))
	long.Alg = &flowstate.SamiFlowState_FlowState_Sessions_Session_Alg{Helper: ygot.String("a-helper-name-too-long")}
	if _, err := fromSession(long, false); !errors.Is(err, flow.ErrInvalid) || !strings.Contains(err.Error(), "alg/helper") {
		t.Errorf("helper name of 22 characters: %v, want an invalid alg/helper", err)
	}
}
