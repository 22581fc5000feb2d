package topology

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Direction is one direction of an endpoint's traffic, seen from the
// endpoint.
type Direction int

const (
	Ingress Direction = iota + 1 // toward the endpoint
	Egress                       // from the endpoint
)

func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// MarshalText makes directions readable in JSON.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Direction) other() Direction {
	if d == Ingress {
		return Egress
	}
	return Ingress
}

// Case is the asymmetric-routing case of a move (framework draft, 4.1):
// whether the two directions of the endpoint's traffic cross the same
// middleboxes before the move, and after it.
type Case int

const (
	// SymmetricToSymmetric: both directions cross the same boxes before,
	// and the same (other) boxes after.
	SymmetricToSymmetric Case = iota + 1
	// SymmetricToAsymmetric: one set of boxes before; after, the
	// directions split: the old state goes to the boxes of both directions.
	SymmetricToAsymmetric
	// AsymmetricToSymmetric: the directions crossed different boxes before
	// and cross the same after: the new boxes get the state of both.
	AsymmetricToSymmetric
	// AsymmetricToAsymmetric: different boxes per direction before and
	// after: each direction's state goes to that direction's new boxes.
	AsymmetricToAsymmetric
)

func (c Case) String() string {
	switch c {
	case SymmetricToSymmetric:
		return "symmetric-to-symmetric"
	case SymmetricToAsymmetric:
		return "symmetric-to-asymmetric"
	case AsymmetricToSymmetric:
		return "asymmetric-to-symmetric"
	case AsymmetricToAsymmetric:
		return "asymmetric-to-asymmetric"
	}
	return fmt.Sprintf("Case(%d)", int(c))
}

// MarshalText makes cases readable in JSON.
func (c Case) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Fanout is the shape of one direction's transfer.
type Fanout int

const (
	NoTransfer Fanout = iota // nothing to copy (every new box keeps its state, or none can be fed)
	OneToOne
	ManyToOne
	OneToMany
	ManyToMany
)

func (f Fanout) String() string {
	return [...]string{"none", "one-to-one", "many-to-one", "one-to-many", "many-to-many"}[f]
}

// MarshalText makes fanouts readable in JSON.
func (f Fanout) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Path is one direction's middleboxes, in path order, before (Old) and
// after (New) the move.
type Path struct {
	Old []string `json:"old"`
	New []string `json:"new"`
}

// Pair says that Source's state for one direction of the endpoint's
// traffic feeds Destination.
type Pair struct {
	Direction   Direction `json:"direction"`
	Source      string    `json:"source"`
	Destination string    `json:"destination"`
}

// Hop is a device on one direction's path.
type Hop struct {
	Direction Direction `json:"direction"`
	Device    string    `json:"device"`
}

// Move is the resolved transfer plan for an endpoint moving between two
// locations.
type Move struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Ingress Path   `json:"ingress"`
	Egress  Path   `json:"egress"`
	Case    Case   `json:"case"`
	// Sources are every old-path box (either direction), in path order,
	// ingress first: each may hold the endpoint's state.
	Sources []string `json:"sources"`
	// Destinations are every new-path box, in the same order.
	Destinations []string `json:"destinations"`
	// Eliminate are the sources that are not destinations: their copy is
	// removed once the destinations confirmed. Keep are the sources that
	// are destinations too: their state stays where it is.
	Eliminate []string `json:"eliminate"`
	Keep      []string `json:"keep"`
	// Pairs say which source feeds which destination, per direction: a
	// new box takes a direction's state from that direction's old boxes
	// (of the same role); when the old path had none there, from the other
	// direction's (a firewall holds one entry for both directions).
	Pairs []Pair `json:"pairs"`
	// Unfed are new boxes no old box can feed (no old box of their role):
	// they will see the endpoint's flows mid-stream.
	Unfed []Hop `json:"unfed,omitempty"`
	// Stranded are eliminated sources that feed no destination (no new box
	// of their role, such as a NAT when the new path has none): their state
	// is not carried over, and flows that depend on it (NAT bindings) break.
	Stranded []string `json:"stranded,omitempty"`
	// Domains maps every source and destination to its administrative
	// domain.
	Domains map[string]string `json:"domains"`
}

// Path returns the move's path of one direction.
func (m *Move) Path(d Direction) Path {
	if d == Ingress {
		return m.Ingress
	}
	return m.Egress
}

