package sami

import (
	"context"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/xmltok"
	"github.com/sami-netops/sami/pkg/yangxml"
)

func filter(child string) netconf.Filter {
	return netconf.Subtree(`<flow-state xmlns="` + modelNS() + `"><` + child + `/></flow-state>`)
}

// Capabilities reads the device's capabilities container and combines it
// with the NETCONF hello.
func (d *Driver) Capabilities(ctx context.Context) (*device.Capabilities, error) {
	var out *device.Capabilities
	err := d.do(ctx, "capabilities", false, func(s *netconf.Session) error {
		dev := &flowstate.Device{}
		_, err := s.Get(ctx, filter("capabilities"), netconf.WithData(func(tk *xmltok.Tokenizer, ns map[string]string) error {
			return d.codec.DecodeElement(tk, dev, yangxml.WithNamespaces(ns), yangxml.SkipUnknownModules())
		}))
		if err != nil {
			return err
		}
		out = capabilities(dev.GetFlowState().GetCapabilities(), s.Capabilities())
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Watch = true // gNMI, or polling without it
	return out, nil
}

// capabilities maps the model's capabilities and the hello.
func capabilities(c *flowstate.SamiFlowState_FlowState_Capabilities, hello *netconf.Capabilities) *device.Capabilities {
	out := &device.Capabilities{
		Vendor: c.GetVendor(), Model: c.GetModel(), Software: c.GetSoftwareVersion(),
		Active:          c.GetActiveSessions(),
		Domain:          c.GetDomain(),
		Protocols:       append([]uint8(nil), c.GetSupportedProtocols()...),
		ConfirmedCommit: hello.Has(netconf.CapConfirmedCommit) || hello.Has(netconf.CapConfirmedCommit1),
		Writable:        !bool(c.GetReadOnly()) && hello.Has(netconf.CapCandidate),
	}
	if n, ok := c.GetMaxSessions().(flowstate.UnionUint64); ok {
		out.MaxSessions = uint64(n) // "unlimited" and absent stay 0
	}
	for _, ft := range c.GetFeatures() {
		out.Features = append(out.Features, flow.FeatureName(ft))
	}
	return out
}

// Read streams the device's sessions (<get>, with counters) to fn, one at
// a time, decoded straight from the reply. m is applied here (client side).
// An error from fn is returned as is; the rest of the reply is read and
// dropped so the connection (and a lock on it) survives.
func (d *Driver) Read(ctx context.Context, m *flow.Matcher, fn func(*flow.Session) error) error {
	var fnErr error
	err := d.do(ctx, "read", false, func(s *netconf.Session) error {
		_, err := s.Get(ctx, filter("sessions"), netconf.WithData(func(tk *xmltok.Tokenizer, ns map[string]string) error {
			return d.codec.DecodeElement(tk, &flowstate.Device{}, yangxml.WithNamespaces(ns), yangxml.SkipUnknownModules(),
				yangxml.WithListHandler(flow.SessionsPath, func(e ygot.GoStruct) error {
					if fnErr != nil {
						return nil
					}
					sess, ok := e.(*flow.Session)
					if !ok || (m != nil && !m.Match(sess)) {
						return nil
					}
					fnErr = fn(sess)
					return nil
				}))
		}))
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}
