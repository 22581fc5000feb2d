package agent_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/conntrack"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/peertest"
	"github.com/sami-netops/sami/pkg/xmltok"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// TestMain lets the namespace lab re-execute this test binary as its
// traffic endpoints.
func TestMain(m *testing.M) {
	peertest.RunRole()
	os.Exit(m.Run())
}

var allSessions = netconf.Subtree(`<flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions/></flow-state>`)

// readSessions reads every session from an agent, streamed from the reply.
func readSessions(ctx context.Context, t *testing.T, s *netconf.Session) []*flow.Session {
	t.Helper()
	codec, _ := flow.NewCodec()
	var out []*flow.Session
	_, err := s.Get(ctx, allSessions, netconf.WithData(func(tk *xmltok.Tokenizer, ns map[string]string) error {
		return codec.DecodeElement(tk, &flowstate.Device{}, yangxml.WithNamespaces(ns),
			yangxml.WithListHandler(flow.SessionsPath, func(e ygot.GoStruct) error {
				out = append(out, e.(*flow.Session))
				return nil
			}))
	}))
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return out
}

// migrate moves every session from src to dst the way the engine will:
// read, lock the destination's candidate, write, confirmed commit, verify
// by read-back, confirm. It returns what was read and what dst holds after.
func migrate(ctx context.Context, t *testing.T, src, dst *netconf.Session) (read, written []*flow.Session) {
	t.Helper()
	codec, _ := flow.NewCodec()
	read = readSessions(ctx, t, src)
	if err := dst.Lock(ctx, netconf.Candidate); err != nil {
		t.Fatal(err)
	}
	defer dst.Unlock(ctx, netconf.Candidate)
	if err := dst.DiscardChanges(ctx); err != nil {
		t.Fatal(err)
	}
	err := dst.EditConfig(ctx, netconf.Candidate, netconf.ConfigFunc(func(w io.Writer) error {
		le, err := codec.NewListEncoder(w, flow.SessionsPath, yangxml.Wrapper("config"), yangxml.ConfigOnly())
		if err != nil {
			return err
		}
		for _, s := range read {
			if err := le.Encode(s); err != nil {
				return err
			}
		}
		return le.Close()
	}))
	if err != nil {
		t.Fatalf("edit-config: %v", err)
	}
	if err := dst.Commit(ctx, netconf.ConfirmTimeout(60*time.Second)); err != nil {
		t.Fatalf("confirmed commit: %v", err)
	}
	written = readSessions(ctx, t, dst)
	want, _ := flow.DigestSessions(read)
	got, _ := flow.DigestSessions(written)
	if want != got {
		d := flow.Diff(read, written, flow.WithTimeoutTolerance(time.Second))
		t.Errorf("read-back digest %s, want %s; differences: added %d removed %d changed %d", got, want, len(d.Added), len(d.Removed), len(d.Changed))
		for _, c := range d.Changed {
			for _, f := range c.Fields {
				t.Logf("  %s %s: fwA %v, fwB %v", c.ID, f.Path, f.A, f.B)
			}
		}
		if cerr := dst.CancelCommit(ctx, ""); cerr != nil {
			t.Logf("cancel-commit: %v", cerr)
		}
		t.FailNow()
	}
	if err := dst.Commit(ctx); err != nil {
		t.Fatalf("confirming commit: %v", err)
	}
	return read, written
}

// TestLabMigration is the real thing: long-lived TCP (idle and a bulk
// transfer with hundreds of KB queued), UDP, with and without SNAT, cross
// fwA; the state is read from fwA's agent and written to fwB's agent over
// NETCONF with a confirmed commit; the route moves to fwB; every flow must
// carry on (no reset, no lost byte: checksums) with zero invalid drops on
// fwB, and fwB's entries must equal fwA's field by field. (The control,
// switching without the state, is TestLabSwitchWithoutStateBreaks in
// package peertest: the same flows break there.)
func TestLabMigration(t *testing.T) {
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
			lab := peertest.StartLab(t, v.opts...)
			ctA, err := conntrack.Open(ctx, conntrack.WithNetNS(lab.NetNSPath(lab.FwA)))
			if err != nil {
				t.Fatal(err)
			}
			defer ctA.Close()
			ctB, err := conntrack.Open(ctx, conntrack.WithNetNS(lab.NetNSPath(lab.FwB)))
			if err != nil {
				t.Fatal(err)
			}
			defer ctB.Close()
			a, b := serve(t, ctA), serve(t, ctB)

			idle := lab.StartIdleTCP(t, 7001)
			bulk := lab.StartBulkTCP(t, 7002, 10<<20, 0)
			udp := lab.StartUDP(t, 7003)
			time.Sleep(time.Second)

			t0 := time.Now()
			read, written := migrate(ctx, t, a, b)
			t.Logf("migrated %d sessions fwA -> fwB over NETCONF (confirmed commit, verified, confirmed) in %v", len(read), time.Since(t0).Round(time.Millisecond))
			lab.Via(t, lab.FwB)

			for name, f := range map[string]peertest.Flow{"idle TCP": idle, "bulk TCP": bulk, "UDP": udp} {
				if err := f.Check(); err != nil {
					t.Errorf("%s flow broke after the move: %v", name, err)
				}
			}
			if n := lab.InvalidDrops(t, lab.FwB); n != 0 {
				t.Errorf("fwB dropped %d packets as invalid", n)
			}
			d := flow.Diff(read, written, flow.WithTimeoutTolerance(time.Second))
			if !d.Empty() {
				t.Errorf("fwB's entries differ from fwA's: added %d removed %d changed %d", len(d.Added), len(d.Removed), len(d.Changed))
			}
			if len(read) < 3 {
				t.Errorf("only %d sessions on fwA; the flows were not tracked", len(read))
			}
			t.Logf("fwB invalid drops: %d; fwA sessions: %d", lab.InvalidDrops(t, lab.FwB), len(read))
		})
	}
}
