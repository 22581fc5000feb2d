package demo

import (
	"fmt"
	"net/netip"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

// The demo's addresses (documentation and private ranges; nothing is sent).
var (
	vmAddr     = netip.MustParseAddr("10.1.0.5")
	snatAddr   = "203.0.113.9"
	otherAddrs = []string{"10.1.0.6", "10.1.0.7", "10.1.0.8", "10.1.0.9"}
)

// Mix of the VM's sessions, per ten: five TCP with window and sequence
// tracking, two TCP behind source NAT, two UDP, one UDP behind source NAT.
const (
	tcpShare     = 5
	tcpNATShare  = 2
	udpShare     = 2
	udpNATShare  = 1
	sessionShare = tcpShare + tcpNATShare + udpShare + udpNATShare
)

// vmSessions are n sessions of the VM at addr.
func vmSessions(addr string, n int) []*flow.Session {
	out := make([]*flow.Session, 0, n)
	for i := range n {
		var s *flow.Session
		switch k := i % sessionShare; {
		case k < tcpShare:
			s = tcpSession(addr, i)
		case k < tcpShare+tcpNATShare:
			s = tcpSession(addr, i)
			snat(s, addr, i)
		case k < tcpShare+tcpNATShare+udpShare:
			s = udpSession(addr, i)
		default:
			s = udpSession(addr, i)
			snat(s, addr, i)
		}
		mustKey(s)
		out = append(out, s)
	}
	return out
}

// otherSessions are n TCP sessions spread over the other endpoints: they
// share the firewall with the VM and must stay where they are.
func otherSessions(n int) []*flow.Session {
	out := make([]*flow.Session, 0, n)
	for i := range n {
		s := tcpSession(otherAddrs[i%len(otherAddrs)], i/len(otherAddrs))
		mustKey(s)
		out = append(out, s)
	}
	return out
}

// peer spreads flows over servers and ports so every key is distinct.
func peer(i int) (addr string, port uint16) {
	return fmt.Sprintf("198.51.%d.%d", 100+i/(200*60000), 1+i%200), uint16(1024 + (i/200)%60000)
}

func tcpSession(addr string, i int) *flow.Session {
	dst, sport := peer(i)
	dport := []uint16{443, 22, 5432, 8443}[i%4]
	return &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String(addr), DestinationAddress: ygot.String(dst),
			SourcePort: ygot.Uint16(sport), DestinationPort: ygot.Uint16(dport),
		},
		Tcp: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{
			State: flowstate.SamiFlowState_TcpState_established,
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Original{
				WindowScale: ygot.Uint8(7),
				Flags:       []flowstate.E_SamiFlowState_TcpTrackingFlag{flowstate.SamiFlowState_TcpTrackingFlag_window_scale, flowstate.SamiFlowState_TcpTrackingFlag_sack_permitted},
				SequenceEnd: ygot.Uint32(uint32(1_000_000 + i*1460)), SequenceMaxEnd: ygot.Uint32(uint32(1_064_240 + i*1460)),
				MaxWindow: ygot.Uint32(64240),
			},
			Reply: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Reply{
				WindowScale: ygot.Uint8(9),
				Flags:       []flowstate.E_SamiFlowState_TcpTrackingFlag{flowstate.SamiFlowState_TcpTrackingFlag_window_scale},
				SequenceEnd: ygot.Uint32(uint32(7_000_000 + i*2920)), SequenceMaxEnd: ygot.Uint32(uint32(7_065_000 + i*2920)),
				MaxWindow: ygot.Uint32(65160),
			},
		},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(7200), IdleTimeout: ygot.Uint32(7200)},
	}
}

func udpSession(addr string, i int) *flow.Session {
	dst, sport := peer(i)
	return &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(17),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String(addr), DestinationAddress: ygot.String(dst),
			SourcePort: ygot.Uint16(sport), DestinationPort: ygot.Uint16([]uint16{53, 123, 4789}[i%3]),
		},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(180), IdleTimeout: ygot.Uint32(180)},
	}
}

// snat translates the session's source to the shared public address, with
// the port of the original flow.
func snat(s *flow.Session, addr string, i int) {
	_, sport := peer(i)
	s.GetOrCreateNat().Source = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
		InternalSrcAddress: ygot.String(addr), InternalSrcPort: ygot.Uint16(sport),
		ExternalSrcAddress: ygot.String(snatAddr), ExternalSrcPort: ygot.Uint16(sport),
	}
}

func mustKey(s *flow.Session) {
	if err := flow.SetKey(s); err != nil {
		panic(fmt.Sprintf("demo session: %v", err)) // the generator's bug, not the user's
	}
}
