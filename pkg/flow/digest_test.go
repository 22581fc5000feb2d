package flow_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
)

func mustDigest(t testing.TB, sessions ...*flow.Session) flow.Digest {
	t.Helper()
	d, err := flow.DigestSessions(sessions)
	if err != nil {
		t.Fatalf("DigestSessions: %v", err)
	}
	return d
}

func TestDigestOrderIndependent(t *testing.T) {
	sessions := population(200)
	want := mustDigest(t, sessions...)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		shuffled := slices.Clone(sessions)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := mustDigest(t, shuffled...); got != want {
			t.Errorf("shuffle %d: digest %v, want %v", i, got, want)
		}
	}
	// Merging shards gives the digest of the whole set.
	var a, b flow.Digester
	for i, s := range sessions {
		d := &a
		if i%3 == 0 {
			d = &b
		}
		if err := d.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	a.Merge(&b)
	if a.Sum() != want || a.Count() != len(sessions) {
		t.Errorf("merged shards: %v (%d sessions), want %v (%d)", a.Sum(), a.Count(), want, len(sessions))
	}
}

func TestDigestSetSemantics(t *testing.T) {
	a, b, c := realistic(1), realistic(2), realistic(3)
	tests := []struct {
		name string
		x, y []*flow.Session
	}{
		{"duplicate does not cancel", []*flow.Session{a, a}, nil},
		{"duplicate is not a single", []*flow.Session{a, a}, []*flow.Session{a}},
		{"duplicates with others", []*flow.Session{a, a, b}, []*flow.Session{b}},
		{"pairs", []*flow.Session{a, a, b, b}, []*flow.Session{c, c}},
		{"missing session", []*flow.Session{a, b, c}, []*flow.Session{a, b}},
		{"swapped session", []*flow.Session{a, b}, []*flow.Session{a, c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if mustDigest(t, tt.x...) == mustDigest(t, tt.y...) {
				t.Error("digests are equal")
			}
		})
	}
	var d flow.Digester
	if d.Count() != 0 || d.Sum() != mustDigest(t) {
		t.Error("zero Digester is not the empty set")
	}
	_ = d.Add(a)
	d.Reset()
	if d.Count() != 0 || d.Sum() != mustDigest(t) {
		t.Error("Reset did not empty the set")
	}
}

// TestDigestEveryLeaf changes and removes every leaf of a fully populated
// session, one at a time: the digest must change, except for the volatile
// leaves, which must not affect it.
func TestDigestEveryLeaf(t *testing.T) {
	full := fullSession(t)
	base := mustDigest(t, full)
	for _, m := range []struct {
		name string
		fn   mutation
	}{{"change", changeLeaf}, {"remove", removeLeaf}} {
		n := 0
		for i := 0; ; i++ {
			s := clone(full)
			path, ok := m.fn(s, i)
			if !ok {
				break
			}
			n++
			changed := mustDigest(t, s) != base
			if want := !isVolatile(path); changed != want {
				t.Errorf("%s %s: digest changed = %v, want %v", m.name, path, changed, want)
			}
		}
		t.Logf("%s: %d leaves", m.name, n)
		if n < 60 {
			t.Errorf("%s: only %d leaves visited", m.name, n)
		}
	}
}

