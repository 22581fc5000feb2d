package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sami-netops/sami/pkg/sandbox"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
)

func Example() {
	ctx := context.Background()
	s, err := sandbox.New() // a temporary directory, removed by Close
	if err != nil {
		panic(err)
	}
	defer s.Close()
	a, fwA, err := s.StartSim(ctx, "fwA", simfw.Vendors()["sami-sim"])
	if err != nil {
		panic(err)
	}
	b, _, err := s.StartSim(ctx, "fwB", simfw.Vendors()["ipv4-only"])
	if err != nil {
		panic(err)
	}
	// An inventory sami's orchestrator (or `sami -i FILE`) can use.
	path := filepath.Join(s.Dir(), "inventory.yaml")
	err = sandbox.WriteInventoryFile(path, sandbox.Inventory{
		Devices: []sandbox.Device{
			{Agent: a, Domain: "dc", Location: "rack-a"},
			{Agent: b, Domain: "dc", Location: "rack-b"},
		},
		Locations: []sandbox.Location{
			{Name: "rack-a", Ingress: []string{"fwA"}, Egress: []string{"fwA"}},
			{Name: "rack-b", Ingress: []string{"fwB"}, Egress: []string{"fwB"}},
		},
	})
	if err != nil {
		panic(err)
	}
	inv, err := topology.LoadFile(path)
	if err != nil {
		panic(err)
	}
	cfg, _ := inv.DeviceConfig("fwA", os.Getenv)
	fmt.Println(cfg.Driver, cfg.Address == a.Addr, fwA.Len())
	// Output:
	// sami true 0
}
