// Package mappingtest helps tests of vendor mappings: where the real vendor
// modules and samples are (SAMI_VENDOR_YANG, with the peer policy of
// peertest.Need when absent), and a compact way to write the session a
// vendor entry must convert into.
package mappingtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/peertest"
)

// VendorYANGEnv names the folder holding the real vendor modules
// (subfolders ietf/, cisco-iosxe/, juniper/ with juniper/samples/).
const VendorYANGEnv = "SAMI_VENDOR_YANG"

// DefaultVendorYANG is used when the variable is not set.
const DefaultVendorYANG = "/work/shared/vendor-yang"

// VendorYANG returns the path of sub (e.g. "juniper/samples") inside the
// vendor-yang folder; when it is missing the test is skipped loudly, or
// fails under SAMI_REQUIRE_PEERS=1 (CI).
func VendorYANG(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv(VendorYANGEnv)
	if root == "" {
		root = DefaultVendorYANG
	}
	p := filepath.Join(root, sub)
	_, err := os.Stat(p)
	peertest.Need(t, "the real vendor modules and samples "+p, err == nil,
		"set "+VendorYANGEnv+" to the vendor-yang folder (ietf/, cisco-iosxe/, juniper/ from github.com/YangModels/yang and github.com/Juniper/yang; see its README.txt)")
	return p
}

// Tuple is an address and port.
type Tuple struct {
	Addr string
	Port uint16
}

// Want describes an expected session; zero fields are absent.
type Want struct {
	Protocol     uint8
	Zone         uint16
	Src, Dst     Tuple // original
	ReplySrc     Tuple
	ReplyDst     Tuple
	SNAT         *Tuple // external source
	DNAT         *Tuple // internal destination
	NATStatic    bool
	Vrf          string
	InIf, OutIf  string
	InZone       string
	OutZone      string
	Remaining    *uint32
	Idle         *uint32
	Counters     *[4]uint64 // original packets, bytes, reply packets, bytes
	Policy       string
	Vendor       string // vendor-parameter vendor
	VendorParams map[string]string
}

// U32 is a pointer to v.
func U32(v uint32) *uint32 { return &v }

// Session builds the session w describes, with its id set.
func (w Want) Session() *flow.Session {
	s := &flow.Session{Protocol: ygot.Uint8(w.Protocol)}
	if w.Zone != 0 {
		s.ZoneId = ygot.Uint16(w.Zone)
	}
	port := func(p uint16) *uint16 {
		if w.Protocol == 6 || w.Protocol == 17 || w.Protocol == 132 {
			return ygot.Uint16(p)
		}
		return nil
	}
	s.Original = &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
		SourceAddress: ygot.String(w.Src.Addr), SourcePort: port(w.Src.Port),
		DestinationAddress: ygot.String(w.Dst.Addr), DestinationPort: port(w.Dst.Port)}
	if w.ReplySrc.Addr != "" {
		s.Reply = &flowstate.SamiFlowState_FlowState_Sessions_Session_Reply{
			SourceAddress: ygot.String(w.ReplySrc.Addr), SourcePort: port(w.ReplySrc.Port),
			DestinationAddress: ygot.String(w.ReplyDst.Addr), DestinationPort: port(w.ReplyDst.Port)}
	}
	if w.SNAT != nil || w.DNAT != nil {
		n := s.GetOrCreateNat()
		if w.NATStatic {
			n.Type = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Type_static
		}
		if w.SNAT != nil {
			n.Source = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
				InternalSrcAddress: ygot.String(w.Src.Addr), InternalSrcPort: port(w.Src.Port),
				ExternalSrcAddress: ygot.String(w.SNAT.Addr), ExternalSrcPort: port(w.SNAT.Port)}
		}
		if w.DNAT != nil {
			n.Destination = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Destination{
				ExternalDstAddress: ygot.String(w.Dst.Addr), ExternalDstPort: port(w.Dst.Port),
				InternalDstAddress: ygot.String(w.DNAT.Addr), InternalDstPort: port(w.DNAT.Port)}
		}
	}
	if w.Vrf != "" || w.InIf != "" || w.OutIf != "" || w.InZone != "" || w.OutZone != "" {
		l := s.GetOrCreateLocation()
		opt := func(v string) *string {
			if v == "" {
				return nil
			}
			return ygot.String(v)
		}
		l.Vrf, l.IngressInterface, l.EgressInterface, l.IngressZone, l.EgressZone = opt(w.Vrf), opt(w.InIf), opt(w.OutIf), opt(w.InZone), opt(w.OutZone)
	}
	if w.Remaining != nil || w.Idle != nil {
		s.GetOrCreateTimers().Remaining, s.GetOrCreateTimers().IdleTimeout = w.Remaining, w.Idle
	}
	if c := w.Counters; c != nil {
		ct := s.GetOrCreateCounters()
		ct.GetOrCreateOriginal().Packets, ct.GetOrCreateOriginal().Bytes = ygot.Uint64(c[0]), ygot.Uint64(c[1])
		ct.GetOrCreateReply().Packets, ct.GetOrCreateReply().Bytes = ygot.Uint64(c[2]), ygot.Uint64(c[3])
	}
	if w.Policy != "" {
		s.GetOrCreateOwner().Policy = ygot.String(w.Policy)
	}
	for k, v := range w.VendorParams {
		p, _ := s.NewVendorParameter(w.Vendor, k)
		p.Value = ygot.String(v)
	}
	s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv4
	if len(w.Src.Addr) > 0 && containsColon(w.Src.Addr) {
		s.AddressFamily = flowstate.SamiFlowState_AddressFamily_ipv6
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}
