package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/topology"
)

// Plan is what `sami migrate --dry-run` found: the path change, the
// sessions at each source, the negotiation with each destination and what
// a real run would write. Nothing of it was written.
type Plan struct {
	Endpoints    []string          `json:"endpoints"`
	Kind         migrate.Kind      `json:"kind"`
	Move         *topology.Move    `json:"move"`
	Sources      []PlanSource      `json:"sources"`
	Destinations []PlanDestination `json:"destinations"`
	Crossings    []Crossing        `json:"domain-crossings,omitempty"`
	// Losses: the source/destination driver pairs that lose canonical
	// fields (capability.go).
	Losses []PairLoss `json:"lost-fields,omitempty"`
	// ConfirmTimeout of the confirmed commits a run would make.
	ConfirmTimeout   time.Duration `json:"confirm-timeout"`
	KeepSource       bool          `json:"keep-source,omitempty"`
	Partial          bool          `json:"partial,omitempty"`
	StripUnsupported bool          `json:"strip-unsupported,omitempty"`
	// Refused is the negotiation's refusal ("" when a run would proceed).
	Refused string `json:"refused,omitempty"`
}

// Crossing is a source/destination pair in different administrative
// domains.
type Crossing struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	FromDomain  string `json:"from-domain"`
	ToDomain    string `json:"to-domain"`
	Allowed     bool   `json:"allowed"`
}

// CrossingsOf converts the inventory's crossings.
func CrossingsOf(cs []topology.DomainCrossing) []Crossing {
	var out []Crossing
	for _, c := range cs {
		out = append(out, Crossing{Source: c.Source, Destination: c.Destination, FromDomain: c.FromDomain, ToDomain: c.ToDomain, Allowed: c.Allowed})
	}
	return out
}

// PlanSource is an old-path device.
type PlanSource struct {
	Device string `json:"device"`
	Domain string `json:"domain,omitempty"`
	// Sessions of the endpoint it holds now (-1: not read).
	Sessions int `json:"sessions"`
	// Eliminate: its copy is removed after the destinations confirm.
	Eliminate bool `json:"eliminate"`
}

// PlanDestination is a new-path device.
type PlanDestination struct {
	Device string   `json:"device"`
	Domain string   `json:"domain,omitempty"`
	FedBy  []string `json:"fed-by"`
	// Sessions that would be written to it (new to it).
	Sessions int `json:"sessions"`
	// Free slots it reported (-1: unknown).
	Free int64 `json:"free"`
	// Fits: Sessions <= Free, or Free unknown.
	Fits bool `json:"fits"`
}

// WritePlan writes a dry run's plan.
func WritePlan(w io.Writer, f Format, p *Plan) error {
	if f != Table {
		return writeData(w, f, p)
	}
	m := p.Move
	fmt.Fprintf(w, "Plan (dry run, nothing written): %s %s from %s to %s (%s)\n",
		orDash(string(p.Kind)), strings.Join(p.Endpoints, ", "), m.From, m.To, m.Case)
	for _, d := range []topology.Direction{topology.Ingress, topology.Egress} {
		path := m.Path(d)
		fmt.Fprintf(w, "  %-8s %s -> %s (%s)\n", d.String()+":", list(path.Old), list(path.New), m.Fanout(d))
	}
	if len(m.Unfed) > 0 {
		var u []string
		for _, h := range m.Unfed {
			u = append(u, h.Device+" ("+h.Direction.String()+")")
		}
		fmt.Fprintf(w, "  unfed: %s (no old box of their role: they see the flows mid-stream)\n", strings.Join(u, ", "))
	}
	fmt.Fprintln(w)
	t := newTable(w, "SOURCE", "DOMAIN", "SESSIONS", "AFTER")
	for _, s := range p.Sources {
		after := "keeps its state (also on the new path)"
		switch {
		case s.Eliminate && p.KeepSource:
			after = "kept (--keep-source)"
		case s.Eliminate:
			after = fmt.Sprintf("remove %s after the destinations confirm", count(s.Sessions))
		}
		t.row(s.Device, s.Domain, count(s.Sessions), after)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = newTable(w, "DESTINATION", "DOMAIN", "FED BY", "SESSIONS", "FREE", "CAPACITY", "WOULD WRITE")
	for _, d := range p.Destinations {
		capc := "ok"
		if !d.Fits {
			capc = "TOO SMALL"
			if p.Partial {
				capc = "partial"
			}
		}
		write := fmt.Sprintf("stage %d, confirmed commit (timeout %s), verify, confirm", d.Sessions, p.ConfirmTimeout)
		if d.Sessions == 0 {
			write = "nothing"
		}
		t.row(d.Device, d.Domain, list(d.FedBy), strconv.Itoa(d.Sessions), free(d.Free), capc, write)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := writeLosses(w, p.Losses); err != nil {
		return err
	}
	if len(p.Crossings) == 0 {
		fmt.Fprintln(w, "Domain crossings: none")
	}
	for _, c := range p.Crossings {
		rule := "allowed by a domain rule"
		if !c.Allowed {
			rule = "NOT ALLOWED (no domain rule)"
		}
		fmt.Fprintf(w, "Domain crossing: %s (%s) -> %s (%s): %s\n", c.Source, c.FromDomain, c.Destination, c.ToDomain, rule)
	}
	if p.Refused != "" {
		_, err := fmt.Fprintf(w, "Result: refused: %s\n", p.Refused)
		return err
	}
	_, err := fmt.Fprintln(w, "Result: a run would proceed")
	return err
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, " ")
}

func count(n int) string {
	if n < 0 {
		return "unknown"
	}
	return strconv.Itoa(n)
}
