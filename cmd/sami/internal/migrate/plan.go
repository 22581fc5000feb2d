package migrate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

// defaultConfirmTimeout is the engine's (migrate.WithConfirmTimeout).
const defaultConfirmTimeout = 120 * time.Second

// Plan resolves t and looks without writing: the endpoint's sessions at
// each source, each destination's free slots against what it would take,
// and the engine's own negotiation (domains, writable, confirmed commit).
// A refusal is returned with the plan that explains it.
func Plan(ctx context.Context, o *orchestrator.Orchestrator, t orchestrator.Trigger, endpoints []string) (*render.Plan, error) {
	req, mv, err := o.Plan(t)
	if err != nil {
		return nil, err
	}
	inv := o.Inventory()
	p := &render.Plan{
		Endpoints: endpoints, Kind: t.Kind, Move: mv, Crossings: render.CrossingsOf(inv.CrossDomain(mv)),
		ConfirmTimeout: t.ConfirmTimeout, KeepSource: t.KeepSource, Partial: t.Partial, StripUnsupported: t.StripUnsupported,
	}
	if p.ConfirmTimeout == 0 {
		p.ConfirmTimeout = defaultConfirmTimeout
	}
	p.Losses = losses(inv, pairsOf(req, mv), plugins.Mapping)
	m := flow.NewMatcher(t.Endpoints...)
	held := make(map[string]map[string]bool) // source -> session ids
	for _, src := range mv.Sources {
		ps := render.PlanSource{Device: src, Domain: mv.Domains[src], Sessions: -1, Eliminate: slices.Contains(mv.Eliminate, src)}
		ids, err := readIDs(ctx, o, src, m)
		switch {
		case err != nil && t.Kind == migrate.Unplanned:
			// The source is gone: its checkpoint will be installed.
		case err != nil:
			return nil, fmt.Errorf("plan: reading %s: %w", src, err)
		default:
			held[src] = ids
			ps.Sessions = len(ids)
		}
		p.Sources = append(p.Sources, ps)
	}
	var refusal error
	for _, dst := range mv.Destinations {
		feeders := req.Feeders[dst]
		if len(feeders) == 0 {
			feeders = mv.Sources
		}
		need := make(map[string]bool)
		for _, src := range feeders {
			for id := range held[src] {
				if !held[dst][id] { // a source that stays on the path keeps its own
					need[id] = true
				}
			}
		}
		pd := render.PlanDestination{Device: dst, Domain: mv.Domains[dst], FedBy: feeders, Sessions: len(need), Free: -1, Fits: true}
		d, err := o.Open(ctx, dst)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		c, err := d.Capabilities(ctx)
		d.Close()
		if err != nil {
			return nil, fmt.Errorf("plan: capabilities of %s: %w", dst, err)
		}
		if free, known := c.Free(); known {
			pd.Free = int64(free)
			pd.Fits = uint64(len(need)) <= free
		}
		if !pd.Fits && !t.Partial && refusal == nil {
			refusal = &migrate.CapacityError{Device: dst, Need: uint64(len(need)), Free: uint64(pd.Free)}
		}
		p.Destinations = append(p.Destinations, pd)
	}
	// The engine's negotiation decides the rest (and says it its way).
	req.DryRun, req.Progress, req.Cutover = true, nil, nil
	if _, err := o.Engine().Migrate(ctx, req); err != nil && refusal == nil {
		refusal = err
	}
	if refusal != nil {
		p.Refused = refusal.Error()
	}
	return p, refusal
}

// pairsOf lists the (source, destination) pairs of the move: each
// destination with the sources that feed it.
func pairsOf(req migrate.Request, mv *topology.Move) []render.DevicePair {
	var out []render.DevicePair
	for _, dst := range mv.Destinations {
		feeders := req.Feeders[dst]
		if len(feeders) == 0 {
			feeders = mv.Sources
		}
		for _, src := range feeders {
			if src != dst { // a box on both paths moves nothing to itself
				out = append(out, render.DevicePair{Source: src, Destination: dst})
			}
		}
	}
	return out
}

func readIDs(ctx context.Context, o *orchestrator.Orchestrator, name string, m *flow.Matcher) (map[string]bool, error) {
	d, err := o.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ids := make(map[string]bool)
	err = d.Read(ctx, m, func(s *flow.Session) error {
		if err := flow.SetKey(s); err != nil {
			return err
		}
		ids[s.GetId()] = true
		return nil
	})
	return ids, err
}
