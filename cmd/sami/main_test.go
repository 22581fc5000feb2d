package main_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

// samiBin is the real binary, built once by TestMain.
var samiBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sami-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	samiBin = filepath.Join(dir, "sami")
	build := exec.Command("go", "build", "-o", samiBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sami:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lab is a set of in-process agents and an inventory naming them, with
// devices that fail in each way the CLI must report.
type lab struct {
	dir       string
	inventory string
	agents    map[string]*agenttest.Agent
	fws       map[string]*simfw.Firewall
}

const password = "right-password"

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{dir: t.TempDir(), agents: map[string]*agenttest.Agent{}, fws: map[string]*simfw.Firewall{}}
	sim := simfw.Vendors()["sami-sim"]
	tiny := sim
	tiny.MaxSessions = 5
	type spec struct {
		name, domain string
		p            simfw.Personality
		opts         []agenttest.Option
	}
	specs := []spec{
		{"fw1", "dc", sim, nil}, {"fw2", "dc", sim, nil}, {"fw3", "dc", sim, nil}, {"fw4", "dc", sim, nil},
		{"fw5", "dc", sim, nil}, {"fw6", "dc", sim, nil}, {"fw7", "dc", sim, nil}, {"fw8", "dc", sim, nil},
		{"tiny", "dc", tiny, nil}, {"wfw", "west", sim, nil},
		{"pw", "dc", sim, []agenttest.Option{agenttest.WithPassword(password)}},
	}
	var b strings.Builder
	b.WriteString("# written by the CLI tests\ndefaults: {driver: sami}\ndevices:\n")
	for _, s := range specs {
		a, fw := agenttest.StartSim(t, s.name, s.p, s.opts...)
		l.agents[s.name], l.fws[s.name] = a, fw
		if s.name == "pw" {
			continue
		}
		fmt.Fprintf(&b, "  - name: %s\n    address: %q\n    gnmi-address: %q\n    driver: sami\n    domain: %s\n    role: firewall\n    location: s-%s\n    credentials: {user: %s, key-file: %q, known-hosts: [%q], ca-file: %q}\n",
			s.name, a.Addr, a.GNMIAddr, s.domain, s.name, a.User, a.KeyFile, a.KnownHosts, a.CAFile)
	}
	pw := l.agents["pw"]
	// Wrong host key: fw1's address, fw2's key.
	fmt.Fprintf(&b, "  - name: badkey\n    address: %q\n    domain: dc\n    credentials: {user: sami, key-file: %q, known-hosts: [%q]}\n",
		l.agents["fw1"].Addr, l.agents["fw1"].KeyFile, l.agents["fw2"].KnownHosts)
	// Wrong password: the agent takes "right-password", the env says otherwise.
	fmt.Fprintf(&b, "  - name: badpw\n    address: %q\n    domain: dc\n    credentials: {user: sami, password-env: SAMI_TEST_PASSWORD, known-hosts: [%q]}\n",
		pw.Addr, pw.KnownHosts)
	fmt.Fprintf(&b, "  - name: goodpw\n    address: %q\n    domain: dc\n    credentials: {user: sami, password-env: SAMI_TEST_GOOD_PASSWORD, known-hosts: [%q]}\n",
		pw.Addr, pw.KnownHosts)
	// Unreachable: a port nobody listens on any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	fmt.Fprintf(&b, "  - name: gone\n    address: %q\n    domain: dc\n    timeout: 2s\n    credentials: {user: sami, key-file: %q, known-hosts: [%q]}\n",
		gone, l.agents["fw1"].KeyFile, l.agents["fw1"].KnownHosts)
	b.WriteString("locations:\n")
	for _, s := range specs {
		if s.name != "pw" {
			fmt.Fprintf(&b, "  - {name: s-%s, domain: %s, ingress: [%s], egress: [%s]}\n", s.name, s.domain, s.name, s.name)
		}
	}
	b.WriteString("  - {name: s-gone, domain: dc, ingress: [gone], egress: [gone]}\n")
	l.inventory = filepath.Join(l.dir, "inventory.yaml")
	if err := os.WriteFile(l.inventory, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// env is the environment of a sami run against the lab.
func (l *lab) env(journalPath string) []string {
	return []string{
		"SAMI_INVENTORY=" + l.inventory, "SAMI_JOURNAL=" + journalPath, "SAMI_PROGRESS=never",
		"SAMI_TEST_PASSWORD=wrong-password", "SAMI_TEST_GOOD_PASSWORD=" + password, "USER=tester",
	}
}

// vmFlows are n TCP sessions of endpoint vm.
func vmFlows(vm string, n int) []*flow.Session {
	var out []*flow.Session
	for i := range n {
		s := &flow.Session{
			AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4, Protocol: ygot.Uint8(6),
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
				SourceAddress: ygot.String(vm), DestinationAddress: ygot.String("198.51.100.1"),
				SourcePort: ygot.Uint16(uint16(30000 + i)), DestinationPort: ygot.Uint16(443),
			},
			Tcp:    &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established},
			Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{IdleTimeout: ygot.Uint32(432000)},
		}
		if err := flow.SetKey(s); err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}

