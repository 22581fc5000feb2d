package render_test

import (
	"os"

	"github.com/sami-netops/sami/cmd/sami/internal/render"
)

func ExampleDevices() {
	f, err := render.ParseFormat("table")
	if err != nil {
		panic(err)
	}
	render.Devices(os.Stdout, f, []render.Device{
		{Name: "fw1", Driver: "sami", Address: "192.0.2.1:830", Domain: "east", Location: "s1", Role: "firewall"},
		{Name: "fw9", Driver: "sami", Address: "192.0.2.9:830", Discovered: true},
	})
	// Output:
	// NAME  DRIVER  ADDRESS        DOMAIN  LOCATION  ROLE      DISCOVERED
	// fw1   sami    192.0.2.1:830  east    s1        firewall  no
	// fw9   sami    192.0.2.9:830  -       -         -         yes
}