func TestDigestSensitivity(t *testing.T) {
	base := realistic(7)
	tests := []struct {
		name string
		mod  func(*flow.Session)
		same bool // the change must not affect the digest
	}{
		{"mark", func(s *flow.Session) { *s.Mark++ }, false},
		{"mark removed", func(s *flow.Session) { s.Mark = nil }, false},
		{"snat external address", func(s *flow.Session) { *s.Nat.Source.ExternalSrcAddress = "203.0.113.200" }, false},
		{"snat removed", func(s *flow.Session) { s.Nat.Source = nil }, false},
		{"empty presence container", func(s *flow.Session) { s.Nat.Destination = &fsDNAT{} }, false},
		{"tcp flag added", func(s *flow.Session) {
			s.Tcp.Reply.Flags = append(s.Tcp.Reply.Flags, flowstate.SamiFlowState_TcpTrackingFlag_close_init)
		}, false},
		{"tcp flag duplicated", func(s *flow.Session) { s.Tcp.Reply.Flags = append(s.Tcp.Reply.Flags, flagSACK) }, false},
		{"window scale", func(s *flow.Session) { *s.Tcp.Original.WindowScale = 8 }, false},
		{"window scale moved to reply", func(s *flow.Session) {
			s.Tcp.Reply.WindowScale, s.Tcp.Original.WindowScale = s.Tcp.Original.WindowScale, s.Tcp.Reply.WindowScale
		}, false},
		{"tcp state", func(s *flow.Session) { s.Tcp.State = flowstate.SamiFlowState_TcpState_fin_wait }, false},
		{"idle timeout", func(s *flow.Session) { *s.Timers.IdleTimeout = 60 }, false},
		{"created", func(s *flow.Session) { *s.Timers.Created = "2026-11-21T07:00:00Z" }, true},
		{"owner", func(s *flow.Session) { *s.Owner.EndpointId += "x" }, false},
		{"string bytes moved between leaves", func(s *flow.Session) {
			*s.Location.IngressZone, *s.Location.IngressInterface = "trus", "teth1"
		}, false},
		{"zone id", func(s *flow.Session) { s.ZoneId = ygot.Uint16(99) }, false},
		{"id", func(s *flow.Session) { *s.Id += "0" }, false},
		{"vendor parameter", func(s *flow.Session) {
			s.GetOrCreateVendorParameter("acme", "mtu").Value = ygot.String("1500")
		}, false},
		{"alg state", func(s *flow.Session) { s.GetOrCreateAlg().State = flowstate.Binary{0} }, false},

		{"counters", func(s *flow.Session) { *s.Counters.Original.Bytes += 1000 }, true},
		{"counters removed", func(s *flow.Session) { s.Counters = nil }, true},
		{"remaining", func(s *flow.Session) { *s.Timers.Remaining -= 10 }, true},
		{"last-seen", func(s *flow.Session) { *s.Timers.LastSeen = "2026-11-21T08:00:07Z" }, true},
		{"tcp flags reordered", func(s *flow.Session) { slices.Reverse(s.Tcp.Original.Flags) }, true},
		{"status reordered", func(s *flow.Session) { slices.Reverse(s.Status) }, true},
		{"zone-id absent is its default 0", func(s *flow.Session) { s.ZoneId = nil }, false}, // base has zone 3
		{"created with numeric offset", func(s *flow.Session) {
			*s.Timers.Created = (*s.Timers.Created)[:len(*s.Timers.Created)-1] + "+00:00"
		}, true},
		{"initiator", func(s *flow.Session) { s.Initiator = flowstate.SamiFlowState_FlowState_Sessions_Session_Initiator_peer }, false},
		{"empty location container", func(s *flow.Session) { s.Location = nil }, false},
	}
	want := mustDigest(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := clone(base)
			tt.mod(s)
			if same := mustDigest(t, s) == want; same != tt.same {
				t.Errorf("digest unchanged = %v, want %v", same, tt.same)
			}
		})
	}
}

