package flow_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/flow"
)

func TestEndpointMatch(t *testing.T) {
	addr := netip.MustParseAddr
	// A VM at 10.0.0.5 behind source NAT 203.0.113.9 talking to a web server.
	snat := newSession(tcp, "10.0.0.5", 40000, "198.51.100.7", 443,
		withSNAT("10.0.0.5", "203.0.113.9", 61000),
		withReply("198.51.100.7", 443, "203.0.113.9", 61000),
		withOwner("vm-1", ""))
	// A server at 10.0.0.8 published as 203.0.113.80:80 by destination NAT.
	dnat := newSession(tcp, "192.0.2.33", 50000, "203.0.113.80", 80,
		withDNAT("203.0.113.80", "10.0.0.8", 8080),
		withReply("10.0.0.8", 8080, "192.0.2.33", 50000))
	v6 := newSession(udp, "2001:db8::5", 5000, "2001:db8:1::1", 53, withOwner("", "2001:db8::5"))
	mapped := newSession(tcp, "::ffff:192.0.2.10", 1, "2001:db8::1", 2)
	zoned := newSession(udp, "fe80::1%eth0", 546, "ff02::1:2%eth0", 547)
	garbage := newSession(tcp, "not-an-address", 1, "198.51.100.7", 2)

	tests := []struct {
		name string
		e    flow.Endpoint
		s    *flow.Session
		want bool
	}{
		{"original source", flow.Endpoint{Address: addr("10.0.0.5")}, snat, true},
		{"original destination", flow.Endpoint{Address: addr("198.51.100.7")}, snat, true},
		{"snat external address", flow.Endpoint{Address: addr("203.0.113.9")}, snat, true},
		{"snat external only in nat container", flow.Endpoint{Address: addr("203.0.113.9")}, func() *flow.Session {
			s := clone(snat)
			s.Reply = nil
			return s
		}(), true},
		{"dnat external address", flow.Endpoint{Address: addr("203.0.113.80")}, dnat, true},
		{"dnat internal address", flow.Endpoint{Address: addr("10.0.0.8")}, dnat, true},
		{"dnat internal only in nat container", flow.Endpoint{Address: addr("10.0.0.8")}, func() *flow.Session {
			s := clone(dnat)
			s.Reply = nil
			return s
		}(), true},
		{"reply only", flow.Endpoint{Address: addr("10.0.0.9")}, newSession(tcp, "192.0.2.1", 1, "192.0.2.2", 2, withReply("10.0.0.9", 2, "192.0.2.1", 1)), true},
		{"owner address", flow.Endpoint{Address: addr("10.9.9.9")}, newSession(tcp, "192.0.2.1", 1, "192.0.2.2", 2, withOwner("", "10.9.9.9")), true},
		{"owner id", flow.Endpoint{ID: "vm-1"}, snat, true},
		{"owner id mismatch", flow.Endpoint{ID: "vm-2"}, snat, false},
		{"id or address", flow.Endpoint{Address: addr("192.0.2.250"), ID: "vm-1"}, snat, true},
		{"unrelated address", flow.Endpoint{Address: addr("10.0.0.6")}, snat, false},
		{"ipv6", flow.Endpoint{Address: addr("2001:db8::5")}, v6, true},
		{"ipv6 spelled differently in session", flow.Endpoint{Address: addr("2001:db8:1::1")}, newSession(udp, "2001:DB8:1:0::1", 1, "2001:db8::2", 2), true},
		{"ipv4 endpoint, mapped address", flow.Endpoint{Address: addr("192.0.2.10")}, mapped, true},
		{"mapped endpoint, ipv4 address", flow.Endpoint{Address: addr("::ffff:198.51.100.7")}, snat, true},
		{"endpoint without zone", flow.Endpoint{Address: addr("fe80::1")}, zoned, true},
		{"endpoint with the same zone", flow.Endpoint{Address: addr("fe80::1%eth0")}, zoned, true},
		{"endpoint with another zone", flow.Endpoint{Address: addr("fe80::1%eth1")}, zoned, false},
		{"unparsable session address is skipped", flow.Endpoint{Address: addr("198.51.100.7")}, garbage, true},
		{"zero endpoint", flow.Endpoint{}, snat, false},
		{"nil session", flow.Endpoint{Address: addr("10.0.0.5")}, nil, false},
		{"empty session", flow.Endpoint{Address: addr("10.0.0.5"), ID: "vm-1"}, &flow.Session{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Match(tt.s); got != tt.want {
				t.Errorf("Endpoint.Match = %v, want %v", got, tt.want)
			}
			if got := flow.NewMatcher(tt.e).Match(tt.s); got != tt.want {
				t.Errorf("Matcher.Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	sessions := []*flow.Session{
		newSession(tcp, "10.0.0.5", 1, "198.51.100.7", 443, withID("a")),
		newSession(tcp, "10.0.0.6", 1, "198.51.100.7", 443, withID("b")),
		newSession(udp, "192.0.2.1", 1, "10.0.0.5", 53, withID("c")),
		newSession(udp, "2001:db8::6", 1, "2001:db8::1", 53, withID("d"), withOwner("vm-6", "")),
		nil,
	}
	ids := func(list []*flow.Session) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.GetId())
		}
		return out
	}

	got := ids(flow.Filter(sessions, flow.Endpoint{Address: netip.MustParseAddr("10.0.0.5")}))
	if diff := cmp.Diff([]string{"a", "c"}, got); diff != "" {
		t.Errorf("Filter (-want +got):\n%s", diff)
	}
	if got := flow.Filter(sessions, flow.Endpoint{}); got != nil {
		t.Errorf("Filter with zero endpoint = %v, want nil", ids(got))
	}

	m := flow.NewMatcher(
		flow.Endpoint{Address: netip.MustParseAddr("10.0.0.6"), ID: "vm-6"},
		flow.Endpoint{Address: netip.MustParseAddr("192.0.2.1")},
	)
	got = ids(slices.Collect(m.Filter(slices.Values(sessions))))
	if diff := cmp.Diff([]string{"b", "c", "d"}, got); diff != "" {
		t.Errorf("Matcher.Filter (-want +got):\n%s", diff)
	}
	// Breaking out of the loop stops the iteration.
	n := 0
	for range m.Filter(slices.Values(sessions)) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("early break: %d iterations", n)
	}
	if flow.NewMatcher().Match(sessions[0]) {
		t.Error("empty Matcher matched")
	}
	s := clone(sessions[0])
	s.Owner = &fsOwner{EndpointId: ygot.String("vm-6")}
	if !m.Match(s) {
		t.Error("Matcher did not match by id")
	}
}
