package simfw_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
)

func Example() {
	ctx := context.Background()
	fw := simfw.New(simfw.Vendors()["basic"]) // no NAT, 1000 sessions
	defer fw.Close()

	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.5"), SourcePort: ygot.Uint16(40000),
			DestinationAddress: ygot.String("198.51.100.7"), DestinationPort: ygot.Uint16(443),
		},
	}
	fmt.Println("upsert:", fw.Upsert(ctx, []*flow.Session{s}))

	// The same flow behind source NAT is refused: capability negotiation
	// should have kept it away from this device.
	s.Nat = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{
		Source: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
			ExternalSrcAddress: ygot.String("203.0.113.9"),
		},
	}
	err := fw.Upsert(ctx, []*flow.Session{s})
	fmt.Println(errors.Is(err, backend.ErrUnsupported), err)

	// A fault in the middle of a batch.
	fw.FailWriteAt(2)
	b := []*flow.Session{
		flow.KeyFields{Protocol: 47, Source: mustAddr("10.0.0.1"), Destination: mustAddr("10.0.0.2")}.Session(),
		flow.KeyFields{Protocol: 1, Source: mustAddr("10.0.0.1"), Destination: mustAddr("10.0.0.2"), ICMPType: 8}.Session(),
		flow.KeyFields{Protocol: 1, Source: mustAddr("10.0.0.1"), Destination: mustAddr("10.0.0.3"), ICMPType: 8}.Session(),
	}
	err = fw.Upsert(ctx, b[1:])
	var be *backend.BatchError
	fmt.Println(errors.As(err, &be), be.Applied, be.ID)
	fmt.Println("protocol 47:", fw.Upsert(ctx, b[:1]))

	_ = fw.Dump(ctx, func(s *flow.Session) error {
		fmt.Println("dump:", s.GetId())
		return nil
	})
	c, _ := fw.Capabilities(ctx)
	fmt.Println(c.GetActiveSessions(), c.GetFreeSlots(), c.GetUtilization())
	// Output:
	// upsert: <nil>
	// true simfw: session 0/6/10.0.0.5/40000/198.51.100.7/443: backend: feature not supported by the device: nat
	// true 1 0/1/10.0.0.1/0/10.0.0.3/8.0
	// protocol 47: simfw: session 0/47/10.0.0.1/0/10.0.0.2/0: backend: feature not supported by the device: protocol 47
	// dump: 0/1/10.0.0.1/0/10.0.0.2/8.0
	// dump: 0/6/10.0.0.5/40000/198.51.100.7/443
	// 2 998 0.2
}
