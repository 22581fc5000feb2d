package migrate_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/conntrack"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/peertest"
	"github.com/sami-netops/sami/pkg/simfw"
)

// TestMain lets the namespace lab re-execute this test binary as its
// traffic endpoints.
func TestMain(m *testing.M) {
	peertest.RunRole()
	os.Exit(m.Run())
}

// TestKernelMigration drives the namespace lab of the agent issue through
// the engine: long-lived idle and bulk TCP (with a standing queue), UDP and
// an SNAT'd flow cross fwA; the engine moves the client's state to fwB
// (agents on the kernel's conntrack tables, NETCONF, confirmed commit,
// read-back), its cutover hook moves the route, then it eliminates the
// state at fwA. Every flow must carry on: no reset, no lost byte, no
// invalid drop at fwB.
func TestKernelMigration(t *testing.T) {
	_, err := os.Stat("/proc/net/nf_conntrack")
	peertest.Need(t, "root (network namespaces, conntrack)", os.Geteuid() == 0 || err == nil, "run as root")
	for _, v := range []struct {
		name string
		opts []peertest.LabOption
	}{
		{"queue", []peertest.LabOption{peertest.WithQueue()}},
		{"snat+queue", []peertest.LabOption{peertest.WithQueue(), peertest.WithSNAT()}},
	} {
		t.Run(v.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			nl := peertest.StartLab(t, v.opts...)
			l := newLab(t, map[string]simfw.Personality{})
			for name, ns := range map[string]string{"fwA": nl.FwA, "fwB": nl.FwB} {
				ct, err := conntrack.Open(ctx, conntrack.WithNetNS(nl.NetNSPath(ns)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ct.Close() })
				l.agents[name] = agenttest.Start(t, name, ct)
			}
			idle := nl.StartIdleTCP(t, 7001)
			bulk := nl.StartBulkTCP(t, 7002, 10<<20, 0)
			udp := nl.StartUDP(t, 7003)
			time.Sleep(time.Second)

			rep, err := l.engine().Migrate(ctx, migrate.Request{
				Requester: "lab", Endpoints: []flow.Endpoint{{Address: nl.ClientAddr}},
				Sources: []string{"fwA"}, Destinations: []string{"fwB"},
				Cutover: func(context.Context) error { nl.Via(t, nl.FwB); return nil },
			})
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if rep.Status != journal.Done || rep.Sessions < 3 {
				t.Errorf("status %s, %d sessions moved (want >= 3)", rep.Status, rep.Sessions)
			}
			for name, f := range map[string]peertest.Flow{"idle TCP": idle, "bulk TCP": bulk, "UDP": udp} {
				if err := f.Check(); err != nil {
					t.Errorf("%s flow broke after the move: %v", name, err)
				}
			}
			if n := nl.InvalidDrops(t, nl.FwB); n != 0 {
				t.Errorf("fwB dropped %d packets as invalid", n)
			}
			t.Logf("moved %d sessions in %v; phases %v; fwB invalid drops 0", rep.Sessions, rep.Duration().Round(time.Millisecond), rep.Phases)
		})
	}
}