// Fanout classifies the transfer of the given directions (none given:
// both). Parallel one-to-one pairs (a firewall to a firewall and a NAT to
// a NAT) are one-to-one.
func (m *Move) Fanout(dirs ...Direction) Fanout {
	feeds := map[string]int{} // per source: destinations fed
	fed := map[string]int{}   // per destination: sources feeding it
	seen := map[[2]string]bool{}
	for _, p := range m.Pairs {
		if len(dirs) > 0 && !slices.Contains(dirs, p.Direction) {
			continue
		}
		k := [2]string{p.Source, p.Destination}
		if seen[k] {
			continue
		}
		seen[k] = true
		feeds[p.Source]++
		fed[p.Destination]++
	}
	if len(seen) == 0 {
		return NoTransfer
	}
	fanIn := slices.ContainsFunc(slices.Collect(maps.Values(fed)), func(n int) bool { return n > 1 })
	fanOut := slices.ContainsFunc(slices.Collect(maps.Values(feeds)), func(n int) bool { return n > 1 })
	switch {
	case fanIn && fanOut:
		return ManyToMany
	case fanIn:
		return ManyToOne
	case fanOut:
		return OneToMany
	}
	return OneToOne
}

// Feeders lists the sources feeding dst (either direction), deduplicated.
func (m *Move) Feeders(dst string) []string {
	var out []string
	for _, p := range m.Pairs {
		if p.Destination == dst && !slices.Contains(out, p.Source) {
			out = append(out, p.Source)
		}
	}
	return out
}

// String is a readable summary (for dry runs and logs).
func (m *Move) String() string {
	var b strings.Builder
	list := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, " ")
	}
	fmt.Fprintf(&b, "move %s -> %s (%s)\n", m.From, m.To, m.Case)
	for _, d := range []Direction{Ingress, Egress} {
		p := m.Path(d)
		fmt.Fprintf(&b, "  %-8s %s -> %s (%s)\n", d.String()+":", list(p.Old), list(p.New), m.Fanout(d))
	}
	fmt.Fprintf(&b, "  sources: %s; destinations: %s; eliminate: %s; keep: %s\n",
		list(m.Sources), list(m.Destinations), list(m.Eliminate), list(m.Keep))
	var pairs []string
	for _, p := range m.Pairs {
		pairs = append(pairs, fmt.Sprintf("%s %s->%s", p.Direction, p.Source, p.Destination))
	}
	if len(pairs) == 0 {
		pairs = []string{"-"}
	}
	fmt.Fprintf(&b, "  pairs: %s", strings.Join(pairs, ", "))
	if len(m.Unfed) > 0 {
		var u []string
		for _, h := range m.Unfed {
			u = append(u, fmt.Sprintf("%s %s", h.Direction, h.Device))
		}
		fmt.Fprintf(&b, "\n  unfed: %s", strings.Join(u, ", "))
	}
	if len(m.Stranded) > 0 {
		fmt.Fprintf(&b, "\n  stranded: %s", strings.Join(m.Stranded, " "))
	}
	return b.String()
}

