package render

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// SessionFormats are the formats Sessions writes.
var SessionFormats = []Format{Table, JSON, YAML, XML}

var codec = sync.OnceValues(flow.NewCodec)

// Sessions writes sessions sorted by id: a table (id, protocol, flow, NAT,
// TCP state, timeout, zone), the RFC 7951 JSON of the sami-flow-state
// model (or that JSON as YAML), or the model's XML in a NETCONF <data>.
func Sessions(w io.Writer, f Format, ss []*flow.Session) error {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b *flow.Session) int { return strings.Compare(a.GetId(), b.GetId()) })
	switch f {
	case Table:
		return sessionTable(w, ss)
	case XML:
		c, err := codec()
		if err != nil {
			return err
		}
		le, err := c.NewListEncoder(w, flow.SessionsPath, yangxml.Wrapper("data"))
		if err != nil {
			return err
		}
		for _, s := range ss {
			if err := le.Encode(s); err != nil {
				return fmt.Errorf("session %s: %w", s.GetId(), err)
			}
		}
		if err := le.Close(); err != nil {
			return err
		}
		_, err = io.WriteString(w, "\n")
		return err
	case JSON, YAML:
		b, err := SessionsJSON(ss)
		if err != nil {
			return err
		}
		return writeJSONAs(w, f, b)
	}
	return fmt.Errorf("%w %q for sessions", ErrFormat, f)
}

// SessionsJSON is the RFC 7951 JSON of a sami-flow-state tree holding ss
// (module-qualified top-level name, keys sorted), indented.
func SessionsJSON(ss []*flow.Session) ([]byte, error) {
	root := &flowstate.Device{FlowState: &flowstate.SamiFlowState_FlowState{
		Sessions: &flowstate.SamiFlowState_FlowState_Sessions{Session: make(map[string]*flow.Session, len(ss))},
	}}
	for _, s := range ss {
		if s.GetId() == "" {
			return nil, fmt.Errorf("render: session without an id (%s)", flowText(s))
		}
		root.FlowState.Sessions.Session[s.GetId()] = s
	}
	m, err := ygot.ConstructIETFJSON(root, &ygot.RFC7951JSONConfig{AppendModuleName: true})
	if err != nil {
		return nil, fmt.Errorf("render: sessions as RFC 7951 JSON: %w", err)
	}
	return json.MarshalIndent(m, "", "  ")
}

func sessionTable(w io.Writer, ss []*flow.Session) error {
	t := newTable(w, "ID", "PROTO", "FLOW", "NAT", "STATE", "TIMEOUT", "ZONE")
	for _, s := range ss {
		t.row(s.GetId(), protoName(s.GetProtocol()), flowText(s), natText(s), stateText(s), timeoutText(s), zoneText(s))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d session(s)\n", len(ss))
	return err
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	case 136:
		return "udplite"
	case 33:
		return "dccp"
	case 47:
		return "gre"
	}
	return strconv.Itoa(int(p))
}

func hostPort(addr string, port *uint16) string {
	if addr == "" {
		addr = "?"
	}
	if port == nil {
		return addr
	}
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() {
		addr = "[" + addr + "]"
	}
	return addr + ":" + strconv.Itoa(int(*port))
}

func flowText(s *flow.Session) string {
	o := s.GetOriginal()
	if o == nil {
		return "?"
	}
	return hostPort(o.GetSourceAddress(), o.SourcePort) + " -> " + hostPort(o.GetDestinationAddress(), o.DestinationPort)
}

func natText(s *flow.Session) string {
	n := s.GetNat()
	if n == nil {
		return ""
	}
	var parts []string
	if src := n.GetSource(); src != nil && (src.ExternalSrcAddress != nil || src.ExternalSrcPort != nil) {
		parts = append(parts, "snat "+hostPort(src.GetExternalSrcAddress(), src.ExternalSrcPort))
	}
	if dst := n.GetDestination(); dst != nil && (dst.InternalDstAddress != nil || dst.InternalDstPort != nil) {
		parts = append(parts, "dnat "+hostPort(dst.GetInternalDstAddress(), dst.InternalDstPort))
	}
	return strings.Join(parts, ", ")
}

func stateText(s *flow.Session) string {
	if t := s.GetTcp(); t != nil && t.State != 0 {
		return t.State.String()
	}
	if sc := s.GetSctp(); sc != nil && sc.State != 0 {
		return sc.State.String()
	}
	return ""
}

func timeoutText(s *flow.Session) string {
	tm := s.GetTimers()
	if tm == nil {
		return ""
	}
	switch {
	case tm.Remaining != nil:
		return (time.Duration(tm.GetRemaining()) * time.Second).String()
	case tm.IdleTimeout != nil:
		return (time.Duration(tm.GetIdleTimeout()) * time.Second).String() + " idle"
	}
	return ""
}

func zoneText(s *flow.Session) string {
	var parts []string
	if l := s.GetLocation(); l != nil && (l.IngressZone != nil || l.EgressZone != nil) {
		parts = append(parts, orDash(l.GetIngressZone())+">"+orDash(l.GetEgressZone()))
	}
	if s.ZoneId != nil && s.GetZoneId() != 0 {
		parts = append(parts, "ct-zone "+strconv.Itoa(int(s.GetZoneId())))
	}
	return strings.Join(parts, " ")
}
