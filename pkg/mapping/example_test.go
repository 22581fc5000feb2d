package mapping_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/mapping"
)

// A mapping converts vendor data into canonical sessions; Validate checks
// it against the vendor's modules; Survives tells what a move keeps.
func Example() {
	ctx := context.Background()
	m, err := mapping.LoadFile("testdata/acme.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	mods, err := mapping.LoadModules(ctx, mapping.ModuleNames(m), []string{"testdata/yang"})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := mapping.Validate(ctx, m, mods, mapping.WithSamples("testdata/acme-reply.xml"))
	fmt.Println("mapping ok:", r.Err() == nil)

	c, _ := mapping.NewConverter(m)
	reply := `<fw-state xmlns="urn:example:acme-fw"><session><sid>1</sid><proto>tcp</proto>
	  <src>10.0.0.5</src><sport>40312</sport><dst>198.51.100.20</dst><dport>443</dport>
	  <xlate-src>203.0.113.7</xlate-src><xlate-sport>61000</xlate-sport></session></fw-state>`
	_ = c.Convert(ctx, strings.NewReader(reply), func(s *flow.Session) error {
		fmt.Println(s.GetId(), "source NAT to", s.GetNat().GetSource().GetExternalSrcAddress())
		return nil
	})

	ietf, _ := mapping.LoadFile("../../plugins/ietfnat/mapping.yaml")
	rep := mapping.Survives(m, ietf)
	fmt.Println(len(rep.Lost), "fields lost, e.g.", rep.Lost[0].Path+":", rep.Lost[0].Reason)
	// Output:
	// mapping ok: true
	// 0/6/10.0.0.5/40312/198.51.100.20/443 source NAT to 203.0.113.7
	// 4 fields lost, e.g. location/ingress-zone: not in a mapping entry
}
