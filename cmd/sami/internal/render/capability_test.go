package render_test

import (
	"bytes"
	"testing"

	"github.com/sami-netops/sami/cmd/sami/internal/render"
)

// A plan whose pairs lose fields shows them between the destinations and
// the domain crossings, and as "lost-fields" in the data formats.
func TestPlanLosses(t *testing.T) {
	p := plan(t)
	p.Losses = []render.PairLoss{
		{
			FromDriver: "junos-srx", ToDriver: "sami", Kept: 33,
			Devices: []render.DevicePair{{Source: "fw1", Destination: "fw2"}},
			Lost: []render.LostFields{
				{Field: "nat/type", Leaves: []string{"nat/type"}, Why: render.NotInSource},
				{Field: "tcp", Leaves: []string{"tcp/state", "tcp/original/max-window"}, Why: render.NotInSource, Reason: "no TCP state"},
			},
		},
		{
			FromDriver: "sami", ToDriver: "ietf-nat", Kept: 20,
			Devices: []render.DevicePair{{Source: "fw1", Destination: "nat1"}, {Source: "fw3", Destination: "nat1"}},
			Lost:    []render.LostFields{{Field: "zone-id", Leaves: []string{"zone-id"}, Why: render.NotWritable, Reason: "one NAT instance is one zone"}},
		},
		{
			FromDriver: "acme", ToDriver: "sami",
			Devices:   []render.DevicePair{{Source: "a1", Destination: "fw2"}},
			Unchecked: `no declarative mapping for driver "acme"`,
		},
	}
	for _, f := range render.Common {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			if err := render.WritePlan(&b, f, p); err != nil {
				t.Fatal(err)
			}
			golden(t, "plan-losses."+string(f), b.Bytes())
		})
	}
	if n := p.Losses[0].Count(); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
}
