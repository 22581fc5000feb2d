package yangxml_test

import (
	"testing"

	"github.com/openconfig/ygot/ygot"
	fs "github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/yangxml"
)

type (
	device  = fs.Device
	session = fs.SamiFlowState_FlowState_Sessions_Session
)

func modules() []yangxml.Module {
	var out []yangxml.Module
	for _, m := range fs.YANGModules {
		out = append(out, yangxml.Module{Name: m.Name, Prefix: m.Prefix, Namespace: m.Namespace})
	}
	return out
}

func newCodec(tb testing.TB) *yangxml.Codec {
	tb.Helper()
	schema, err := fs.Schema()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := yangxml.New(schema, modules())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// sampleSession is a TCP IPv4 flow with SNAT and every commonly used field.
func sampleSession(i int) *session {
	s := &session{
		AddressFamily: fs.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		ZoneId:        ygot.Uint16(0),
		Initiator:     fs.SamiFlowState_FlowState_Sessions_Session_Initiator_endpoint,
		Original: &fs.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress:      ygot.String("10.0.0.10"),
			DestinationAddress: ygot.String("192.0.2.80"),
			SourcePort:         ygot.Uint16(uint16(10000 + i%50000)),
			DestinationPort:    ygot.Uint16(443),
		},
		Reply: &fs.SamiFlowState_FlowState_Sessions_Session_Reply{
			SourceAddress:      ygot.String("192.0.2.80"),
			DestinationAddress: ygot.String("198.51.100.1"),
			SourcePort:         ygot.Uint16(443),
			DestinationPort:    ygot.Uint16(uint16(10000 + i%50000)),
		},
		Nat: &fs.SamiFlowState_FlowState_Sessions_Session_Nat{
			Type: fs.SamiFlowState_FlowState_Sessions_Session_Nat_Type_dynamic,
			Source: &fs.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
				InternalSrcAddress: ygot.String("10.0.0.10"),
				ExternalSrcAddress: ygot.String("198.51.100.1"),
				InternalSrcPort:    ygot.Uint16(uint16(10000 + i%50000)),
				ExternalSrcPort:    ygot.Uint16(uint16(10000 + i%50000)),
			},
		},
		Tcp: &fs.SamiFlowState_FlowState_Sessions_Session_Tcp{
			State: fs.SamiFlowState_TcpState_established,
			Original: &fs.SamiFlowState_FlowState_Sessions_Session_Tcp_Original{
				WindowScale: ygot.Uint8(7),
				Flags:       []fs.E_SamiFlowState_TcpTrackingFlag{fs.SamiFlowState_TcpTrackingFlag_window_scale, fs.SamiFlowState_TcpTrackingFlag_sack_permitted},
				Liberal:     ygot.Bool(false),
			},
			Reply: &fs.SamiFlowState_FlowState_Sessions_Session_Tcp_Reply{
				WindowScale: ygot.Uint8(9),
				Flags:       []fs.E_SamiFlowState_TcpTrackingFlag{fs.SamiFlowState_TcpTrackingFlag_window_scale},
			},
		},
		Status: []fs.E_SamiFlowState_FlowState_Sessions_Session_Status{fs.SamiFlowState_FlowState_Sessions_Session_Status_seen_reply, fs.SamiFlowState_FlowState_Sessions_Session_Status_assured},
		Timers: &fs.SamiFlowState_FlowState_Sessions_Session_Timers{
			IdleTimeout: ygot.Uint32(432000),
			Remaining:   ygot.Uint32(431990),
			Created:     ygot.String("2026-11-21T16:00:00Z"),
		},
		Mark:  ygot.Uint32(0x10),
		Label: []uint8{1, 64},
		Owner: &fs.SamiFlowState_FlowState_Sessions_Session_Owner{
			EndpointId:      ygot.String("vm-42"),
			EndpointAddress: ygot.String("10.0.0.10"),
			Domain:          ygot.String("tenant-a"),
		},
		Counters: &fs.SamiFlowState_FlowState_Sessions_Session_Counters{
			Original: &fs.SamiFlowState_FlowState_Sessions_Session_Counters_Original{Packets: ygot.Uint64(1 << 40), Bytes: ygot.Uint64(18446744073709551615)},
		},
	}
	s.Id = ygot.String(sessionID(s))
	return s
}

func sessionID(s *session) string {
	o := s.Original
	return "0/6/" + *o.SourceAddress + "/" + u16(*o.SourcePort) + "/" + *o.DestinationAddress + "/" + u16(*o.DestinationPort)
}

func u16(v uint16) string {
	b := []byte{}
	if v == 0 {
		return "0"
	}
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

func deviceWith(ss ...*session) *device {
	d := &device{}
	for _, s := range ss {
		if err := d.GetOrCreateFlowState().GetOrCreateSessions().AppendSession(s); err != nil {
			panic(err)
		}
	}
	return d
}
