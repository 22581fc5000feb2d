package netconf_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/datastore"
	"github.com/sami-netops/sami/pkg/flow"
)

// bigSession is session i of a large, realistic table: TCP with SNAT,
// per-direction tracking, timers and owner.
func bigSession(i int) *flow.Session {
	src := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	port := uint16(1024 + i%60000)
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Initiator:     flowstate.SamiFlowState_FlowState_Sessions_Session_Initiator_endpoint,
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String(src), DestinationAddress: ygot.String("192.0.2.80"),
			SourcePort: ygot.Uint16(port), DestinationPort: ygot.Uint16(443),
		},
		Reply: &flowstate.SamiFlowState_FlowState_Sessions_Session_Reply{
			SourceAddress: ygot.String("192.0.2.80"), DestinationAddress: ygot.String("198.51.100.1"),
			SourcePort: ygot.Uint16(443), DestinationPort: ygot.Uint16(port),
		},
		Nat: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{
			Source: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
				InternalSrcAddress: ygot.String(src), ExternalSrcAddress: ygot.String("198.51.100.1"),
				InternalSrcPort: ygot.Uint16(port), ExternalSrcPort: ygot.Uint16(port),
			},
		},
		Tcp: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{
			State: flowstate.SamiFlowState_TcpState_established,
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Original{
				WindowScale: ygot.Uint8(7),
				Flags:       []flowstate.E_SamiFlowState_TcpTrackingFlag{flowstate.SamiFlowState_TcpTrackingFlag_window_scale, flowstate.SamiFlowState_TcpTrackingFlag_sack_permitted},
			},
			Reply: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Reply{
				WindowScale: ygot.Uint8(9),
				Flags:       []flowstate.E_SamiFlowState_TcpTrackingFlag{flowstate.SamiFlowState_TcpTrackingFlag_window_scale},
			},
		},
		Status: []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{flowstate.SamiFlowState_FlowState_Sessions_Session_Status_seen_reply, flowstate.SamiFlowState_FlowState_Sessions_Session_Status_assured},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{IdleTimeout: ygot.Uint32(432000), Remaining: ygot.Uint32(431000)},
		Mark:   ygot.Uint32(uint32(i % 7)),
		Owner:  &flowstate.SamiFlowState_FlowState_Sessions_Session_Owner{EndpointId: ygot.String("vm-42"), EndpointAddress: ygot.String(src)},
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

var bigCache sync.Map // n -> []*flow.Session

// bigSessions returns n sessions (cached; do not modify them).
func bigSessions(n int) []*flow.Session {
	if v, ok := bigCache.Load(n); ok {
		return v.([]*flow.Session)
	}
	ss := make([]*flow.Session, n)
	for i := range ss {
		ss[i] = bigSession(i)
	}
	bigCache.Store(n, ss)
	return ss
}

// withSessions starts a datastore whose running already holds the sessions.
func withSessions(tb testing.TB, ss []*flow.Session) []datastore.Option {
	tb.Helper()
	d := &flowstate.Device{}
	for _, s := range ss {
		if err := d.GetOrCreateFlowState().GetOrCreateSessions().AppendSession(s); err != nil {
			tb.Fatal(err)
		}
	}
	return []datastore.Option{datastore.WithInitialRunning(d)}
}
