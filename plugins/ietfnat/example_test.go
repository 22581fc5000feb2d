package ietfnat_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/plugins/ietfnat"
)

// A source-NATed TCP flow becomes an RFC 8512 mapping entry and back; a
// session with data an entry cannot carry is refused, naming it.
func ExampleMapping() {
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.5"), DestinationAddress: ygot.String("198.51.100.20"),
			SourcePort: ygot.Uint16(40312), DestinationPort: ygot.Uint16(443),
		},
		Nat: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{
			Source: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
				ExternalSrcAddress: ygot.String("203.0.113.7"), ExternalSrcPort: ygot.Uint16(61000),
			},
		},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(300)},
	}
	m := ietfnat.Mapping{OmitReply: true}
	e, err := m.Entry(s)
	if err != nil {
		panic(err)
	}
	xml := string(e.AppendXML(nil))
	fmt.Println(strings.ReplaceAll(xml, "><", ">\n<"))

	doc := `<nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><id>1</id><mapping-table>` +
		xml + `</mapping-table></instance></instances></nat>`
	_, err = ietfnat.DecodeMappingTable(strings.NewReader(doc), 1, func(e *ietfnat.Entry) error {
		back, err := m.Session(e)
		if err != nil {
			return err
		}
		fmt.Println(back.GetId(), "->", back.GetNat().GetSource().GetExternalSrcAddress(), back.GetNat().GetSource().GetExternalSrcPort())
		return nil
	})
	if err != nil {
		panic(err)
	}

	s.Mark = ygot.Uint32(16)
	_, err = m.Entry(s)
	fmt.Println(errors.Is(err, ietfnat.ErrInexpressible), err)
	// Output:
	// <mapping-entry xmlns="urn:ietf:params:xml:ns:yang:ietf-nat">
	// <index>2083073217</index>
	// <type>dynamic-implicit</type>
	// <transport-protocol>6</transport-protocol>
	// <internal-src-address>10.0.0.5/32</internal-src-address>
	// <internal-src-port>
	// <start-port-number>40312</start-port-number>
	// </internal-src-port>
	// <external-src-address>203.0.113.7/32</external-src-address>
	// <external-src-port>
	// <start-port-number>61000</start-port-number>
	// </external-src-port>
	// <external-dst-address>198.51.100.20/32</external-dst-address>
	// <external-dst-port>
	// <start-port-number>443</start-port-number>
	// </external-dst-port>
	// <lifetime>300</lifetime>
	// </mapping-entry>
	// 0/6/10.0.0.5/40312/198.51.100.20/443 -> 203.0.113.7 61000
	// true ietfnat: session 0/6/10.0.0.5/40312/198.51.100.20/443: cannot be expressed as an RFC 8512 mapping entry: mark (16)
}
