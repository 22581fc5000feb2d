package topology_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

// agentHostKey reads an agenttest agent's host key (authorized_keys form)
// from its known_hosts file ("[127.0.0.1]:port ssh-ed25519 AAAA...").
func agentHostKey(t *testing.T, a *agenttest.Agent) string {
	t.Helper()
	b, err := os.ReadFile(a.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		t.Fatalf("known_hosts %q", b)
	}
	return f[1] + " " + f[2]
}

// TestDiscoveryEndToEnd: two agents announce themselves over HTTP; the
// orchestrator merges them into its inventory, resolves a move to their
// location, pins their announced host keys and opens them with the real
// sami driver, which verifies the keys. A device whose pinned key is not
// the one it presents is refused.
func TestDiscoveryEndToEnd(t *testing.T) {
	const password = "agent-pw"
	agents := map[string]*agenttest.Agent{}
	for _, name := range []string{"fw-a", "fw-b"} {
		agents[name], _ = agenttest.StartSim(t, name, simfw.Vendors()["sami-sim"], agenttest.WithPassword(password))
	}
	dir := topology.NewDirectory()
	h, err := topology.NewHandler(dir, "secret-token")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, a := range agents {
		ann := topology.Announcement{Name: name, Address: a.Addr, GNMIAddress: a.GNMIAddr, Domain: "lab",
			Location: "rack-new", HostKey: agentHostKey(t, a), TTL: time.Minute}
		if _, err := topology.AnnounceOnce(ctx, srv.URL, "secret-token", ann); err != nil {
			t.Fatal(err)
		}
	}

	// The configured part: the old location and a device whose pinned key
	// is wrong (fw-b's key at fw-a's address: a man in the middle).
	inv, err := topology.Load(strings.NewReader(`
defaults:
  driver: sami
  credentials: {user: sami, password-env: AGENT_PW}
devices:
  - {name: fw-old, address: "192.0.2.1:830", domain: lab, credentials: {user: sami, password-env: AGENT_PW}}
  - {name: fw-mitm, address: "`+agents["fw-a"].Addr+`", host-key: `+agentHostKey(t, agents["fw-b"])+`}
locations:
  - {name: rack-old, domain: lab, ingress: [fw-old], egress: [fw-old]}
`), topology.WithName("lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	view, conflicts := inv.Merge(dir.Announcements())
	// fw-mitm is configured at fw-a's address: the announcement of fw-a
	// is reported, and not added (an address answers for one device).
	if len(conflicts) != 1 || conflicts[0].Device != "fw-a" || conflicts[0].Field != "address" {
		t.Fatalf("conflicts: %v", conflicts)
	}
	m, err := view.Resolve("rack-old", "rack-new")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Destinations, " "); got != "fw-b" {
		t.Errorf("destinations %q, want fw-b:\n%s", got, m)
	}
	pinned, err := view.PinHostKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := device.NewRegistry()
	if err := plugins.Register(reg); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "AGENT_PW" {
			return password
		}
		return ""
	}
	open := func(name string) error {
		cfg, err := pinned.DeviceConfig(name, env)
		if err != nil {
			return err
		}
		d, err := reg.Open(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		_, err = d.Capabilities(ctx)
		return err
	}
	if err := open("fw-b"); err != nil {
		t.Errorf("discovered fw-b with its announced key: %v", err)
	}
	if err := open("fw-mitm"); !errors.Is(err, device.ErrAuth) || !strings.Contains(err.Error(), "host key") {
		t.Errorf("a device presenting another key than the pinned one: %v, want device.ErrAuth for the host key", err)
	}
}
