package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
)

// Sentinel errors; the typed errors below wrap them.
var (
	// ErrInvalidRequest: the request itself is wrong (no endpoint, no
	// destination, a device on both lists where it cannot be).
	ErrInvalidRequest = errors.New("migrate: invalid request")
	// ErrCapacity: a destination has fewer free slots than sessions to move.
	ErrCapacity = errors.New("migrate: not enough free session slots at the destination")
	// ErrUnsupported: a destination cannot hold what the sessions carry.
	ErrUnsupported = errors.New("migrate: destination lacks features the sessions need")
	// ErrCrossDomain: state would cross administrative domains without a rule.
	ErrCrossDomain = errors.New("migrate: state would cross administrative domains")
	// ErrVerify: the read-back from a device does not match what was written.
	ErrVerify = errors.New("migrate: read-back verification failed")
	// ErrReadOnly: a destination cannot be written (read-only mapping or device).
	ErrReadOnly = errors.New("migrate: device is read-only")
	// ErrNoCheckpoint: an unplanned move found no replicated state.
	ErrNoCheckpoint = errors.New("migrate: no checkpoint of the source")
	// ErrAbandoned: a fault-injection hook stopped the engine as if the
	// process had died (tests only).
	ErrAbandoned = errors.New("migrate: abandoned")
)

// Kind is the kind of migration.
type Kind string

const (
	Planned   Kind = "planned"   // the endpoint is about to move; sources are reachable
	PreCopy   Kind = "precopy"   // planned, copied while traffic flows, short freeze
	Unplanned Kind = "unplanned" // the source is gone: install the last checkpoint
)

// Request asks for one endpoint's state to move.
type Request struct {
	// ID names the migration (journal key); generated when empty.
	ID string
	// Requester is who asked (user, API token name); audited.
	Requester string
	Kind      Kind
	// Endpoints select the sessions that move (see flow.Endpoint).
	Endpoints []flow.Endpoint
	// Sources are the devices on the old path, Destinations those on the new
	// path (inventory names; see topology.Move). Eliminate defaults to the
	// sources that are not destinations.
	Sources, Destinations, Eliminate []string
	// Feeders says which sources feed a destination (topology.Move's
	// pairs: a NAT on the new path takes the old NAT's state, a firewall the
	// old firewall's). A destination not listed takes every source's.
	Feeders map[string][]string
	// Domains gives each device's administrative domain (from the
	// inventory); a device not listed reports its own in its capabilities.
	Domains map[string]string
	// AllowDomains lists the (from, to) domain pairs state may cross.
	AllowDomains []DomainRule
	// Transforms rename location data per destination device.
	Transforms map[string]Transform
	// Partial moves what fits (capacity) and what the destination can hold,
	// and leaves the rest at the source, instead of refusing.
	Partial bool
	// StripUnsupported drops data a destination cannot hold (TCP window
	// data, labels, marks, ALG data) instead of refusing; the report lists
	// what was lost.
	StripUnsupported bool
	// ConfirmTimeout is the devices' confirm timeout (default 120 s).
	ConfirmTimeout time.Duration
	// KeepSource copies without eliminating at the sources.
	KeepSource bool
	// DryRun stops after negotiation: the report holds the plan.
	DryRun bool
	// Cutover is called after the destinations confirmed and before the
	// sources are eliminated (PreCopy: inside the freeze window, before the
	// final delta). An error aborts: before confirm the migration rolls back.
	Cutover func(ctx context.Context) error
	// PreCopy tunes Kind PreCopy.
	PreCopy PreCopyOptions
	// Progress receives the migration's events (may be nil). It is called
	// from the engine's goroutine: return quickly.
	Progress func(Event)
}

// DomainRule allows state to move from one administrative domain to another.
type DomainRule struct{ From, To string }

// Transform rewrites a session's location for a destination, whose zones,
// interfaces and VRFs may be named differently from the source's.
type Transform struct {
	ZoneIDs    map[uint16]uint16 `json:"zone-ids,omitempty"`   // conntrack zone (part of the session id)
	Zones      map[string]string `json:"zones,omitempty"`      // security zones (ingress/egress)
	Interfaces map[string]string `json:"interfaces,omitempty"` // ingress/egress interfaces
	VRFs       map[string]string `json:"vrfs,omitempty"`
}

func (r *Request) validate() error {
	var bad []string
	if len(r.Endpoints) == 0 {
		bad = append(bad, "no endpoint (address or id) given")
	}
	for i, e := range r.Endpoints {
		if !e.Address.IsValid() && e.ID == "" {
			bad = append(bad, fmt.Sprintf("endpoint %d has neither address nor id", i))
		}
	}
	if len(r.Sources) == 0 && r.Kind != Unplanned {
		bad = append(bad, "no source device")
	}
	if len(r.Destinations) == 0 {
		bad = append(bad, "no destination device")
	}
	for _, n := range append(append(append([]string{}, r.Sources...), r.Destinations...), r.Eliminate...) {
		if strings.TrimSpace(n) == "" {
			bad = append(bad, "empty device name")
		}
	}
	for _, n := range r.Eliminate {
		if !contains(r.Sources, n) {
			bad = append(bad, fmt.Sprintf("eliminate names %q, which is not a source", n))
		}
	}
	for dst, srcs := range r.Feeders {
		if !contains(r.Destinations, dst) {
			bad = append(bad, fmt.Sprintf("feeders name %q, which is not a destination", dst))
		}
		for _, src := range srcs {
			if !contains(r.Sources, src) {
				bad = append(bad, fmt.Sprintf("feeders of %q name %q, which is not a source", dst, src))
			}
		}
	}
	switch r.Kind {
	case "", Planned, PreCopy, Unplanned:
	default:
		bad = append(bad, fmt.Sprintf("unknown kind %q", r.Kind))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidRequest, strings.Join(bad, "; "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// endpointStrings renders endpoints for the journal and the report.
func endpointStrings(es []flow.Endpoint) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		switch {
		case e.Address.IsValid() && e.ID != "":
			out = append(out, e.Address.String()+"|"+e.ID)
		case e.Address.IsValid():
			out = append(out, e.Address.String())
		default:
			out = append(out, "id:"+e.ID)
		}
	}
	return out
}

// ParseEndpoint reads an endpoint as the CLI and the API spell it: an IP
// address, "id:NAME" for an owner identifier, or "ADDR|NAME" for both.
func ParseEndpoint(s string) (flow.Endpoint, error) {
	var e flow.Endpoint
	addr, id, both := strings.Cut(s, "|")
	if !both {
		if rest, ok := strings.CutPrefix(s, "id:"); ok {
			if rest == "" {
				return e, fmt.Errorf("%w: endpoint %q: empty id", ErrInvalidRequest, s)
			}
			return flow.Endpoint{ID: rest}, nil
		}
		addr = s
	}
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return e, fmt.Errorf("%w: endpoint %q: not an IP address (use id:NAME for an owner id)", ErrInvalidRequest, s)
	}
	return flow.Endpoint{Address: a, ID: id}, nil
}