func (l *lab) count(dev, vm string) (int, error) {
	fw, ok := l.fws[dev]
	if !ok {
		return 0, fmt.Errorf("no agent %q", dev)
	}
	return len(flow.Filter(fw.Snapshot(), flow.Endpoint{Address: netip.MustParseAddr(vm)})), nil
}

// abandon runs a migration in this process that stops dead at phase (as
// if sami had crashed there), leaving it unfinished in the journal.
func (l *lab) abandon(ctx context.Context, journalPath, vm, from, to string, phase migrate.Phase) error {
	inv, err := topology.LoadFile(l.inventory)
	if err != nil {
		return err
	}
	reg := device.NewRegistry()
	if err := plugins.Register(reg); err != nil {
		return err
	}
	j, err := journal.Open(journalPath)
	if err != nil {
		return err
	}
	defer j.Close()
	crash := errors.New("crashed on purpose")
	o, err := orchestrator.New(inv, reg, j, orchestrator.WithEnv(func(string) string { return "" }),
		orchestrator.WithEngineOptions(migrate.WithHook(func(_ context.Context, _ string, p migrate.Phase, _ string, journaled bool) error {
			if p == phase && journaled {
				return crash
			}
			return nil
		})))
	if err != nil {
		return err
	}
	_, _, err = o.Migrate(ctx, orchestrator.Trigger{Requester: "test", Endpoints: []flow.Endpoint{{Address: netip.MustParseAddr(vm)}}, From: from, To: to})
	if !errors.Is(err, migrate.ErrAbandoned) {
		return fmt.Errorf("migration not abandoned at %s: %v", phase, err)
	}
	return nil
}

// TestScripts runs testdata/script/*.txtar: each runs the real binary
// against the lab's agents (custom commands: sami, exit, seed, count,
// lastid, abandon).
func TestScripts(t *testing.T) {
	l := newLab(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			for _, kv := range l.env(filepath.Join(e.WorkDir, "journal.db")) {
				k, v, _ := strings.Cut(kv, "=")
				e.Setenv(k, v)
			}
			e.Setenv("INVENTORY", l.inventory)
			return nil
		},
		Cmds: samiCmds(map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// seed DEVICE VM N: N sessions of VM on DEVICE.
			"seed": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: seed DEVICE VM N")
				}
				n, err := strconv.Atoi(args[2])
				ts.Check(err)
				ts.Check(l.fws[args[0]].Upsert(context.Background(), vmFlows(args[1], n)))
			},
			// count DEVICE VM N: DEVICE holds N sessions of VM.
			"count": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: count DEVICE VM N")
				}
				got, err := l.count(args[0], args[1])
				ts.Check(err)
				if (strconv.Itoa(got) == args[2]) == neg {
					ts.Fatalf("%s holds %d sessions of %s, want %s", args[0], got, args[1], args[2])
				}
			},
			// fault DEVICE write|delete N: DEVICE refuses the N-th session
			// written or deleted from now on, once.
			"fault": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: fault DEVICE write|delete N")
				}
				n, err := strconv.Atoi(args[2])
				ts.Check(err)
				switch fw := l.fws[args[0]]; args[1] {
				case "write":
					fw.FailWriteAt(n)
				case "delete":
					fw.FailDeleteAt(n)
				default:
					ts.Fatalf("fault: %q is not write or delete", args[1])
				}
			},
			// lastid VAR: the newest migration of the script's journal.
			"lastid": func(ts *testscript.TestScript, neg bool, args []string) {
				j, err := journal.Open(ts.Getenv("SAMI_JOURNAL"), journal.WithReadOnly())
				ts.Check(err)
				defer j.Close()
				rs, err := j.List(context.Background(), journal.Filter{Limit: 1})
				ts.Check(err)
				if len(rs) == 0 {
					ts.Fatalf("the journal is empty")
				}
				ts.Setenv(args[0], rs[0].ID)
			},
			// abandon VM FROM TO PHASE: a migration that "crashed" at PHASE.
			"abandon": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 4 {
					ts.Fatalf("usage: abandon VM FROM TO PHASE")
				}
				ts.Check(l.abandon(context.Background(), ts.Getenv("SAMI_JOURNAL"), args[0], args[1], args[2], migrate.Phase(args[3])))
			},
		}),
	})
}

// samiCmds are the testscript commands every script has, plus more:
//   - sami ARGS...: the real binary; its exit code is kept for exit;
//   - exit N: the last sami exited with N.
func samiCmds(more map[string]func(ts *testscript.TestScript, neg bool, args []string)) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"sami": func(ts *testscript.TestScript, neg bool, args []string) {
			err := ts.Exec(samiBin, args...)
			code := 0
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				code = ee.ExitCode()
			case err != nil:
				ts.Fatalf("sami: %v", err)
			}
			ts.Setenv("EXIT", strconv.Itoa(code))
			if neg != (code != 0) {
				ts.Fatalf("sami exited with %d (want a failure: %v)", code, neg)
			}
		},
		"exit": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 1 {
				ts.Fatalf("usage: exit CODE")
			}
			if got := ts.Getenv("EXIT"); (got == args[0]) == neg {
				ts.Fatalf("sami exited with %s, want %s", got, args[0])
			}
		},
	}
	maps.Copy(cmds, more)
	return cmds
}
