package flow

import (
	"iter"
	"net/netip"
)

// Endpoint names a workload whose flows move with it: by address, by owner
// identifier, or both (then either one matches).
type Endpoint struct {
	Address netip.Addr // matched against every address of the flow; invalid when unset
	ID      string     // matched against owner/endpoint-id; empty when unset
}

// Match reports whether s belongs to e: e.ID equals owner/endpoint-id, or
// e.Address appears anywhere in the flow. A flow is matched by its translated
// addresses too, because after NAT the endpoint may only be visible as the
// external address in one direction. IPv4-mapped IPv6 addresses match their
// IPv4 address, and an Address without zone matches any zone.
// The zero Endpoint matches nothing.
func (e Endpoint) Match(s *Session) bool {
	if s == nil {
		return false
	}
	if e.ID != "" && s.Owner != nil && s.Owner.EndpointId != nil && *s.Owner.EndpointId == e.ID {
		return true
	}
	if !e.Address.IsValid() {
		return false
	}
	want := e.Address.Unmap()
	for a := range sessionAddrs(s) {
		if a == want || (want.Zone() == "" && a.WithZone("") == want) {
			return true
		}
	}
	return false
}

// Filter returns the sessions that e matches, in their original order.
func Filter(sessions []*Session, e Endpoint) []*Session {
	var out []*Session
	for _, s := range sessions {
		if e.Match(s) {
			out = append(out, s)
		}
	}
	return out
}

// Matcher matches sessions against a set of endpoints, such as all addresses
// and ids of the workloads being moved. It is meant for streaming: look-ups
// are by map, so its cost per session does not grow with the number of
// endpoints. A Matcher is safe for concurrent use.
type Matcher struct {
	addrs map[netip.Addr]struct{} // unmapped; with zone only when the endpoint had one
	ids   map[string]struct{}
}

// NewMatcher returns a Matcher that matches a session when any of endpoints
// matches it.
func NewMatcher(endpoints ...Endpoint) *Matcher {
	m := &Matcher{addrs: map[netip.Addr]struct{}{}, ids: map[string]struct{}{}}
	for _, e := range endpoints {
		if e.Address.IsValid() {
			m.addrs[e.Address.Unmap()] = struct{}{}
		}
		if e.ID != "" {
			m.ids[e.ID] = struct{}{}
		}
	}
	return m
}

// Match reports whether any of m's endpoints matches s, with the rules of
// Endpoint.Match.
func (m *Matcher) Match(s *Session) bool {
	if s == nil {
		return false
	}
	if len(m.ids) > 0 && s.Owner != nil && s.Owner.EndpointId != nil {
		if _, ok := m.ids[*s.Owner.EndpointId]; ok {
			return true
		}
	}
	if len(m.addrs) == 0 {
		return false
	}
	for a := range sessionAddrs(s) {
		if _, ok := m.addrs[a]; ok {
			return true
		}
		if a.Zone() != "" {
			if _, ok := m.addrs[a.WithZone("")]; ok {
				return true
			}
		}
	}
	return false
}

// Filter yields the sessions of seq that m matches.
func (m *Matcher) Filter(seq iter.Seq[*Session]) iter.Seq[*Session] {
	return func(yield func(*Session) bool) {
		for s := range seq {
			if m.Match(s) && !yield(s) {
				return
			}
		}
	}
}

// sessionAddrs yields every parsable address of s, unmapped: both tuples, both
// sides of the source and destination translation, and the owner's address.
func sessionAddrs(s *Session) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		var list [9]*string
		n := 0
		add := func(p *string) {
			if p != nil {
				list[n] = p
				n++
			}
		}
		if o := s.Original; o != nil {
			add(o.SourceAddress)
			add(o.DestinationAddress)
		}
		if r := s.Reply; r != nil {
			add(r.SourceAddress)
			add(r.DestinationAddress)
		}
		if nat := s.Nat; nat != nil {
			if src := nat.Source; src != nil {
				add(src.InternalSrcAddress)
				add(src.ExternalSrcAddress)
			}
			if dst := nat.Destination; dst != nil {
				add(dst.InternalDstAddress)
				add(dst.ExternalDstAddress)
			}
		}
		if s.Owner != nil {
			add(s.Owner.EndpointAddress)
		}
		for _, p := range list[:n] {
			a, err := netip.ParseAddr(*p)
			if err != nil {
				continue
			}
			if !yield(a.Unmap()) {
				return
			}
		}
	}
}
