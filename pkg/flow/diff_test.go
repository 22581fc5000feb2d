package flow_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

// summary is the part of a Result the table compares: ids instead of
// sessions, sentinels instead of error texts.
type summary struct {
	Added, Removed []string
	Changed        map[string][]flow.FieldChange
	Errors         []string
}

func summarize(r flow.Result) summary {
	var s summary
	id := func(x *flow.Session) string {
		if x.Id != nil {
			return *x.Id
		}
		k, _ := flow.Key(x)
		return k
	}
	for _, x := range r.Added {
		s.Added = append(s.Added, id(x))
	}
	for _, x := range r.Removed {
		s.Removed = append(s.Removed, id(x))
	}
	for _, c := range r.Changed {
		if s.Changed == nil {
			s.Changed = map[string][]flow.FieldChange{}
		}
		s.Changed[c.ID] = c.Fields
	}
	for _, err := range r.Errors {
		for _, sentinel := range []error{flow.ErrNilSession, flow.ErrDuplicateID, flow.ErrMissing, flow.ErrInvalid} {
			if errors.Is(err, sentinel) {
				s.Errors = append(s.Errors, sentinel.Error())
			}
		}
	}
	return s
}

func TestDiff(t *testing.T) {
	a := newSession(tcp, "10.0.0.5", 40000, "198.51.100.7", 443, withKey(), withMark(7), withRemaining(300),
		withSNAT("10.0.0.5", "203.0.113.9", 61000))
	b := newSession(udp, "10.0.0.5", 5353, "224.0.0.251", 5353, withKey())
	c := icmpSession(icmpv6, "2001:db8::5", "2001:db8::1", 9, 128, 0, withKey())
	idA, idB, idC := a.GetId(), b.GetId(), c.GetId()
	mod := func(s *flow.Session, f func(*flow.Session)) *flow.Session {
		s = clone(s)
		f(s)
		return s
	}
	list := func(s ...*flow.Session) []*flow.Session { return s }

	tests := []struct {
		name string
		a, b []*flow.Session
		opts []flow.DiffOption
		want summary
	}{
		{name: "equal", a: list(a, b, c), b: list(c, a, b)},
		{name: "both empty"},
		{name: "added", a: list(a), b: list(a, c, b), want: summary{Added: []string{idB, idC}}},
		{name: "removed", a: list(c, b, a), b: list(b), want: summary{Removed: []string{idC, idA}}}, // sorted as strings: "0/58/" < "0/6/",
		{name: "mark changed", a: list(a, b), b: list(b, mod(a, func(s *flow.Session) { *s.Mark = 8 })),
			want: summary{Changed: map[string][]flow.FieldChange{idA: {{Path: "mark", A: uint32(7), B: uint32(8)}}}}},
		{name: "nat external address and port changed", a: list(a), b: list(mod(a, func(s *flow.Session) {
			*s.Nat.Source.ExternalSrcAddress = "203.0.113.10"
			*s.Nat.Source.ExternalSrcPort = 61001
		})), want: summary{Changed: map[string][]flow.FieldChange{idA: {
			{Path: "nat/source/external-src-address", A: "203.0.113.10" /* replaced below */, B: "203.0.113.10"},
			{Path: "nat/source/external-src-port", A: uint16(61000), B: uint16(61001)},
		}}}},
		{name: "presence container removed", a: list(a), b: list(mod(a, func(s *flow.Session) { s.Nat = nil })),
			want: summary{Changed: map[string][]flow.FieldChange{idA: {
				{Path: "nat/source", A: true},
				{Path: "nat/source/external-src-address", A: "203.0.113.9"},
				{Path: "nat/source/external-src-port", A: uint16(61000)},
				{Path: "nat/source/internal-src-address", A: "10.0.0.5"},
				{Path: "nat/source/internal-src-port", A: uint16(40000)},
			}}}},
		{name: "leaf-list changed", a: list(a), b: list(mod(a, func(s *flow.Session) {
			s.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{assured, seenReply}
			s.Label = []uint8{9, 3}
		})), want: summary{Changed: map[string][]flow.FieldChange{idA: {
			{Path: "label", B: []uint8{3, 9}},
			{Path: "status", B: []string{"assured", "seen-reply"}},
		}}}},
		{name: "vendor parameter", a: list(mod(a, func(s *flow.Session) { s.GetOrCreateVendorParameter("acme", "mtu").Value = ygot.String("1500") })),
			b: list(mod(a, func(s *flow.Session) { s.GetOrCreateVendorParameter("acme", "mtu").Value = ygot.String("9000") })),
			want: summary{Changed: map[string][]flow.FieldChange{idA: {
				{Path: "vendor-parameter[vendor=acme][name=mtu]/value", A: "1500", B: "9000"},
			}}}},
		{name: "enum changed", a: list(a), b: list(mod(a, func(s *flow.Session) {
			s.Initiator = flowstate.SamiFlowState_FlowState_Sessions_Session_Initiator_peer
		})), want: summary{Changed: map[string][]flow.FieldChange{idA: {{Path: "initiator", B: "peer"}}}}},
		{name: "remaining within tolerance", a: list(a), b: list(mod(a, func(s *flow.Session) { *s.Timers.Remaining = 298 }))},
		{name: "remaining beyond tolerance", a: list(a), b: list(mod(a, func(s *flow.Session) { *s.Timers.Remaining = 297 })),
			want: summary{Changed: map[string][]flow.FieldChange{idA: {{Path: "timers/remaining", A: uint32(300), B: uint32(297)}}}}},
		{name: "remaining grew beyond tolerance", a: list(a), b: list(mod(a, func(s *flow.Session) { *s.Timers.Remaining = 3600 })),
			want: summary{Changed: map[string][]flow.FieldChange{idA: {{Path: "timers/remaining", A: uint32(300), B: uint32(3600)}}}}},
		{name: "remaining with a wider tolerance", a: list(a), b: list(mod(a, func(s *flow.Session) { *s.Timers.Remaining = 291 })),
			opts: []flow.DiffOption{flow.WithTimeoutTolerance(10 * time.Second)}},
		{name: "remaining with zero tolerance", a: list(a), b: list(mod(a, func(s *flow.Session) { *s.Timers.Remaining = 299 })),
			opts: []flow.DiffOption{flow.WithTimeoutTolerance(0)},
			want: summary{Changed: map[string][]flow.FieldChange{idA: {{Path: "timers/remaining", A: uint32(300), B: uint32(299)}}}}},
		{name: "remaining lost", a: list(a), b: list(mod(a, func(s *flow.Session) { s.Timers = nil })),
			want: summary{Changed: map[string][]flow.FieldChange{idA: {{Path: "timers/remaining", A: uint32(300)}}}}},
		{name: "remaining and mark", a: list(a), b: list(mod(a, func(s *flow.Session) { *s.Timers.Remaining, *s.Mark = 200, 1 })),
			want: summary{Changed: map[string][]flow.FieldChange{idA: {
				{Path: "mark", A: uint32(7), B: uint32(1)},
				{Path: "timers/remaining", A: uint32(300), B: uint32(200)},
			}}}},
		{name: "volatile leaves ignored", a: list(a), b: list(mod(a, func(s *flow.Session) {
			s.GetOrCreateCounters().GetOrCreateOriginal().Packets = ygot.Uint64(12)
			s.Timers.LastSeen = ygot.String("2026-11-21T08:00:00Z")
		}))},
		{name: "equivalent spellings", a: list(c), b: list(mod(c, func(s *flow.Session) {
			*s.Original.SourceAddress = "2001:DB8:0::5"
			s.ZoneId = ygot.Uint16(0)
		}))},
		{name: "keyed by derived key without id", a: list(mod(b, func(s *flow.Session) { s.Id = nil })), b: list(mod(b, func(s *flow.Session) { *s.Original.DestinationPort = 5354; s.Id = nil })),
			want: summary{Added: []string{"0/17/10.0.0.5/5353/224.0.0.251/5354"}, Removed: []string{idB}}},
		{name: "duplicate id", a: list(a, a, b), b: list(a, b),
			want: summary{Errors: []string{flow.ErrDuplicateID.Error()}}},
		{name: "nil session", a: list(a, nil), b: list(a),
			want: summary{Errors: []string{flow.ErrNilSession.Error()}}},
		{name: "no id, no key", a: list(&flow.Session{}), want: summary{Errors: []string{flow.ErrMissing.Error()}}},
		{name: "undefined enum value", a: list(a), b: list(mod(a, func(s *flow.Session) { s.Initiator = 42 })),
			want: summary{Errors: []string{flow.ErrInvalid.Error()}}},
	}
	// The table cannot refer to the values it changes; fix up the one entry
	// whose A differs from B only in this way.
	tests[5].want.Changed[idA][0].A = "203.0.113.9"

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := flow.Diff(tt.a, tt.b, tt.opts...)
			if diff := cmp.Diff(tt.want, summarize(r)); diff != "" {
				t.Errorf("Diff mismatch (-want +got):\n%s", diff)
			}
			if r.Empty() != cmp.Equal(tt.want, summary{}) {
				t.Errorf("Empty() = %v", r.Empty())
			}
			for _, c := range r.Changed {
				if c.A == nil || c.B == nil || c.A.GetId() != c.ID && c.B.GetId() != c.ID {
					t.Errorf("change %q does not carry its sessions", c.ID)
				}
			}
		})
	}
}

