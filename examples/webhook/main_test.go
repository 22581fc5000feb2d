package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/peertest"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

const token = "webhook-test-token-0123456789"

// samiServe is the real API over two in-process agents: fw1 at rack1,
// fw2 at rack7.
func samiServe(t *testing.T) (string, map[string]*simfw.Firewall) {
	t.Helper()
	var b strings.Builder
	b.WriteString("devices:\n")
	fws := map[string]*simfw.Firewall{}
	for _, name := range []string{"fw1", "fw2"} {
		a, fw := agenttest.StartSim(t, name, simfw.Vendors()["sami-sim"])
		fws[name] = fw
		fmt.Fprintf(&b, "  - {name: %s, address: %q, driver: sami, domain: dc, credentials: {user: %s, key-file: %q, known-hosts: [%q]}}\n",
			name, a.Addr, a.User, a.KeyFile, a.KnownHosts)
	}
	b.WriteString("locations:\n  - {name: rack1, ingress: [fw1], egress: [fw1]}\n  - {name: rack7, ingress: [fw2], egress: [fw2]}\n")
	inv, err := topology.Load(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	reg := device.NewRegistry()
	if err := plugins.Register(reg); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), journal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	o, err := orchestrator.New(inv, reg, j)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := api.ParseTokens(strings.NewReader("vm-manager:" + token + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(o, api.WithTokens(tokens))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Shutdown(context.Background()); ts.Close() })
	return ts.URL, fws
}

func seed(t *testing.T, fw *simfw.Firewall, vm string, n int) {
	t.Helper()
	var ss []*flow.Session
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
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	if err := fw.Upsert(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
}

func TestWebhook(t *testing.T) {
	url, fws := samiServe(t)
	seed(t, fws["fw1"], "10.1.0.5", 8)
	h := &hook{sami: url, token: token, locations: map[string]string{"hv1": "rack1", "hv7": "rack7"}, client: &http.Client{}, log: slog.New(slog.DiscardHandler)}
	wh := httptest.NewServer(h)
	defer wh.Close()
	post := func(mv Move) (int, Result) {
		t.Helper()
		body, _ := json.Marshal(mv)
		resp, err := http.Post(wh.URL+"/vm-moved", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r Result
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	mv := Move{VM: "vm-42", Addresses: []string{"10.1.0.5"}, FromHost: "hv1", ToHost: "hv7", Event: "mig/1234"}
	st, r := post(mv)
	if st != http.StatusOK || r.Status != api.StatusDone || r.Sessions != 8 || r.Migration != "vm-42-mig-1234" {
		t.Fatalf("webhook: %d %+v", st, r)
	}
	if fws["fw1"].Len() != 0 || fws["fw2"].Len() != 8 {
		t.Errorf("fw1 %d fw2 %d", fws["fw1"].Len(), fws["fw2"].Len())
	}
	t.Run("a retried event follows the same migration", func(t *testing.T) {
		st, r2 := post(mv)
		if st != http.StatusOK || r2.Migration != r.Migration || r2.Status != api.StatusDone {
			t.Errorf("retry: %d %+v", st, r2)
		}
	})
	t.Run("an unmapped hypervisor", func(t *testing.T) {
		st, r := post(Move{VM: "vm-9", Addresses: []string{"10.1.0.9"}, FromHost: "hv3", ToHost: "hv7"})
		if st != http.StatusBadGateway || !strings.Contains(r.Error, `"hv3"`) {
			t.Errorf("%d %+v", st, r)
		}
	})
	t.Run("sami refuses", func(t *testing.T) {
		st, r := post(Move{Addresses: []string{"10.1.0.999"}, FromHost: "hv1", ToHost: "hv7"})
		if st != http.StatusBadGateway || !strings.Contains(r.Error, "not an IP address") {
			t.Errorf("%d %+v", st, r)
		}
	})
}

// TestTriggerScript runs trigger.sh (curl) against the real API.
func TestTriggerScript(t *testing.T) {
	_, err := exec.LookPath("curl")
	peertest.Need(t, "curl (for examples/webhook/trigger.sh)", err == nil, "apt-get install curl")
	url, fws := samiServe(t)
	seed(t, fws["fw1"], "10.1.0.5", 5)
	run := func(args ...string) (string, error) {
		cmd := exec.Command("./trigger.sh", args...)
		cmd.Env = append(os.Environ(), "SAMI_URL="+url, "SAMI_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("10.1.0.5", "rack1", "rack7")
	if err != nil || !strings.Contains(out, "status done") || !strings.Contains(out, `"phase":"confirm"`) {
		t.Fatalf("trigger.sh: %v\n%s", err, out)
	}
	if fws["fw2"].Len() != 5 {
		t.Errorf("fw2 holds %d", fws["fw2"].Len())
	}
	out, err = run("10.1.0.5", "rack1", "nowhere")
	if err == nil || !strings.Contains(out, "unknown-location") {
		t.Errorf("unknown location: %v\n%s", err, out)
	}
}
