package migrate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

func TestLosses(t *testing.T) {
	inv, err := topology.Load(strings.NewReader(`defaults: {driver: sami}
devices:
  - {name: srx1, address: "192.0.2.1:830", driver: junos-srx}
  - {name: srx2, address: "192.0.2.2:830", driver: junos-srx}
  - {name: ios1, address: "192.0.2.3:830", driver: cisco-iosxe-nat}
  - {name: fw1, address: "192.0.2.4:830"}
  - {name: fw2, address: "192.0.2.5:830", driver: sami}
  - {name: nat1, address: "192.0.2.6:830", driver: ietf-nat}
  - {name: acme1, address: "192.0.2.7:830", driver: acme}
locations:
  - {name: s1, ingress: [fw1], egress: [fw1]}
`))
	if err != nil {
		t.Fatal(err)
	}
	// row is a LostFields as one comparable line: why, field, leaf count.
	rows := func(pl render.PairLoss) []string {
		var out []string
		for _, l := range pl.Lost {
			out = append(out, fmt.Sprintf("%s|%s|%d", l.Why, l.Field, len(l.Leaves)))
		}
		return out
	}
	pair := func(s, d string) render.DevicePair { return render.DevicePair{Source: s, Destination: d} }
	for _, tc := range []struct {
		name    string
		pairs   []render.DevicePair
		drivers []string // FromDriver>ToDriver of each PairLoss
		devices [][]render.DevicePair
		has     []string // rows the first PairLoss must contain
		hasNot  []string
		kept    int
		checkWy string // a substring of the first PairLoss's Unchecked
	}{
		{
			name: "junos to sami loses what the SRX never reports", pairs: []render.DevicePair{pair("srx1", "fw1"), pair("srx2", "fw1")},
			drivers: []string{"junos-srx>sami"}, devices: [][]render.DevicePair{{pair("srx1", "fw1"), pair("srx2", "fw1")}},
			has:    []string{"not in the source mapping|tcp|15", "not in the source mapping|nat/type|1", "not in the source mapping|alg|3"},
			hasNot: []string{"not writable at the destination|"}, kept: 33,
		},
		{
			name: "iosxe to ietf-nat: both reasons", pairs: []render.DevicePair{pair("ios1", "nat1")},
			drivers: []string{"cisco-iosxe-nat>ietf-nat"}, devices: [][]render.DevicePair{{pair("ios1", "nat1")}},
			has: []string{"not in the source mapping|tcp|15", "not writable at the destination|zone-id|1",
				"not writable at the destination|vendor-parameter|2", "not writable at the destination|location|1"},
			kept: 19,
		},
		{
			name: "read-only destination keeps nothing", pairs: []render.DevicePair{pair("fw1", "srx1")},
			drivers: []string{"sami>junos-srx"}, devices: [][]render.DevicePair{{pair("fw1", "srx1")}},
			has: []string{"not writable at the destination|all|67"},
		},
		{name: "sami to sami loses nothing", pairs: []render.DevicePair{pair("fw1", "fw2")}},
		{
			name: "a driver without a mapping is not checked", pairs: []render.DevicePair{pair("acme1", "fw1"), pair("fw1", "fw2")},
			drivers: []string{"acme>sami"}, devices: [][]render.DevicePair{{pair("acme1", "fw1")}}, checkWy: `driver "acme"`,
		},
		{
			name: "each driver pair once, in plan order", pairs: []render.DevicePair{pair("fw1", "nat1"), pair("srx1", "fw2"), pair("fw2", "nat1")},
			drivers: []string{"sami>ietf-nat", "junos-srx>sami"}, devices: [][]render.DevicePair{{pair("fw1", "nat1"), pair("fw2", "nat1")}, {pair("srx1", "fw2")}},
			has: []string{"not writable at the destination|tcp|15"}, kept: 21,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := losses(inv, tc.pairs, plugins.Mapping)
			var drivers []string
			var devices [][]render.DevicePair
			for _, pl := range got {
				drivers = append(drivers, pl.FromDriver+">"+pl.ToDriver)
				devices = append(devices, pl.Devices)
			}
			if diff := cmp.Diff(tc.drivers, drivers); diff != "" {
				t.Fatalf("driver pairs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.devices, devices); diff != "" {
				t.Errorf("device pairs (-want +got):\n%s", diff)
			}
			if len(got) == 0 {
				return
			}
			first := got[0]
			if tc.checkWy != "" {
				if !strings.Contains(first.Unchecked, tc.checkWy) || len(first.Lost) != 0 {
					t.Errorf("Unchecked %q, Lost %v: want it to name %s", first.Unchecked, first.Lost, tc.checkWy)
				}
				return
			}
			rs := rows(first)
			for _, h := range tc.has {
				if !contains(rs, h) {
					t.Errorf("no row %q in %v", h, rs)
				}
			}
			for _, h := range tc.hasNot {
				for _, r := range rs {
					if strings.HasPrefix(r, h) {
						t.Errorf("row %q, want none starting %q", r, h)
					}
				}
			}
			if first.Kept != tc.kept {
				t.Errorf("Kept = %d, want %d", first.Kept, tc.kept)
			}
		})
	}
}

// The reasons are the mappings' own words, so an operator sees why.
func TestLossesReasons(t *testing.T) {
	inv, err := topology.Load(strings.NewReader(`devices:
  - {name: ios1, address: "192.0.2.3:830", driver: cisco-iosxe-nat}
  - {name: nat1, address: "192.0.2.6:830", driver: ietf-nat}
locations:
  - {name: s1, ingress: [ios1], egress: [ios1]}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := losses(inv, []render.DevicePair{{Source: "ios1", Destination: "nat1"}}, plugins.Mapping)
	reasons := map[string]string{}
	for _, l := range got[0].Lost {
		reasons[l.Field] = l.Reason
	}
	for field, want := range map[string]string{
		"zone-id":          "one NAT instance is one zone",
		"vendor-parameter": "ietf-nat has no place for vendor parameters",
		"tcp":              "window",
	} {
		if !strings.Contains(reasons[field], want) {
			t.Errorf("reason for %s = %q, want it to say %q", field, reasons[field], want)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
