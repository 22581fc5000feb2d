package sandbox_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/sandbox"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestWriteInventory(t *testing.T) {
	s := newSandbox(t)
	a, _, err := s.StartSim(ctx(t), "fwA", simfw.Vendors()["sami-sim"])
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.StartSim(ctx(t), "fwB", simfw.Vendors()["ipv4-only"], sandbox.WithPassword("pw"), sandbox.WithPlaintextGNMI())
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.StartSim(ctx(t), "edge", simfw.Vendors()["branch"], sandbox.WithoutGNMI())
	if err != nil {
		t.Fatal(err)
	}
	inv := sandbox.Inventory{
		Comment: "The demo's inventory.\n\nTwo racks.",
		Devices: []sandbox.Device{
			{Agent: a, Domain: "dc", Location: "rack-a", Role: "firewall", Comment: "rack A's firewall"},
			{Agent: b, Domain: "dc", Location: "rack-b", Role: "firewall"},
			{Agent: c, Domain: "branch"},
		},
		Locations: []sandbox.Location{
			{Name: "rack-a", Domain: "dc", Ingress: []string{"fwA"}, Egress: []string{"fwA"}, Comment: "VMs on rack A"},
			{Name: "rack-b", Domain: "dc", Ingress: []string{"fwB"}, Egress: []string{"fwB"}},
			{Name: "branch", Ingress: []string{"edge"}},
		},
		DomainRules: []topology.DomainRule{{From: "dc", To: "branch"}},
	}
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := sandbox.WriteInventoryFile(path, inv); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// What varies from run to run becomes a placeholder.
	norm := strings.NewReplacer(s.Dir(), "$DIR", a.Addr, "$A", a.GNMIAddr, "$AG", b.Addr, "$B", b.GNMIAddr, "$BG", c.Addr, "$C").Replace(string(got))
	golden := filepath.Join("testdata", "inventory.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, []byte(norm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), norm); d != "" {
		t.Errorf("inventory (-golden +got):\n%s", d)
	}

	// It loads, and every device resolves to the agent's own Config.
	ti, err := topology.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ag := range []*sandbox.Agent{a, b, c} {
		cfg, err := ti.DeviceConfig(ag.Name, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		want := ag.Config()
		cfg.Timeout, cfg.Logger, want.Timeout, want.Logger = 0, nil, 0, nil
		if d := cmp.Diff(want, cfg); d != "" {
			t.Errorf("%s: inventory config differs from Agent.Config (-agent +inventory):\n%s", ag.Name, d)
		}
	}
	if mv, err := ti.Resolve("rack-a", "rack-b"); err != nil || len(mv.Sources) != 1 || mv.Sources[0] != "fwA" {
		t.Errorf("Resolve(rack-a, rack-b) = %v, %v", mv, err)
	}
}

func TestWriteInventoryRefusesWhatWouldNotLoad(t *testing.T) {
	s := newSandbox(t)
	a, _, err := s.StartSim(ctx(t), "fwA", simfw.Vendors()["basic"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		inv  sandbox.Inventory
		want string
	}{
		{"no agent", sandbox.Inventory{Devices: []sandbox.Device{{Domain: "x"}}}, "inventory device 0 has no agent"},
		{"unknown device in a location", sandbox.Inventory{
			Devices:   []sandbox.Device{{Agent: a}},
			Locations: []sandbox.Location{{Name: "r", Ingress: []string{"fwZ"}}},
		}, "fwZ"},
		{"device twice", sandbox.Inventory{Devices: []sandbox.Device{{Agent: a}, {Agent: a}}}, "defined twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := sandbox.WriteInventory(&buf, tc.inv)
			if !errors.Is(err, sandbox.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalid naming %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes of a bad inventory", buf.Len())
			}
		})
	}
}
