package plugins_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/plugins"
)

func TestMapping(t *testing.T) {
	for _, tc := range []struct {
		driver   string
		writable bool
		identity bool
	}{
		{"sami", true, true},
		{"ietf-nat", true, false},
		{"junos-srx", false, false},
		{"cisco-iosxe-nat", false, false},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			m, err := plugins.Mapping(tc.driver)
			if err != nil {
				t.Fatal(err)
			}
			// The mapping's own name is the driver's: reports say one name.
			if m.Name != tc.driver || m.Writable() != tc.writable || m.Identity != tc.identity {
				t.Errorf("mapping %q writable %v identity %v, want %q %v %v", m.Name, m.Writable(), m.Identity, tc.driver, tc.writable, tc.identity)
			}
			again, _ := plugins.Mapping(tc.driver)
			if again != m {
				t.Error("parsed twice")
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		_, err := plugins.Mapping("acme-fw")
		if !errors.Is(err, plugins.ErrNoMapping) || !strings.Contains(err.Error(), `"acme-fw"`) || !strings.Contains(err.Error(), "junos-srx") {
			t.Errorf("err = %v, want ErrNoMapping naming the driver and the known ones", err)
		}
	})
}

// TestEveryDriverHasAMapping: a registered driver without a mapping would
// leave its pairs unchecked by the capability report.
func TestEveryDriverHasAMapping(t *testing.T) {
	r := device.NewRegistry()
	if err := plugins.Register(r); err != nil {
		t.Fatal(err)
	}
	for _, n := range r.Names() {
		if _, err := plugins.Mapping(n); err != nil {
			t.Errorf("registered driver: %v", err)
		}
	}
	want := []string{"cisco-iosxe-nat", "ietf-nat", "junos-srx", "sami"}
	if diff := cmp.Diff(want, plugins.Mappings()); diff != "" {
		t.Errorf("Mappings (-want +got):\n%s", diff)
	}
}

func ExampleMapping() {
	from, _ := plugins.Mapping("cisco-iosxe-nat")
	to, _ := plugins.Mapping("ietf-nat")
	r := mapping.Survives(from, to)
	fmt.Println(plugins.Mappings())
	for _, l := range r.Lost {
		fmt.Printf("%s: %s\n", l.Path, l.Reason)
	}
	// Output:
	// [cisco-iosxe-nat ietf-nat junos-srx sami]
	// location/vrf: not in a mapping entry
	// vendor-parameter/application-type: ietf-nat has no place for vendor parameters
	// vendor-parameter/flags: ietf-nat has no place for vendor parameters
	// zone-id: one NAT instance is one zone (the driver's zone-id option)
}
