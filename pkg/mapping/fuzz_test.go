package mapping_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/mapping"
)

// FuzzParse: the loader never panics, and what it accepts converts.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/acme.yaml", "../../plugins/junos/mapping.yaml", "../../plugins/ciscoiosxe/mapping.yaml", ietfNATMapping, "../../plugins/samiid/mapping.yaml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("mapping: x\naccess: read-only\nfields: &a {x: *a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := mapping.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		if _, err := mapping.NewConverter(m); err != nil {
			t.Fatalf("accepted mapping does not make a converter: %v", err)
		}
	})
}

// FuzzConvert: vendor data never panics the converter, and every session
// it yields has a valid key.
func FuzzConvert(f *testing.F) {
	for _, file := range []string{"testdata/acme-reply.xml", "testdata/acme-reply.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<fw-state xmlns="urn:example:acme-fw"><session><proto>icmp</proto><src>::1</src><dst>1.2.3.4/32</dst></session></fw-state>`))
	f.Add([]byte(`{"acme-fw:fw-state":{"session":[{"proto":"udp","src":"1.1.1.1","dst":"2.2.2.2","sport":"0x10","ttl-ms":-5}]}}`))
	m, err := mapping.LoadFile("testdata/acme.yaml")
	if err != nil {
		f.Fatal(err)
	}
	c, err := mapping.NewConverter(m, mapping.SkipInvalid(func(error) {}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = c.Convert(ctx, bytes.NewReader(data), func(s *flow.Session) error {
			if err := flow.CheckKey(s); err != nil {
				t.Fatalf("session with a bad key: %v", err)
			}
			return nil
		})
	})
}