// TestDiffEveryLeaf checks that Diff reports exactly the leaf that changed,
// for every leaf of the model, and agrees with the digest.
func TestDiffEveryLeaf(t *testing.T) {
	full := fullSession(t)
	for i := 0; ; i++ {
		s := clone(full)
		path, ok := changeLeaf(s, i)
		if !ok {
			break
		}
		r := flow.Diff([]*flow.Session{full}, []*flow.Session{s})
		if len(r.Errors) > 0 || len(r.Added) > 0 || len(r.Removed) > 0 {
			if path == "id" && len(r.Added) == 1 && len(r.Removed) == 1 {
				continue // a changed id is another session
			}
			t.Errorf("%s: unexpected %+v", path, summarize(r))
			continue
		}
		digestChanged := mustDigest(t, full) != mustDigest(t, s)
		switch {
		case isVolatile(path):
			// Ignored; remaining changed by one second is within the
			// tolerance.
			if len(r.Changed) != 0 {
				t.Errorf("%s: volatile leaf reported: %+v", path, r.Changed[0].Fields)
			}
		case len(r.Changed) != 1 || !digestChanged:
			t.Errorf("%s: %d changes, digest changed %v", path, len(r.Changed), digestChanged)
		default:
			var paths []string
			for _, f := range r.Changed[0].Fields {
				paths = append(paths, stripKeys(f.Path))
			}
			if !slices.Contains(paths, path) {
				t.Errorf("%s: changed fields %v", path, paths)
			}
		}
	}
}

