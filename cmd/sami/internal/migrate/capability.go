package migrate

import (
	"strings"

	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/sami-netops/sami/pkg/topology"
)

// mappingOf finds a driver's declarative mapping (plugins.Mapping).
type mappingOf func(driver string) (*mapping.Mapping, error)

// losses is the capability report of a plan: for each (source driver,
// destination driver) pair among pairs (source, destination devices), the
// canonical fields the move loses, from the drivers' mappings alone (no
// device is contacted). Pairs that lose nothing are left out.
func losses(inv *topology.Inventory, pairs []render.DevicePair, lookup mappingOf) []render.PairLoss {
	var out []render.PairLoss
	at := map[[2]string]int{} // driver pair -> index in out, -1: loses nothing
	for _, dp := range pairs {
		k := [2]string{driverOf(inv, dp.Source), driverOf(inv, dp.Destination)}
		i, seen := at[k]
		if !seen {
			pl, loses := compare(k[0], k[1], lookup)
			i = -1
			if loses {
				i = len(out)
				out = append(out, pl)
			}
			at[k] = i
		}
		if i >= 0 {
			out[i].Devices = append(out[i].Devices, dp)
		}
	}
	return out
}

// driverOf is the device's driver (the inventory fills its default in).
func driverOf(inv *topology.Inventory, name string) string {
	d, _ := inv.Device(name)
	return d.Driver
}

// compare runs mapping.Survives and groups the lost leaves by the mapping
// declaration that explains them, so a table row is "tcp (16 fields)"
// with its reason rather than sixteen rows.
func compare(from, to string, lookup mappingOf) (render.PairLoss, bool) {
	pl := render.PairLoss{FromDriver: from, ToDriver: to}
	fm, err := lookup(from)
	if err == nil {
		var tm *mapping.Mapping
		if tm, err = lookup(to); err == nil {
			r := mapping.Survives(fm, tm)
			pl.Kept = len(r.Kept)
			g := grouper{}
			for _, p := range r.Missing {
				field, reason := p, "" // Why says it all
				if u := fm.UnsupportedFor(p); u != nil {
					field, reason = u.Path, u.Reason
				}
				g.add(render.NotInSource, field, reason, p)
			}
			for _, l := range r.Lost {
				field := l.Path
				switch u := tm.UnsupportedFor(l.Path); {
				case !r.Writable:
					field = "all"
				case u != nil:
					field = u.Path
				case strings.HasPrefix(l.Path, "vendor-parameter/"):
					field = "vendor-parameter"
				}
				reason := l.Reason
				if reason == "not mapped by "+to {
					reason = "" // Why says it all
				}
				g.add(render.NotWritable, field, reason, l.Path)
			}
			pl.Lost = g.out
			return pl, len(pl.Lost) > 0
		}
	}
	pl.Unchecked = err.Error()
	return pl, true
}

// grouper collects leaves under (why, field, reason), in first-seen order.
type grouper struct {
	out []render.LostFields
	at  map[[3]string]int
}

func (g *grouper) add(why render.Why, field, reason, leaf string) {
	if g.at == nil {
		g.at = map[[3]string]int{}
	}
	k := [3]string{string(why), field, reason}
	i, ok := g.at[k]
	if !ok {
		i = len(g.out)
		g.at[k] = i
		g.out = append(g.out, render.LostFields{Field: field, Why: why, Reason: reason})
	}
	g.out[i].Leaves = append(g.out[i].Leaves, leaf)
}
