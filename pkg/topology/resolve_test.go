package topology

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func loadLab(t testing.TB) *Inventory {
	t.Helper()
	inv, err := LoadFile("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func in(src, dst string) Pair  { return Pair{Direction: Ingress, Source: src, Destination: dst} }
func out(src, dst string) Pair { return Pair{Direction: Egress, Source: src, Destination: dst} }

func TestResolve(t *testing.T) {
	inv := loadLab(t)
	tests := []struct {
		name, from, to string
		want           Move // From, To, Domains are checked separately
		fanIn, fanOut  Fanout
		fanout         Fanout // both directions together
	}{
		{
			// Draft 4.1, case 1: both directions cross one box before, and
			// one (other) box after.
			name: "4.1 case 1: symmetric to symmetric", from: "s1", to: "s2",
			want: Move{
				Ingress: Path{Old: []string{"fw1"}, New: []string{"fw2"}},
				Egress:  Path{Old: []string{"fw1"}, New: []string{"fw2"}},
				Case:    SymmetricToSymmetric,
				Sources: []string{"fw1"}, Destinations: []string{"fw2"}, Eliminate: []string{"fw1"},
				Pairs: []Pair{in("fw1", "fw2"), out("fw1", "fw2")},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: OneToOne,
		},
		{
			// Case 2: one box before; after, each direction has its own:
			// the one box's state goes to both.
			name: "4.1 case 2: symmetric to asymmetric", from: "s1", to: "a34",
			want: Move{
				Ingress: Path{Old: []string{"fw1"}, New: []string{"fw3"}},
				Egress:  Path{Old: []string{"fw1"}, New: []string{"fw4"}},
				Case:    SymmetricToAsymmetric,
				Sources: []string{"fw1"}, Destinations: []string{"fw3", "fw4"}, Eliminate: []string{"fw1"},
				Pairs: []Pair{in("fw1", "fw3"), out("fw1", "fw4")},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: OneToMany,
		},
		{
			// Case 3: a box per direction before, one box after: it gets
			// the state of both (ingress view from fw3, egress from fw4).
			name: "4.1 case 3: asymmetric to symmetric", from: "a34", to: "s2",
			want: Move{
				Ingress: Path{Old: []string{"fw3"}, New: []string{"fw2"}},
				Egress:  Path{Old: []string{"fw4"}, New: []string{"fw2"}},
				Case:    AsymmetricToSymmetric,
				Sources: []string{"fw3", "fw4"}, Destinations: []string{"fw2"}, Eliminate: []string{"fw3", "fw4"},
				Pairs: []Pair{in("fw3", "fw2"), out("fw4", "fw2")},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: ManyToOne,
		},
		{
			// Case 4: a box per direction before and after: each
			// direction's state goes to that direction's new box.
			name: "4.1 case 4: asymmetric to asymmetric", from: "a34", to: "a56",
			want: Move{
				Ingress: Path{Old: []string{"fw3"}, New: []string{"fw5"}},
				Egress:  Path{Old: []string{"fw4"}, New: []string{"fw6"}},
				Case:    AsymmetricToAsymmetric,
				Sources: []string{"fw3", "fw4"}, Destinations: []string{"fw5", "fw6"}, Eliminate: []string{"fw3", "fw4"},
				Pairs: []Pair{in("fw3", "fw5"), out("fw4", "fw6")},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: OneToOne,
		},
		{
			name: "many-to-one: two ECMP firewalls into one", from: "ecmp12", to: "s3",
			want: Move{
				Ingress: Path{Old: []string{"fw1", "fw2"}, New: []string{"fw3"}},
				Egress:  Path{Old: []string{"fw2", "fw1"}, New: []string{"fw3"}},
				Case:    SymmetricToSymmetric,
				Sources: []string{"fw1", "fw2"}, Destinations: []string{"fw3"}, Eliminate: []string{"fw1", "fw2"},
				Pairs: []Pair{in("fw1", "fw3"), in("fw2", "fw3"), out("fw2", "fw3"), out("fw1", "fw3")},
			},
			fanIn: ManyToOne, fanOut: ManyToOne, fanout: ManyToOne,
		},
		{
			name: "one-to-many: one firewall into two ECMP firewalls", from: "s3", to: "ecmp12",
			want: Move{
				Ingress: Path{Old: []string{"fw3"}, New: []string{"fw1", "fw2"}},
				Egress:  Path{Old: []string{"fw3"}, New: []string{"fw2", "fw1"}},
				Case:    SymmetricToSymmetric,
				Sources: []string{"fw3"}, Destinations: []string{"fw1", "fw2"}, Eliminate: []string{"fw3"},
				Pairs: []Pair{in("fw3", "fw1"), in("fw3", "fw2"), out("fw3", "fw2"), out("fw3", "fw1")},
			},
			fanIn: OneToMany, fanOut: OneToMany, fanout: OneToMany,
		},
		{
			// fw1 stays on the ingress path: it keeps its state; fw2 is new
			// on the egress path and gets fw1's.
			name: "same box on both paths", from: "s1", to: "a12",
			want: Move{
				Ingress: Path{Old: []string{"fw1"}, New: []string{"fw1"}},
				Egress:  Path{Old: []string{"fw1"}, New: []string{"fw2"}},
				Case:    SymmetricToAsymmetric,
				Sources: []string{"fw1"}, Destinations: []string{"fw1", "fw2"}, Keep: []string{"fw1"},
				Pairs: []Pair{out("fw1", "fw2")},
			},
			fanIn: NoTransfer, fanOut: OneToOne, fanout: OneToOne,
		},
		{
			// Both boxes stay, the directions swap: each gets the other's
			// view of its new direction; nothing is eliminated.
			name: "directions swap between two boxes", from: "a12", to: "a21",
			want: Move{
				Ingress: Path{Old: []string{"fw1"}, New: []string{"fw2"}},
				Egress:  Path{Old: []string{"fw2"}, New: []string{"fw1"}},
				Case:    AsymmetricToAsymmetric,
				Sources: []string{"fw1", "fw2"}, Destinations: []string{"fw2", "fw1"}, Keep: []string{"fw1", "fw2"},
				Pairs: []Pair{in("fw1", "fw2"), out("fw2", "fw1")},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: OneToOne,
		},
		{
			// Roles pair a chain like with like: NAT to NAT, firewall to
			// firewall, in parallel.
			name: "chain pairs by role", from: "chain-a", to: "chain-b",
			want: Move{
				Ingress: Path{Old: []string{"nat1", "fw1"}, New: []string{"nat2", "fw2"}},
				Egress:  Path{Old: []string{"fw1", "nat1"}, New: []string{"fw2", "nat2"}},
				Case:    SymmetricToSymmetric,
				Sources: []string{"nat1", "fw1"}, Destinations: []string{"nat2", "fw2"}, Eliminate: []string{"nat1", "fw1"},
				Pairs: []Pair{in("nat1", "nat2"), in("fw1", "fw2"), out("fw1", "fw2"), out("nat1", "nat2")},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: OneToOne,
		},
		{
			// The IDS on the new path has no counterpart on the old one.
			name: "a new box no old box can feed", from: "chain-a", to: "ids-site",
			want: Move{
				Ingress: Path{Old: []string{"nat1", "fw1"}, New: []string{"fw2", "ids1"}},
				Egress:  Path{Old: []string{"fw1", "nat1"}, New: []string{"fw2"}},
				Case:    SymmetricToAsymmetric,
				Sources: []string{"nat1", "fw1"}, Destinations: []string{"fw2", "ids1"}, Eliminate: []string{"nat1", "fw1"},
				Pairs:    []Pair{in("fw1", "fw2"), out("fw1", "fw2")},
				Unfed:    []Hop{{Direction: Ingress, Device: "ids1"}},
				Stranded: []string{"nat1"},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: OneToOne,
		},
		{
			// No box saw the egress direction before: the ingress box's
			// entry (one per flow, both directions) feeds it.
			name: "a direction without old boxes takes the other's", from: "in-only", to: "s2",
			want: Move{
				Ingress: Path{Old: []string{"fw3"}, New: []string{"fw2"}},
				Egress:  Path{Old: []string{}, New: []string{"fw2"}},
				Case:    AsymmetricToSymmetric,
				Sources: []string{"fw3"}, Destinations: []string{"fw2"}, Eliminate: []string{"fw3"},
				Pairs: []Pair{in("fw3", "fw2"), out("fw3", "fw2")},
			},
			fanIn: OneToOne, fanOut: OneToOne, fanout: OneToOne,
		},
		{
			name: "no move within one location", from: "a34", to: "a34",
			want: Move{
				Ingress: Path{Old: []string{"fw3"}, New: []string{"fw3"}},
				Egress:  Path{Old: []string{"fw4"}, New: []string{"fw4"}},
				Case:    AsymmetricToAsymmetric,
				Sources: []string{"fw3", "fw4"}, Destinations: []string{"fw3", "fw4"}, Keep: []string{"fw3", "fw4"},
			},
			fanIn: NoTransfer, fanOut: NoTransfer, fanout: NoTransfer,
		},
	}
	ignore := cmpopts.IgnoreFields(Move{}, "From", "To", "Domains")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := inv.Resolve(tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if m.From != tt.from || m.To != tt.to {
				t.Errorf("From, To = %s, %s", m.From, m.To)
			}
			if diff := cmp.Diff(&tt.want, m, ignore, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Resolve(%s, %s) (-want +got):\n%s\n%s", tt.from, tt.to, diff, m)
			}
			got := [3]Fanout{m.Fanout(Ingress), m.Fanout(Egress), m.Fanout()}
			if want := [3]Fanout{tt.fanIn, tt.fanOut, tt.fanout}; got != want {
				t.Errorf("fanout ingress, egress, both = %v, want %v", got, want)
			}
			for _, n := range append(append([]string{}, m.Sources...), m.Destinations...) {
				if _, ok := m.Domains[n]; !ok {
					t.Errorf("Domains lacks %s: %v", n, m.Domains)
				}
			}
		})
	}
}

func TestResolveUnknownLocation(t *testing.T) {
	inv := loadLab(t)
	for _, tt := range []struct{ from, to, want string }{
		{"nowhere", "s1", `from: unknown location "nowhere"`},
		{"s1", "s9", `to: unknown location "s9"`},
	} {
		t.Run(tt.from+"->"+tt.to, func(t *testing.T) {
			_, err := inv.Resolve(tt.from, tt.to)
			if !errors.Is(err, ErrUnknownLocation) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "known: s1, s2") {
				t.Fatalf("err = %v, want ErrUnknownLocation naming %s and the known ones", err, tt.want)
			}
		})
	}
}

func TestCrossDomain(t *testing.T) {
	inv := loadLab(t)
	tests := []struct {
		name, from, to string
		want           []DomainCrossing
	}{
		{"within one domain", "s1", "s2", nil},
		{"east to west, allowed by rule", "a34", "a56", []DomainCrossing{
			{Source: "fw3", Destination: "fw5", FromDomain: "east", ToDomain: "west", Allowed: true},
			{Source: "fw4", Destination: "fw6", FromDomain: "east", ToDomain: "west", Allowed: true},
		}},
		{"west to east, no rule", "west-a", "s1", []DomainCrossing{
			// fw5 has no domain of its own: its location's (west-a) counts.
			{Source: "fw5", Destination: "fw1", FromDomain: "west", ToDomain: "east"},
		}},
		{"east to partner, no rule", "s1", "partner", []DomainCrossing{
			{Source: "fw1", Destination: "edge", FromDomain: "east", ToDomain: "partner"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := inv.Resolve(tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, inv.CrossDomain(m), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("CrossDomain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMoveString(t *testing.T) {
	inv := loadLab(t)
	m, err := inv.Resolve("chain-a", "ids-site")
	if err != nil {
		t.Fatal(err)
	}
	want := `move chain-a -> ids-site (symmetric-to-asymmetric)
  ingress: nat1 fw1 -> fw2 ids1 (one-to-one)
  egress:  fw1 nat1 -> fw2 (one-to-one)
  sources: nat1 fw1; destinations: fw2 ids1; eliminate: nat1 fw1; keep: -
  pairs: ingress fw1->fw2, egress fw1->fw2
  unfed: ingress ids1
  stranded: nat1`
	if diff := cmp.Diff(want, m.String()); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
	if got := m.Feeders("fw2"); !cmp.Equal(got, []string{"fw1"}) {
		t.Errorf("Feeders(fw2) = %v", got)
	}
}

func BenchmarkResolve(b *testing.B) {
	inv := loadLab(b)
	for b.Loop() {
		if _, err := inv.Resolve("chain-a", "ids-site"); err != nil {
			b.Fatal(err)
		}
	}
}
