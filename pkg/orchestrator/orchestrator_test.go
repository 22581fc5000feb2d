package orchestrator_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/sandbox"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

// site is an orchestrator over in-process agents fw1..fwN and the
// inventory pkg/sandbox writes for them.
type site struct {
	o   *orchestrator.Orchestrator
	fws map[string]*simfw.Firewall
}

func newSite(t *testing.T, n int, locations []sandbox.Location) *site {
	t.Helper()
	s := &site{fws: map[string]*simfw.Firewall{}}
	sb, err := sandbox.New(sandbox.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	inv := sandbox.Inventory{Locations: locations}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("fw%d", i)
		a, fw, err := sb.StartSim(context.Background(), name, simfw.Vendors()["sami-sim"])
		if err != nil {
			t.Fatal(err)
		}
		s.fws[name] = fw
		inv.Devices = append(inv.Devices, sandbox.Device{Agent: a, Domain: "dc"})
	}
	var b strings.Builder
	if err := sandbox.WriteInventory(&b, inv); err != nil {
		t.Fatal(err)
	}
	loaded, err := topology.Load(strings.NewReader(b.String()), topology.WithName("inventory.yaml"))
	if err != nil {
		t.Fatalf("inventory: %v\n%s", err, b.String())
	}
	reg := device.NewRegistry()
	if err := plugins.Register(reg); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(t.TempDir()+"/journal.db", journal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	o, err := orchestrator.New(loaded, reg, j)
	if err != nil {
		t.Fatal(err)
	}
	s.o = o
	return s
}

func vmFlows(vm string, n int) []*flow.Session {
	var out []*flow.Session
	for i := range n {
		s := &flow.Session{
			AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4, Protocol: ygot.Uint8(6),
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
				SourceAddress: ygot.String(vm), DestinationAddress: ygot.String("198.51.100.1"),
				SourcePort: ygot.Uint16(uint16(30000 + i)), DestinationPort: ygot.Uint16(443),
			},
			Tcp: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established},
		}
		if err := flow.SetKey(s); err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}

func (s *site) count(name string) int { return s.fws[name].Len() }

// TestAsymmetricRouting runs the four cases of the framework draft's
// section 4.1 (the two directions of the endpoint's flows crossing the same
// or different boxes before and after the move), plus many-to-one and
// one-to-many, through the topology and the engine.
func TestAsymmetricRouting(t *testing.T) {
	loc := func(name, in, out string) sandbox.Location {
		return sandbox.Location{Name: name, Domain: "dc", Ingress: []string{in}, Egress: []string{out}}
	}
	locations := []sandbox.Location{
		loc("s1", "fw1", "fw1"), loc("s2", "fw2", "fw2"), loc("a12", "fw1", "fw2"),
		loc("a34", "fw3", "fw4"), loc("s3", "fw3", "fw3"), loc("a13", "fw1", "fw3"),
	}
	tests := []struct {
		name     string
		from, to string
		old      []string // boxes holding the flows before
		want     []string // boxes holding them after
		cas      topology.Case
	}{
		{"symmetric to symmetric", "s1", "s2", []string{"fw1"}, []string{"fw2"}, topology.SymmetricToSymmetric},
		{"symmetric to asymmetric (one-to-many)", "s1", "a34", []string{"fw1"}, []string{"fw3", "fw4"}, topology.SymmetricToAsymmetric},
		{"asymmetric to symmetric (many-to-one)", "a12", "s3", []string{"fw1", "fw2"}, []string{"fw3"}, topology.AsymmetricToSymmetric},
		{"asymmetric to asymmetric", "a12", "a34", []string{"fw1", "fw2"}, []string{"fw3", "fw4"}, topology.AsymmetricToAsymmetric},
		{"asymmetric, one box stays on the path", "a12", "a13", []string{"fw1", "fw2"}, []string{"fw1", "fw3"}, topology.AsymmetricToAsymmetric},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := newSite(t, 4, locations)
			flows := vmFlows("10.1.0.5", 12)
			for _, b := range tc.old {
				if err := s.fws[b].Upsert(ctx, flows); err != nil {
					t.Fatal(err)
				}
			}
			rep, mv, err := s.o.Migrate(ctx, orchestrator.Trigger{
				Requester: "vm-manager", Endpoints: []flow.Endpoint{{Address: netip.MustParseAddr("10.1.0.5")}}, From: tc.from, To: tc.to,
			})
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if mv.Case != tc.cas {
				t.Errorf("case %s, want %s", mv.Case, tc.cas)
			}
			for name := range s.fws {
				want := 0
				if slices.Contains(tc.want, name) {
					want = len(flows)
				}
				if got := s.count(name); got != want {
					t.Errorf("%s holds %d sessions, want %d", name, got, want)
				}
			}
			t.Logf("%s: %s", mv.Case, strings.ReplaceAll(strings.TrimSpace(mv.String()), "\n", "; "))
			if rep.Sessions != len(flows) {
				t.Errorf("report: %d sessions", rep.Sessions)
			}
		})
	}
}
