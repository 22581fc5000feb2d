package yangxml_test

import (
	"github.com/openconfig/ygot/ygot"
	fs "github.com/sami-netops/sami/generated/flowstate"
)

// fixture is a named tree; configOnly fixtures hold no config false nodes,
// so yanglint checks them with -t config, the others with -t data.
type fixture struct {
	name       string
	configOnly bool
	build      func() *device
}

func fixtures() []fixture {
	return []fixture{
		{"tcp-snat-ipv4", false, func() *device { return deviceWith(sampleSession(1)) }},
		{"tcp-snat-ipv4-config", true, func() *device {
			s := sampleSession(1)
			s.Counters = nil
			return deviceWith(s)
		}},
		{"udp-ipv6-dnat", true, func() *device { return deviceWith(udp6Session()) }},
		{"icmp-echo", true, func() *device { return deviceWith(icmpSession()) }},
		{"sctp-alg-vendor", true, func() *device { return deviceWith(sctpSession(), ftpData()) }},
		{"capabilities", false, capabilities},
		{"capabilities-numeric", false, func() *device {
			d := capabilities()
			d.FlowState.Capabilities.MaxSessions = fs.UnionUint64(262144)
			return d
		}},
		{"many", false, func() *device {
			var ss []*session
			for i := range 5 {
				ss = append(ss, sampleSession(i))
			}
			return deviceWith(append(ss, udp6Session(), icmpSession(), sctpSession(), ftpData())...)
		}},
	}
}

func udp6Session() *session {
	s := &session{
		Id:            ygot.String("3/17/2001:db8::1/5353/2001:db8:1::53/53"),
		AddressFamily: fs.SamiFlowState_AddressFamily_ipv6,
		Protocol:      ygot.Uint8(17),
		ZoneId:        ygot.Uint16(3),
		Initiator:     fs.SamiFlowState_FlowState_Sessions_Session_Initiator_peer,
		Original: &fs.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("2001:db8::1"), DestinationAddress: ygot.String("2001:db8:1::53"),
			SourcePort: ygot.Uint16(5353), DestinationPort: ygot.Uint16(53),
		},
		Nat: &fs.SamiFlowState_FlowState_Sessions_Session_Nat{
			Type: fs.SamiFlowState_FlowState_Sessions_Session_Nat_Type_static,
			Destination: &fs.SamiFlowState_FlowState_Sessions_Session_Nat_Destination{
				ExternalDstAddress: ygot.String("2001:db8:1::53"), InternalDstAddress: ygot.String("fd00::53"),
				ExternalDstPort: ygot.Uint16(53), InternalDstPort: ygot.Uint16(5300),
			},
		},
		Location: &fs.SamiFlowState_FlowState_Sessions_Session_Location{
			Vrf: ygot.String("blue"), IngressZone: ygot.String("untrust"), EgressZone: ygot.String("dmz & <core>"),
			IngressInterface: ygot.String("eth0"), EgressInterface: ygot.String("eth1"),
		},
		Timers: &fs.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(29), LastSeen: ygot.String("2026-11-21T16:04:05.123+01:00")},
	}
	return s
}

func icmpSession() *session {
	return &session{
		Id:            ygot.String("0/1/192.0.2.1/4711/192.0.2.2/8.0"),
		AddressFamily: fs.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(1),
		Original: &fs.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("192.0.2.1"), DestinationAddress: ygot.String("192.0.2.2"),
			Icmp: &fs.SamiFlowState_FlowState_Sessions_Session_Original_Icmp{Type: ygot.Uint8(8), Code: ygot.Uint8(0), Identifier: ygot.Uint16(4711)},
		},
		Reply: &fs.SamiFlowState_FlowState_Sessions_Session_Reply{
			SourceAddress: ygot.String("192.0.2.2"), DestinationAddress: ygot.String("192.0.2.1"),
			Icmp: &fs.SamiFlowState_FlowState_Sessions_Session_Reply_Icmp{Type: ygot.Uint8(0), Code: ygot.Uint8(0), Identifier: ygot.Uint16(4711)},
		},
		Timers: &fs.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(30)},
	}
}