// Resolve plans the move of an endpoint from location from to location
// to: per direction, the boxes before and after, and the transfer between
// them. Moving within one location is a plan with nothing to do.
func (inv *Inventory) Resolve(from, to string) (*Move, error) {
	lf, err := inv.lookupLocation(from, "from")
	if err != nil {
		return nil, err
	}
	lt, err := inv.lookupLocation(to, "to")
	if err != nil {
		return nil, err
	}
	m := &Move{
		From:         from,
		To:           to,
		Ingress:      Path{Old: slices.Clone(lf.Ingress), New: slices.Clone(lt.Ingress)},
		Egress:       Path{Old: slices.Clone(lf.Egress), New: slices.Clone(lt.Egress)},
		Sources:      union(lf.Ingress, lf.Egress),
		Destinations: union(lt.Ingress, lt.Egress),
		Domains:      map[string]string{},
	}
	switch before, after := symmetric(lf), symmetric(lt); {
	case before && after:
		m.Case = SymmetricToSymmetric
	case before:
		m.Case = SymmetricToAsymmetric
	case after:
		m.Case = AsymmetricToSymmetric
	default:
		m.Case = AsymmetricToAsymmetric
	}
	for _, s := range m.Sources {
		if slices.Contains(m.Destinations, s) {
			m.Keep = append(m.Keep, s)
		} else {
			m.Eliminate = append(m.Eliminate, s)
		}
	}
	for _, d := range []Direction{Ingress, Egress} {
		old := lf.path(d)
		for _, dst := range lt.path(d) {
			if slices.Contains(old, dst) {
				continue // it has seen this direction all along
			}
			feeders := inv.compatible(old, dst)
			if len(feeders) == 0 {
				if slices.Contains(m.Sources, dst) {
					continue // it holds the session already; nothing better exists
				}
				feeders = inv.compatible(lf.path(d.other()), dst)
			}
			if len(feeders) == 0 {
				m.Unfed = append(m.Unfed, Hop{Direction: d, Device: dst})
				continue
			}
			for _, src := range feeders {
				m.Pairs = append(m.Pairs, Pair{Direction: d, Source: src, Destination: dst})
			}
		}
	}
	for _, src := range m.Eliminate {
		if !slices.ContainsFunc(m.Pairs, func(p Pair) bool { return p.Source == src }) {
			m.Stranded = append(m.Stranded, src)
		}
	}
	for _, n := range union(m.Sources, m.Destinations) {
		m.Domains[n] = inv.DomainOf(n)
	}
	return m, nil
}

func (inv *Inventory) lookupLocation(name, which string) (Location, error) {
	i, ok := inv.locationIdx[name]
	if !ok {
		var names []string
		for _, l := range inv.locations {
			if len(names) == 20 {
				names = append(names, "...")
				break
			}
			names = append(names, l.Name)
		}
		return Location{}, fmt.Errorf("topology: %s: %w %q (known: %s)", which, ErrUnknownLocation, name, strings.Join(names, ", "))
	}
	return inv.locations[i], nil
}

// compatible filters boxes to those that may feed dst: the same role, or
// either without one.
func (inv *Inventory) compatible(boxes []string, dst string) []string {
	role := inv.role(dst)
	var out []string
	for _, b := range boxes {
		if r := inv.role(b); r == "" || role == "" || r == role {
			out = append(out, b)
		}
	}
	return out
}

func (inv *Inventory) role(name string) string {
	if i, ok := inv.deviceIdx[name]; ok {
		return inv.devices[i].Role
	}
	return ""
}

// symmetric: both directions cross the same set of boxes.
func symmetric(l Location) bool {
	if len(l.Ingress) != len(l.Egress) {
		return false
	}
	for _, n := range l.Ingress {
		if !slices.Contains(l.Egress, n) {
			return false
		}
	}
	return true
}

// union concatenates lists, dropping repeats, keeping first positions.
func union(lists ...[]string) []string {
	out := []string{}
	for _, l := range lists {
		for _, n := range l {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// DomainCrossing is a transfer between devices of different
// administrative domains.
type DomainCrossing struct {
	Source, Destination  string
	FromDomain, ToDomain string
	// Allowed: a domain rule lets state move from FromDomain to ToDomain.
	Allowed bool
}

func (c DomainCrossing) String() string {
	verdict := "not allowed (no domain rule)"
	if c.Allowed {
		verdict = "allowed by rule"
	}
	return fmt.Sprintf("%s (%s) -> %s (%s): %s", c.Source, orNone(c.FromDomain), c.Destination, orNone(c.ToDomain), verdict)
}

func orNone(d string) string {
	if d == "" {
		return "no domain"
	}
	return "domain " + d
}

// CrossDomain lists the move's source/destination pairs whose devices are
// in different domains, each once, with whether a rule allows it.
func (inv *Inventory) CrossDomain(m *Move) []DomainCrossing {
	var out []DomainCrossing
	seen := map[[2]string]bool{}
	for _, p := range m.Pairs {
		k := [2]string{p.Source, p.Destination}
		if seen[k] {
			continue
		}
		seen[k] = true
		fd, td := inv.DomainOf(p.Source), inv.DomainOf(p.Destination)
		if fd == td {
			continue
		}
		out = append(out, DomainCrossing{
			Source: p.Source, Destination: p.Destination,
			FromDomain: fd, ToDomain: td,
			Allowed: inv.Allowed(fd, td),
		})
	}
	return out
}
