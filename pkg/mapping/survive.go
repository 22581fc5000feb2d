package mapping

import (
	"fmt"
	"slices"
	"strings"
)

// Report says which canonical fields survive a move from one vendor
// mapping to another: what the source provides and the destination can
// hold (Kept), what the source provides and the destination cannot
// (Lost, with the reason), and what the source never provides (Missing).
// Counters are left out: they are never written.
type Report struct {
	From, To string
	// Writable is false when the destination mapping is read-only: then
	// nothing can be moved to it and everything provided is Lost.
	Writable bool
	Kept     []string
	Lost     []Loss
	Missing  []string
}

// Loss is a canonical field the destination cannot hold.
type Loss struct {
	Path, Reason string
}

// Loses reports whether the move loses any field the source provides.
func (r Report) Loses() bool { return len(r.Lost) > 0 }

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s: %d fields kept, %d lost", r.From, r.To, len(r.Kept), len(r.Lost))
	if !r.Writable {
		fmt.Fprintf(&b, " (%s is read-only)", r.To)
	}
	for _, l := range r.Lost {
		fmt.Fprintf(&b, "\n  lost %s: %s", l.Path, l.Reason)
	}
	return b.String()
}

// Survives compares what from provides with what to can write.
func Survives(from, to *Mapping) Report {
	r := Report{From: from.Name, To: to.Name, Writable: to.Writable()}
	prov, carry := provides(from), carries(to)
	cs, _ := canon()
	var all []string
	if cs != nil {
		all = append(all, cs.paths...)
	}
	for p := range prov {
		if !slices.Contains(all, p) {
			all = append(all, p) // vendor-parameter/NAME
		}
	}
	slices.Sort(all)
	for _, p := range all {
		if strings.HasPrefix(p, "counters/") {
			continue
		}
		switch {
		case !prov[p]:
			if !strings.HasPrefix(p, vendorParamPrefix) {
				r.Missing = append(r.Missing, p)
			}
		case carry[p] || (strings.HasPrefix(p, vendorParamPrefix) && carry["vendor-parameter"]):
			r.Kept = append(r.Kept, p)
		default:
			reason := "not mapped by " + to.Name
			switch {
			case !r.Writable:
				reason = to.Name + " is read-only"
			case to.UnsupportedFor(p) != nil:
				reason = to.UnsupportedFor(p).Reason
			case strings.HasPrefix(p, vendorParamPrefix):
				reason = to.Name + " has no place for vendor parameters"
			}
			r.Lost = append(r.Lost, Loss{Path: p, Reason: reason})
		}
	}
	return r
}

// derived lists what each derivation fills.
var derived = map[Derivation][]string{
	DeriveNATFromTuples: {"nat/source/internal-src-address", "nat/source/internal-src-port", "nat/source/external-src-address",
		"nat/source/external-src-port", "nat/destination/external-dst-address", "nat/destination/external-dst-port",
		"nat/destination/internal-dst-address", "nat/destination/internal-dst-port"},
	DeriveReplyFromNAT: {"reply/source-address", "reply/source-port", "reply/destination-address", "reply/destination-port"},
}

func provides(m *Mapping) map[string]bool {
	out := map[string]bool{"id": true, "address-family": true}
	for _, f := range m.Fields {
		if f.Reads() {
			out[f.Target] = true
		}
	}
	for _, d := range m.Derive {
		for _, p := range derived[d] {
			out[p] = true
		}
	}
	if m.Identity {
		out["vendor-parameter"] = true
	}
	return out
}

func carries(m *Mapping) map[string]bool {
	out := map[string]bool{}
	if !m.Writable() {
		return out
	}
	out["id"], out["address-family"] = true, true
	for _, f := range m.Fields {
		if f.Writes() {
			out[f.Target] = true
		}
	}
	// a destination that derives the reply on read holds it implicitly
	if m.HasDerive(DeriveReplyFromNAT) {
		for _, p := range derived[DeriveReplyFromNAT] {
			out[p] = true
		}
	}
	if m.Identity {
		out["vendor-parameter"] = true
	}
	return out
}
