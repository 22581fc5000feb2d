package topology_test

import (
	"fmt"
	"strings"

	"github.com/sami-netops/sami/pkg/topology"
)

// A VM moves from rack a, where both directions of its traffic cross fw1,
// to rack b, where traffic toward it crosses fw2 and traffic from it fw3
// (case 2 of the framework draft's asymmetric routing).
func ExampleInventory_Resolve() {
	const inventory = `
defaults:
  driver: sami
  credentials: {user: sami, key-file: /etc/sami/id_ed25519, known-hosts: [/etc/sami/known_hosts]}
devices:
  - {name: fw1, address: "192.0.2.1:830", domain: dc1}
  - {name: fw2, address: "192.0.2.2:830", domain: dc1}
  - {name: fw3, address: "198.51.100.3:830", domain: dc2}
locations:
  - {name: rack-a, ingress: [fw1], egress: [fw1]}
  - {name: rack-b, ingress: [fw2], egress: [fw3]}
domain-rules:
  - {from: dc1, to: dc2}
`
	inv, err := topology.Load(strings.NewReader(inventory), topology.WithName("inventory.yaml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := inv.Resolve("rack-a", "rack-b")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m)
	for _, c := range inv.CrossDomain(m) {
		fmt.Println(c)
	}
	// Output:
	// move rack-a -> rack-b (symmetric-to-asymmetric)
	//   ingress: fw1 -> fw2 (one-to-one)
	//   egress:  fw1 -> fw3 (one-to-one)
	//   sources: fw1; destinations: fw2 fw3; eliminate: fw1; keep: -
	//   pairs: ingress fw1->fw2, egress fw1->fw3
	// fw1 (domain dc1) -> fw3 (domain dc2): allowed by rule
}

// Errors name the file, the line and the field.
func ExampleLoad() {
	_, err := topology.Load(strings.NewReader(`
devices:
  - name: fw1
    address: 192.0.2.1:830
    drivr: sami
`), topology.WithName("inventory.yaml"))
	fmt.Println(err)
	// Output:
	// inventory.yaml:5: devices[0]: unknown field "drivr" (did you mean "driver"?)
}