// TestDigestEquivalentForms checks the canonicalization: pairs that spell
// the same session differently have the same digest.
func TestDigestEquivalentForms(t *testing.T) {
	v4 := func(opts ...opt) *flow.Session { return newSession(tcp, "192.0.2.1", 1, "192.0.2.2", 2, opts...) }
	v6 := func(src string) *flow.Session { return newSession(tcp, src, 1, "2001:db8::2", 2) }
	set := func(f func(*flow.Session)) opt { return opt(f) }
	tests := []struct {
		name string
		a, b *flow.Session
	}{
		{"zone-id absent and 0", v4(), v4(withZone(0))},
		{"initiator unset and unknown", v4(), v4(set(func(s *flow.Session) {
			s.Initiator = flowstate.SamiFlowState_FlowState_Sessions_Session_Initiator_unknown
		}))},
		{"nat type unset and dynamic", v4(withSNAT("192.0.2.1", "203.0.113.1", 9)), v4(withSNAT("192.0.2.1", "203.0.113.1", 9), set(func(s *flow.Session) {
			s.Nat.Type = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Type_dynamic
		}))},
		{"liberal absent and false", v4(set(func(s *flow.Session) { s.GetOrCreateTcp().GetOrCreateOriginal().WindowScale = ygot.Uint8(1) })),
			v4(set(func(s *flow.Session) {
				s.GetOrCreateTcp().GetOrCreateOriginal().WindowScale = ygot.Uint8(1)
				s.Tcp.Original.Liberal = ygot.Bool(false)
			}))},
		{"empty containers and none", v4(), v4(set(func(s *flow.Session) {
			s.Location, s.Tcp, s.Owner = &fsLocation{}, &fsTcp{Original: &fsTcpOrig{}}, &fsOwner{}
		}))},
		{"empty leaf-list and none", v4(), v4(set(func(s *flow.Session) { s.Label = []uint8{} }))},
		{"ipv6 spellings", v6("2001:db8::1"), v6("2001:DB8:0:0:0:0:0:1")},
		{"created Z and +00:00", v4(set(func(s *flow.Session) { s.GetOrCreateTimers().Created = ygot.String("2026-11-21T08:00:00Z") })),
			v4(set(func(s *flow.Session) { s.GetOrCreateTimers().Created = ygot.String("2026-11-21T09:00:00.000+01:00") }))},
		{"all defaults populated", v4(withSNAT("192.0.2.1", "203.0.113.1", 9)), v4(withSNAT("192.0.2.1", "203.0.113.1", 9), set(func(s *flow.Session) {
			s.PopulateDefaults()
			s.Nat.Destination = nil // PopulateDefaults creates presence containers too
		}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if da, db := mustDigest(t, tt.a), mustDigest(t, tt.b); da != db {
				t.Errorf("digests differ: %v and %v", da, db)
			}
			if r := flow.Diff([]*flow.Session{tt.a}, []*flow.Session{tt.b}); !r.Empty() {
				t.Errorf("Diff not empty: %+v", r.Changed)
			}
		})
	}
}

func TestDigesterAddErrors(t *testing.T) {
	var d flow.Digester
	if err := d.Add(realistic(1)); err != nil {
		t.Fatal(err)
	}
	before := d.Sum()
	if err := d.Add(nil); !errors.Is(err, flow.ErrNilSession) {
		t.Errorf("Add(nil) = %v, want ErrNilSession", err)
	}
	bad := realistic(2)
	bad.Tcp.State = 99
	err := d.Add(bad)
	var se *flow.SessionError
	if !errors.Is(err, flow.ErrInvalid) || !errors.As(err, &se) || se.Path != "tcp/state" {
		t.Errorf("Add(unknown enum) = %v, want ErrInvalid at tcp/state", err)
	}
	bad.Tcp.State = established
	bad.Status = append(bad.Status, 0)
	if err := d.Add(bad); !errors.Is(err, flow.ErrInvalid) {
		t.Errorf("Add(unset leaf-list value) = %v, want ErrInvalid", err)
	}
	if d.Count() != 1 || d.Sum() != before {
		t.Errorf("failed Adds changed the digest")
	}
	if _, err := flow.DigestSessions([]*flow.Session{realistic(1), nil}); !errors.Is(err, flow.ErrNilSession) {
		t.Errorf("DigestSessions with nil = %v", err)
	}
}

func TestDigestText(t *testing.T) {
	d := mustDigest(t, realistic(1), realistic(2))
	text, err := d.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if string(text) != d.String() || len(text) != 64 {
		t.Errorf("MarshalText = %q, String = %q", text, d.String())
	}
	j, err := json.Marshal(map[string]flow.Digest{"digest": d})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]flow.Digest
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back["digest"]); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	var x flow.Digest
	for _, bad := range []string{"", "00", d.String() + "00", d.String()[:62] + "zz"} {
		if err := x.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

// TestDigestGolden pins the encoding: a digest persisted or computed by
// another build must stay comparable. Change the digest domain version when
// this has to change.
func TestDigestGolden(t *testing.T) {
	got := mustDigest(t, population(10)...)
	const want = "54e65cdd941513fdfadfd83362bf0bee7cf7f598512dcd23866502af75d08100"
	if got.String() != want {
		t.Errorf("digest of population(10) = %s, want %s", got, want)
	}
}
