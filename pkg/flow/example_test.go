package flow_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/yangxml"
)

func ExampleKey() {
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv6,
		Protocol:      ygot.Uint8(6),
		ZoneId:        ygot.Uint16(10),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress:      ygot.String("2001:DB8:0:0::1"), // any spelling
			SourcePort:         ygot.Uint16(40000),
			DestinationAddress: ygot.String("2001:db8::80"),
			DestinationPort:    ygot.Uint16(443),
		},
	}
	id, err := flow.Key(s)
	fmt.Println(id, err)

	ping := flow.KeyFields{Protocol: 1, Source: netip.MustParseAddr("192.0.2.1"),
		Destination: netip.MustParseAddr("198.51.100.1"), ICMPID: 7, ICMPType: 8}
	fmt.Println(ping)

	s.Original.SourceAddress = nil
	_, err = flow.Key(s)
	fmt.Println(err)
	// Output:
	// 10/6/2001:db8::1/40000/2001:db8::80/443 <nil>
	// 0/1/192.0.2.1/7/198.51.100.1/8.0
	// flow: session without id: original/source-address missing
}

func ExampleParseKey() {
	k, err := flow.ParseKey("0/17/10.0.0.5/5353/224.0.0.251/5353")
	fmt.Println(k.Source, k.SourcePort, k.Destination, k.DestinationPort, err)
	_, err = flow.ParseKey("0/17/10.0.0.5/05353/224.0.0.251/5353")
	fmt.Println(err)
	// Output:
	// 10.0.0.5 5353 224.0.0.251 5353 <nil>
	// flow: malformed session id "0/17/10.0.0.5/05353/224.0.0.251/5353": source port "05353" is not a canonical 16-bit number
}

func ExampleKeyFields_AppendTo() {
	// Ids of many flows into one buffer, without an allocation each.
	var buf []byte
	for port := uint16(40000); port < 40002; port++ {
		k := flow.KeyFields{Protocol: 6, Source: netip.MustParseAddr("10.0.0.5"), SourcePort: port,
			Destination: netip.MustParseAddr("198.51.100.7"), DestinationPort: 443}
		buf = append(k.AppendTo(buf), '\n')
	}
	fmt.Print(string(buf))
	// Output:
	// 0/6/10.0.0.5/40000/198.51.100.7/443
	// 0/6/10.0.0.5/40001/198.51.100.7/443
}

func ExampleKeyFieldsOf() {
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(17),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.5"), SourcePort: ygot.Uint16(5353),
			DestinationAddress: ygot.String("224.0.0.251"), DestinationPort: ygot.Uint16(5353),
		},
	}
	k, err := flow.KeyFieldsOf(s)
	fmt.Println(k.Source, k.SourcePort, k.Destination, k.DestinationPort, err)
	// Output:
	// 10.0.0.5 5353 224.0.0.251 5353 <nil>
}

func ExampleEndpoint_Match() {
	// A VM at 10.0.0.5, seen by the server as 203.0.113.9 after source NAT.
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.5"), SourcePort: ygot.Uint16(40000),
			DestinationAddress: ygot.String("198.51.100.7"), DestinationPort: ygot.Uint16(443),
		},
		Nat: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{
			Source: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
				InternalSrcAddress: ygot.String("10.0.0.5"),
				ExternalSrcAddress: ygot.String("203.0.113.9"),
			},
		},
		Owner: &flowstate.SamiFlowState_FlowState_Sessions_Session_Owner{EndpointId: ygot.String("vm-42")},
	}
	for _, e := range []flow.Endpoint{
		{Address: netip.MustParseAddr("10.0.0.5")},
		{Address: netip.MustParseAddr("203.0.113.9")},
		{Address: netip.MustParseAddr("10.0.0.6")},
		{ID: "vm-42"},
	} {
		fmt.Printf("%v %q: %v\n", e.Address, e.ID, e.Match(s))
	}
	// Output:
	// 10.0.0.5 "": true
	// 203.0.113.9 "": true
	// 10.0.0.6 "": false
	// invalid IP "vm-42": true
}

func ExampleDigester() {
	// Sessions as read from the source...
	source := []*flow.Session{realistic(1), realistic(2), realistic(3)}
	// ...and as read back from the destination: another order, counters
	// and remaining timers moved on.
	dest := []*flow.Session{clone(source[2]), clone(source[0]), clone(source[1])}
	for _, s := range dest {
		*s.Counters.Original.Packets += 10
		*s.Timers.Remaining -= 1
	}

	var src, dst flow.Digester
	for _, s := range source {
		if err := src.Add(s); err != nil {
			fmt.Println(err)
		}
	}
	for _, s := range dest {
		if err := dst.Add(s); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println(src.Count(), dst.Count(), src.Sum() == dst.Sum())

	// A damaged copy: one session lost its mark.
	dest[1].Mark = nil
	d, _ := flow.DigestSessions(dest)
	fmt.Println(d == src.Sum())
	// Output:
	// 3 3 true
	// false
}

func ExampleDiff() {
	a := newSession(tcp, "10.0.0.5", 40000, "198.51.100.7", 443, withKey(), withMark(7), withRemaining(300))
	b := newSession(udp, "10.0.0.5", 5353, "224.0.0.251", 5353, withKey())
	c := newSession(udp, "10.0.0.5", 123, "192.0.2.123", 123, withKey())

	a2 := clone(a)
	*a2.Mark = 8
	*a2.Timers.Remaining = 299 // within the default tolerance of 2s

	r := flow.Diff([]*flow.Session{a, b}, []*flow.Session{c, a2})
	for _, s := range r.Added {
		fmt.Println("added  ", s.GetId())
	}
	for _, s := range r.Removed {
		fmt.Println("removed", s.GetId())
	}
	for _, ch := range r.Changed {
		for _, f := range ch.Fields {
			fmt.Printf("changed %s: %s %v -> %v\n", ch.ID, f.Path, f.A, f.B)
		}
	}
	// Output:
	// added   0/17/10.0.0.5/123/192.0.2.123/123
	// removed 0/17/10.0.0.5/5353/224.0.0.251/5353
	// changed 0/6/10.0.0.5/40000/198.51.100.7/443: mark 7 -> 8
}

// Decode a NETCONF reply with the model's codec and digest what came back.
func ExampleNewCodec() {
	c, err := flow.NewCodec()
	if err != nil {
		panic(err)
	}
	const reply = `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
	  <flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions><session>
	    <id>0/17/10.0.0.1/5353/10.0.0.2/53</id><address-family>ipv4</address-family><protocol>17</protocol>
	    <original><source-address>10.0.0.1</source-address><destination-address>10.0.0.2</destination-address>
	      <source-port>5353</source-port><destination-port>53</destination-port></original>
	  </session></sessions></flow-state></data>`
	var d flow.Digester
	err = c.NewDecoder(strings.NewReader(reply), yangxml.WithListHandler(flow.SessionsPath, func(e ygot.GoStruct) error {
		s := e.(*flow.Session)
		if err := flow.CheckKey(s); err != nil {
			return err
		}
		return d.Add(s)
	})).Decode(&flowstate.Device{})
	fmt.Println(err, d.Count())
	// Output: <nil> 1
}
