package flow_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name string
		s    *flow.Session
		want string
	}{
		{"tcp4", newSession(tcp, "192.0.2.1", 40000, "198.51.100.7", 443), "0/6/192.0.2.1/40000/198.51.100.7/443"},
		{"udp4 zone", newSession(udp, "10.0.0.1", 53, "10.0.0.2", 5353, withZone(42)), "42/17/10.0.0.1/53/10.0.0.2/5353"},
		{"max zone", newSession(udp, "10.0.0.1", 1, "10.0.0.2", 2, withZone(65535)), "65535/17/10.0.0.1/1/10.0.0.2/2"},
		{"tcp6 RFC 5952", newSession(tcp, "2001:DB8:0:0:0:0:0:1", 5000, "2001:0db8::0:2", 80), "0/6/2001:db8::1/5000/2001:db8::2/80"},
		{"tcp6 longest zero run", newSession(tcp, "2001:db8:0:0:1:0:0:0", 1, "::", 2), "0/6/2001:db8:0:0:1::/1/::/2"},
		{"ipv4-mapped stays IPv6", newSession(tcp, "::ffff:192.0.2.1", 1, "::FFFF:c633:6407", 2), "0/6/::ffff:192.0.2.1/1/::ffff:198.51.100.7/2"},
		{"link-local with zone", newSession(udp, "fe80::1%eth0", 546, "fe80::2%eth0", 547), "0/17/fe80::1%eth0/546/fe80::2%eth0/547"},
		{"icmp echo", icmpSession(icmp, "192.0.2.1", "198.51.100.1", 1234, 8, 0), "0/1/192.0.2.1/1234/198.51.100.1/8.0"},
		{"icmp code", icmpSession(icmp, "192.0.2.1", "198.51.100.1", 0, 13, 255, withZone(3)), "3/1/192.0.2.1/0/198.51.100.1/13.255"},
		{"icmpv6 echo", icmpSession(icmpv6, "2001:db8::1", "2001:db8::2", 7, 128, 0), "0/58/2001:db8::1/7/2001:db8::2/128.0"},
		{"icmp without code and identifier", func() *flow.Session {
			s := icmpSession(icmp, "192.0.2.1", "192.0.2.2", 0, 8, 0)
			s.Original.Icmp.Code, s.Original.Icmp.Identifier = nil, nil
			return s
		}(), "0/1/192.0.2.1/0/192.0.2.2/8.0"},
		{"icmp ignores ports", func() *flow.Session {
			s := icmpSession(icmp, "192.0.2.1", "192.0.2.2", 9, 0, 0)
			s.Original.SourcePort, s.Original.DestinationPort = ygot.Uint16(1), ygot.Uint16(2)
			return s
		}(), "0/1/192.0.2.1/9/192.0.2.2/0.0"},
		{"sctp", newSession(sctp, "192.0.2.1", 2905, "192.0.2.2", 2905), "0/132/192.0.2.1/2905/192.0.2.2/2905"},
		{"dccp", newSession(dccp, "192.0.2.1", 5001, "192.0.2.2", 5002), "0/33/192.0.2.1/5001/192.0.2.2/5002"},
		{"udp-lite", newSession(136, "2001:db8::a", 1, "2001:db8::b", 2), "0/136/2001:db8::a/1/2001:db8::b/2"},
		{"gre has no ports", newSession(gre, "192.0.2.1", 1, "192.0.2.2", 2), "0/47/192.0.2.1/0/192.0.2.2/0"},
		{"esp has no ports", func() *flow.Session {
			s := newSession(50, "2001:db8::1", 0, "2001:db8::2", 0, withZone(7))
			s.Original.SourcePort, s.Original.DestinationPort = nil, nil
			return s
		}(), "7/50/2001:db8::1/0/2001:db8::2/0"},
		{"explicit zone 0", newSession(tcp, "192.0.2.1", 1, "192.0.2.2", 2, withZone(0)), "0/6/192.0.2.1/1/192.0.2.2/2"},
		{"ignores id", newSession(tcp, "192.0.2.1", 1, "192.0.2.2", 2, withID("bogus")), "0/6/192.0.2.1/1/192.0.2.2/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := flow.Key(tt.s)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			if got != tt.want {
				t.Errorf("Key = %q, want %q", got, tt.want)
			}
			k, err := flow.ParseKey(got)
			if err != nil {
				t.Fatalf("ParseKey(Key) = %v", err)
			}
			if k.String() != got {
				t.Errorf("ParseKey(%q).String() = %q", got, k.String())
			}
			kf, err := flow.KeyFieldsOf(tt.s)
			if err != nil {
				t.Fatalf("KeyFieldsOf: %v", err)
			}
			if diff := cmp.Diff(k, kf, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("KeyFieldsOf differs from ParseKey(Key) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyErrors(t *testing.T) {
	mod := func(f func(*flow.Session)) *flow.Session {
		s := newSession(tcp, "192.0.2.1", 1, "192.0.2.2", 2, withID("x"))
		f(s)
		return s
	}
	tests := []struct {
		name    string
		s       *flow.Session
		wantErr error
		wantMsg string // exact message when set
	}{
		{"nil", nil, flow.ErrNilSession, "flow: nil session"},
		{"no address-family", mod(func(s *flow.Session) { s.AddressFamily = 0 }), flow.ErrMissing, `flow: session "x": address-family missing`},
		{"bad address-family", mod(func(s *flow.Session) { s.AddressFamily = 99 }), flow.ErrInvalid, ""},
		{"no protocol", mod(func(s *flow.Session) { s.Protocol = nil }), flow.ErrMissing, `flow: session "x": protocol missing`},
		{"no original", mod(func(s *flow.Session) { s.Original = nil }), flow.ErrMissing, `flow: session "x": original missing`},
		{"no source address", mod(func(s *flow.Session) { s.Original.SourceAddress = nil }), flow.ErrMissing, `flow: session "x": original/source-address missing`},
		{"no source address, no id", mod(func(s *flow.Session) { s.Original.SourceAddress, s.Id = nil, nil }), flow.ErrMissing, `flow: session without id: original/source-address missing`},
		{"no destination address", mod(func(s *flow.Session) { s.Original.DestinationAddress = nil }), flow.ErrMissing, `flow: session "x": original/destination-address missing`},
		{"bad address", mod(func(s *flow.Session) { s.Original.SourceAddress = ygot.String("192.0.2") }), flow.ErrInvalid, ""},
		{"v6 in ipv4 session", mod(func(s *flow.Session) { s.Original.DestinationAddress = ygot.String("2001:db8::1") }), flow.ErrFamilyMismatch,
			`flow: session "x": original/destination-address "2001:db8::1" does not match address-family ipv4`},
		{"mapped in ipv4 session", mod(func(s *flow.Session) { s.Original.SourceAddress = ygot.String("::ffff:192.0.2.1") }), flow.ErrFamilyMismatch, ""},
		{"v4 in ipv6 session", mod(func(s *flow.Session) { s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6 }), flow.ErrFamilyMismatch, ""},
		{"tcp without source port", mod(func(s *flow.Session) { s.Original.SourcePort = nil }), flow.ErrMissing, `flow: session "x": original/source-port missing`},
		{"tcp without destination port", mod(func(s *flow.Session) { s.Original.DestinationPort = nil }), flow.ErrMissing, `flow: session "x": original/destination-port missing`},
		{"icmp without type", func() *flow.Session {
			s := icmpSession(icmp, "192.0.2.1", "192.0.2.2", 1, 8, 0, withID("x"))
			s.Original.Icmp.Type = nil
			return s
		}(), flow.ErrMissing, `flow: session "x": original/icmp/type missing`},
		{"icmp without icmp", mod(func(s *flow.Session) { *s.Protocol = icmp }), flow.ErrMissing, `flow: session "x": original/icmp/type missing`},
		{"zone with slash", newSession(udp, "fe80::1%a/b", 1, "fe80::2", 2), flow.ErrInvalid, ""},
		{"key too long", newSession(udp, "fe80::1%"+strings.Repeat("z", 250), 1, "fe80::2", 2), flow.ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := flow.Key(tt.s)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Key = %q, %v; want error %v", got, err, tt.wantErr)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
			if err := flow.SetKey(tt.s); !errors.Is(err, tt.wantErr) {
				t.Errorf("SetKey = %v, want %v", err, tt.wantErr)
			}
			if k, kerr := flow.KeyFieldsOf(tt.s); kerr == nil || kerr.Error() != err.Error() {
				t.Errorf("KeyFieldsOf = %v, %v; want Key's error %v", k, kerr, err)
			}
		})
	}
}

func TestSetKeyCheckKey(t *testing.T) {
	s := newSession(tcp, "2001:db8::1", 1000, "2001:db8::2", 443, withZone(5))
	if err := flow.CheckKey(s); !errors.Is(err, flow.ErrMissing) {
		t.Errorf("CheckKey without id = %v, want ErrMissing", err)
	}
	if err := flow.SetKey(s); err != nil {
		t.Fatal(err)
	}
	if got, want := s.GetId(), "5/6/2001:db8::1/1000/2001:db8::2/443"; got != want {
		t.Errorf("SetKey: id = %q, want %q", got, want)
	}
	if err := flow.CheckKey(s); err != nil {
		t.Errorf("CheckKey after SetKey = %v", err)
	}

	tests := []struct {
		name string
		mod  func(*flow.Session)
	}{
		{"port changed", func(s *flow.Session) { *s.Original.SourcePort = 1001 }},
		{"zone changed", func(s *flow.Session) { s.ZoneId = nil }},
		{"id not canonical", func(s *flow.Session) { s.Id = ygot.String("5/6/2001:DB8::1/1000/2001:db8::2/443") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clone(s)
			tt.mod(c)
			err := flow.CheckKey(c)
			if !errors.Is(err, flow.ErrKeyMismatch) {
				t.Fatalf("CheckKey = %v, want ErrKeyMismatch", err)
			}
			var se *flow.SessionError
			if !errors.As(err, &se) || se.Path != "id" || se.ID != c.GetId() {
				t.Errorf("CheckKey error = %#v, want a SessionError for path id of %q", err, c.GetId())
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	addr := netip.MustParseAddr
	tests := []struct {
		id   string
		want flow.KeyFields
	}{
		{"0/6/192.0.2.1/40000/198.51.100.7/443", flow.KeyFields{Protocol: 6, Source: addr("192.0.2.1"), Destination: addr("198.51.100.7"), SourcePort: 40000, DestinationPort: 443}},
		{"65535/17/2001:db8::1/0/::/65535", flow.KeyFields{ZoneID: 65535, Protocol: 17, Source: addr("2001:db8::1"), Destination: addr("::"), DestinationPort: 65535}},
		{"1/1/192.0.2.1/7/192.0.2.2/8.0", flow.KeyFields{ZoneID: 1, Protocol: 1, Source: addr("192.0.2.1"), Destination: addr("192.0.2.2"), ICMPID: 7, ICMPType: 8}},
		{"0/58/fe80::1%eth0/65535/ff02::1/255.255", flow.KeyFields{Protocol: 58, Source: addr("fe80::1%eth0"), Destination: addr("ff02::1"), ICMPID: 65535, ICMPType: 255, ICMPCode: 255}},
		{"0/47/::ffff:192.0.2.1/0/::ffff:192.0.2.2/0", flow.KeyFields{Protocol: 47, Source: addr("::ffff:192.0.2.1"), Destination: addr("::ffff:192.0.2.2")}},
		{"0/0/10.0.0.1/0/10.0.0.2/0", flow.KeyFields{Source: addr("10.0.0.1"), Destination: addr("10.0.0.2")}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := flow.ParseKey(tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("ParseKey mismatch (-want +got):\n%s", diff)
			}
			if s := got.String(); s != tt.id {
				t.Errorf("String() = %q", s)
			}
			if b := got.AppendTo([]byte("id=")); string(b) != "id="+tt.id {
				t.Errorf("AppendTo(\"id=\") = %q", b)
			}
			if err := flow.CheckKey(got.Session()); err != nil {
				t.Errorf("CheckKey(Session()) = %v", err)
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, id := range []string{
		"",
		"0/6/192.0.2.1/1/192.0.2.2",
		"0/6/192.0.2.1/1/192.0.2.2/2/3",
		"00/6/192.0.2.1/1/192.0.2.2/2",    // leading zero
		"0/06/192.0.2.1/1/192.0.2.2/2",    // leading zero
		"0/6/192.0.2.1/01/192.0.2.2/2",    // leading zero
		"+1/6/192.0.2.1/1/192.0.2.2/2",    // sign
		"65536/6/192.0.2.1/1/192.0.2.2/2", // zone out of range
		"0/256/192.0.2.1/1/192.0.2.2/2",   // protocol out of range
		"0/6/192.0.2.1/65536/192.0.2.2/2",
		"0/6/192.0.2.1/1/192.0.2.2/2.0",            // TCP with type.code
		"0/1/192.0.2.1/1/192.0.2.2/8",              // ICMP without code
		"0/1/192.0.2.1/1/192.0.2.2/8.256",          // code out of range
		"0/1/192.0.2.1/1/192.0.2.2/8.0.0",          // extra dot
		"0/47/192.0.2.1/1/192.0.2.2/0",             // GRE with a port
		"0/47/192.0.2.1/0/192.0.2.2/0.0",           // GRE with type.code
		"0/6/2001:DB8::1/1/2001:db8::2/2",          // upper case
		"0/6/2001:db8:0:0:0:0:0:1/1/2001:db8::2/2", // not compressed
		"0/6/192.0.2.1/1/2001:db8::2/2",            // mixed families
		"0/6/192.0.2.1/1/::ffff:192.0.2.2/2",       // mixed families
		"0/6/192.0.2.01/1/192.0.2.2/2",             // not an address
		"0/6/fe80::1%/1/fe80::2/2",                 // empty zone
		"0/6/fe80::1%" + strings.Repeat("z", 250) + "/1/fe80::2/2",
	} {
		t.Run(id, func(t *testing.T) {
			k, err := flow.ParseKey(id)
			if !errors.Is(err, flow.ErrMalformedKey) {
				t.Errorf("ParseKey = %+v, %v; want ErrMalformedKey", k, err)
			}
		})
	}
}

// FuzzParseKey checks that ParseKey accepts only canonical ids: whatever it
// accepts must round-trip through KeyFields.String and through Key of the
// session the fields describe.
func FuzzParseKey(f *testing.F) {
	for _, seed := range []string{
		"0/6/192.0.2.1/40000/198.51.100.7/443",
		"42/17/2001:db8::1/53/2001:db8::2/53",
		"0/1/192.0.2.1/1234/198.51.100.1/8.0",
		"0/58/fe80::1%eth0/7/ff02::1/128.0",
		"0/47/::ffff:192.0.2.1/0/::ffff:192.0.2.2/0",
		"65535/132/10.0.0.1/2905/10.0.0.2/2905",
		"0/6/2001:DB8::1/1/2001:db8::2/2",
		"0/6/1.2.3.4/1/1.2.3.4/2/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		k, err := flow.ParseKey(id)
		if err != nil {
			if !errors.Is(err, flow.ErrMalformedKey) {
				t.Fatalf("ParseKey(%q) error %v does not wrap ErrMalformedKey", id, err)
			}
			return
		}
		if s := k.String(); s != id {
			t.Fatalf("ParseKey(%q).String() = %q", id, s)
		}
		s := k.Session()
		got, err := flow.Key(s)
		if err != nil {
			t.Fatalf("Key(ParseKey(%q).Session()) = %v", id, err)
		}
		if got != id {
			t.Fatalf("Key(ParseKey(%q).Session()) = %q", id, got)
		}
		if err := flow.CheckKey(s); err != nil {
			t.Fatalf("CheckKey: %v", err)
		}
	})
}
