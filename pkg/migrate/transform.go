package migrate

import (
	"fmt"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/flow"
)

func (t Transform) empty() bool {
	return len(t.ZoneIDs) == 0 && len(t.Zones) == 0 && len(t.Interfaces) == 0 && len(t.VRFs) == 0
}

// apply renames s's location for the destination. The conntrack zone is
// part of the flow's identity, so a renamed zone gives the session its
// destination id.
func (t Transform) apply(s *flow.Session) error {
	if z, ok := t.ZoneIDs[s.GetZoneId()]; ok {
		old := s.GetZoneId()
		if z == 0 {
			s.ZoneId = nil
		} else {
			s.ZoneId = ygot.Uint16(z)
		}
		s.Id = nil
		if err := flow.SetKey(s); err != nil {
			return fmt.Errorf("zone %d -> %d: %w", old, z, err)
		}
	}
	l := s.Location
	if l == nil {
		return nil
	}
	rename := func(m map[string]string, p **string) {
		if *p == nil {
			return
		}
		if n, ok := m[**p]; ok {
			*p = ygot.String(n)
		}
	}
	rename(t.Zones, &l.IngressZone)
	rename(t.Zones, &l.EgressZone)
	rename(t.Interfaces, &l.IngressInterface)
	rename(t.Interfaces, &l.EgressInterface)
	rename(t.VRFs, &l.Vrf)
	return nil
}