func sctpSession() *session {
	s := &session{
		Id:            ygot.String("0/132/10.1.0.1/2905/10.2.0.1/2905"),
		AddressFamily: fs.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(132),
		Original: &fs.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.1.0.1"), DestinationAddress: ygot.String("10.2.0.1"),
			SourcePort: ygot.Uint16(2905), DestinationPort: ygot.Uint16(2905),
		},
		Sctp: &fs.SamiFlowState_FlowState_Sessions_Session_Sctp{
			State: fs.SamiFlowState_SctpState_established, OriginalVtag: ygot.Uint32(0xdeadbeef), ReplyVtag: ygot.Uint32(1),
		},
		VendorData: fs.Binary{0, 1, 2, 0xfe, 0xff},
	}
	s.NewVendorParameter("acme", "ha-group")
	s.VendorParameter[fs.SamiFlowState_FlowState_Sessions_Session_VendorParameter_Key{Vendor: "acme", Name: "ha-group"}].Value = ygot.String("2")
	s.NewVendorParameter("acme", "fpc")
	s.VendorParameter[fs.SamiFlowState_FlowState_Sessions_Session_VendorParameter_Key{Vendor: "acme", Name: "fpc"}].Value = ygot.String("0/1")
	return s
}

// ftpData is a related flow with a master, helper name and opaque helper state.
func ftpData() *session {
	return &session{
		Id:            ygot.String("0/6/10.0.0.10/20/192.0.2.21/40001"),
		AddressFamily: fs.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &fs.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.10"), DestinationAddress: ygot.String("192.0.2.21"),
			SourcePort: ygot.Uint16(20), DestinationPort: ygot.Uint16(40001),
		},
		Tcp: &fs.SamiFlowState_FlowState_Sessions_Session_Tcp{
			State: fs.SamiFlowState_TcpState_syn_sent,
			Original: &fs.SamiFlowState_FlowState_Sessions_Session_Tcp_Original{
				Liberal: ygot.Bool(true), SequenceEnd: ygot.Uint32(4294967295), SequenceMaxEnd: ygot.Uint32(1), MaxWindow: ygot.Uint32(65535), MaxAck: ygot.Uint32(0),
			},
		},
		Alg: &fs.SamiFlowState_FlowState_Sessions_Session_Alg{
			Helper: ygot.String("ftp"), Master: ygot.String("0/6/10.0.0.10/40000/192.0.2.21/21"), State: fs.Binary("PORT 10,0,0,10,156,65\r\n"),
		},
		Owner: &fs.SamiFlowState_FlowState_Sessions_Session_Owner{Policy: ygot.String(`allow "ftp" from 'lan'`)},
	}
}

func capabilities() *device {
	d := &device{}
	c := d.GetOrCreateFlowState().GetOrCreateCapabilities()
	c.Vendor = ygot.String("sami")
	c.Model = ygot.String("sami-agent/sim")
	c.SoftwareVersion = ygot.String("0.1.0")
	c.MaxSessions = fs.SamiFlowState_FlowState_Capabilities_MaxSessions_unlimited
	c.ActiveSessions = ygot.Uint64(1 << 33)
	c.FreeSlots = ygot.Uint64(0)
	c.Utilization = ygot.Float64(99.95)
	c.SupportedProtocols = []uint8{1, 6, 17, 58, 132}
	c.Features = []fs.E_SamiFlowState_Feature{fs.SamiFlowState_Feature_nat, fs.SamiFlowState_Feature_tcp_window_tracking, fs.SamiFlowState_Feature_zones}
	c.Domain = ygot.String("dc1")
	c.ReadOnly = true
	return d
}