// stripKeys turns "list[k=v]/leaf" into "list/leaf".
func stripKeys(p string) string {
	var b strings.Builder
	depth := 0
	for _, r := range p {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestDiffDeterministic(t *testing.T) {
	a := population(300)
	b := make([]*flow.Session, 0, len(a))
	for i, s := range a {
		switch i % 7 {
		case 0: // removed
		case 1:
			s = clone(s)
			*s.Mark += 100
			b = append(b, s)
		default:
			b = append(b, s)
		}
	}
	b = append(b, realistic(1000), realistic(1001))
	slices.Reverse(b)
	first := flow.Diff(a, b)
	if len(first.Removed) == 0 || len(first.Changed) == 0 || len(first.Added) != 2 {
		t.Fatalf("unexpected result: %d added, %d removed, %d changed", len(first.Added), len(first.Removed), len(first.Changed))
	}
	ids := func(list []*flow.Session) []string {
		var out []string
		for _, s := range list {
			out = append(out, s.GetId())
		}
		return out
	}
	if !slices.IsSorted(ids(first.Removed)) || !slices.IsSorted(ids(first.Added)) ||
		!slices.IsSortedFunc(first.Changed, func(x, y flow.Change) int { return strings.Compare(x.ID, y.ID) }) {
		t.Error("result not sorted by id")
	}
	for range 3 {
		if diff := cmp.Diff(summarize(first), summarize(flow.Diff(a, b))); diff != "" {
			t.Fatalf("Diff not deterministic:\n%s", diff)
		}
	}
}
