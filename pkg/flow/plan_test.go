package flow

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
)

// TestVolatilityCoversConfigFalse guards the exclusion list: config false
// nodes are device state that is not migrated, so a config false node added to
// the session later must be classified here before the digest includes it.
func TestVolatilityCoversConfigFalse(t *testing.T) {
	var walk func(e *yang.Entry, path string)
	walk = func(e *yang.Entry, path string) {
		for name, c := range e.Dir {
			p := path + name
			if v, tol := volatility(p); v || tol {
				continue
			}
			if c.ReadOnly() {
				t.Errorf("config false node %s is neither volatile nor tolerant", p)
			}
			walk(c, p+"/")
		}
	}
	walk(flowstate.SchemaTree["SamiFlowState_FlowState_Sessions_Session"], "")
}

// TestVolatilePathsExist catches a renamed or removed volatile leaf, which
// would otherwise silently enter the digest.
func TestVolatilePathsExist(t *testing.T) {
	found := map[string]*field{}
	var walk func(p *plan)
	walk = func(p *plan) {
		for _, f := range p.fields {
			if f.volatile || f.tolerant {
				found[f.path] = f
			}
			if f.sub != nil {
				walk(f.sub)
			}
		}
	}
	walk(sessionPlan)
	for _, p := range []string{"counters", "timers/last-seen", "timers/created", remainingPath} {
		if found[p] == nil {
			t.Errorf("volatile path %s not in the session plan", p)
		}
	}
	if f := found[remainingPath]; f == nil || f.val != valUint {
		t.Errorf("%s is not an unsigned leaf", remainingPath)
	}
}

func TestPlanSorted(t *testing.T) {
	var walk func(p *plan)
	walk = func(p *plan) {
		if !slices.IsSortedFunc(p.fields, func(a, b *field) int {
			return bytes.Compare([]byte(a.name), []byte(b.name))
		}) {
			t.Errorf("fields not sorted: %v", p.fields)
		}
		for _, f := range p.fields {
			if f.sub != nil {
				walk(f.sub)
			}
		}
	}
	walk(sessionPlan)
	vp := sessionPlan.fields[slices.IndexFunc(sessionPlan.fields, func(f *field) bool { return f.name == "vendor-parameter" })]
	var keys []string
	for _, k := range vp.sub.keys {
		keys = append(keys, k.name)
	}
	if !slices.Equal(keys, []string{"vendor", "name"}) {
		t.Errorf("vendor-parameter keys = %v", keys)
	}
}

// TestWalkerWholeModel applies the walker to the model's root, which has leaf
// types that sessions lack (union, identityref leaf-list, empty, decimal64),
// to show the walker is not tied to the session struct.
func TestWalkerWholeModel(t *testing.T) {
	p, err := newPlan(reflect.TypeFor[flowstate.Device]())
	if err != nil {
		t.Fatal(err)
	}
	enc := func(d *flowstate.Device) string {
		t.Helper()
		var e encoder
		if err := e.fields(p, reflect.ValueOf(d).Elem()); err != nil {
			t.Fatal(err)
		}
		return string(e.buf)
	}
	build := func(mod func(c *flowstate.SamiFlowState_FlowState_Capabilities)) *flowstate.Device {
		d := &flowstate.Device{}
		c := d.GetOrCreateFlowState().GetOrCreateCapabilities()
		c.Vendor = ygot.String("acme")
		c.MaxSessions = flowstate.UnionUint64(1000)
		c.Utilization = ygot.Float64(12.5)
		c.ReadOnly = true
		c.SupportedProtocols = []uint8{17, 6}
		c.Features = []flowstate.E_SamiFlowState_Feature{flowstate.SamiFlowState_Feature_zones, flowstate.SamiFlowState_Feature_nat}
		s := d.GetOrCreateFlowState().GetOrCreateSessions().GetOrCreateSession("0/47/192.0.2.1/0/192.0.2.2/0")
		s.Protocol = ygot.Uint8(47)
		if mod != nil {
			mod(c)
		}
		return d
	}
	base := enc(build(nil))
	if base == "" {
		t.Fatal("empty encoding")
	}
	if got := enc(build(func(c *flowstate.SamiFlowState_FlowState_Capabilities) {
		slices.Reverse(c.SupportedProtocols)
		slices.Reverse(c.Features)
	})); got != base {
		t.Error("leaf-list order changed the encoding")
	}
	for name, mod := range map[string]func(c *flowstate.SamiFlowState_FlowState_Capabilities){
		"union enum": func(c *flowstate.SamiFlowState_FlowState_Capabilities) {
			c.MaxSessions = flowstate.SamiFlowState_FlowState_Capabilities_MaxSessions_unlimited
		},
		"union value": func(c *flowstate.SamiFlowState_FlowState_Capabilities) { c.MaxSessions = flowstate.UnionUint64(1001) },
		"union unset": func(c *flowstate.SamiFlowState_FlowState_Capabilities) { c.MaxSessions = nil },
		"decimal64":   func(c *flowstate.SamiFlowState_FlowState_Capabilities) { *c.Utilization = 12.75 },
		"empty":       func(c *flowstate.SamiFlowState_FlowState_Capabilities) { c.ReadOnly = false },
		"identityref": func(c *flowstate.SamiFlowState_FlowState_Capabilities) { c.Features = c.Features[:1] },
	} {
		if enc(build(mod)) == base {
			t.Errorf("%s: change not in the encoding", name)
		}
	}
}
