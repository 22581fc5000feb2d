package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/peertest"
)

func gnmiCli(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("gnmi_cli"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "gnmi_cli")
	_, err := os.Stat(p)
	peertest.Need(t, "gnmi_cli", err == nil, "go install github.com/openconfig/gnmi/cmd/gnmi_cli@v0.14.1 (.ci/install-peers does)")
	return p
}

// TestConntrackAgentGnmiCli: gnmi_cli (a real gNMI client) subscribed to
// the agent in STREAM mode sees a connection that appears in the kernel's
// conntrack table while it watches.
func TestConntrackAgentGnmiCli(t *testing.T) {
	_, err := exec.LookPath("conntrack")
	peertest.Need(t, "root and the conntrack tool", os.Geteuid() == 0 && err == nil, "run as root with the conntrack package")
	cli := gnmiCli(t)
	b := make([]byte, 4)
	rand.Read(b)
	ns := "sami-gnmi-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })

	bin := build(t)
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600)
	agent := startAgent(t, bin, "--netconf-listen", "127.0.0.1:0", "--host-key", filepath.Join(dir, "hk"), "--generate-host-key",
		"--user", "sami", "--password-file", filepath.Join(dir, "pw"), "--backend", "conntrack", "--netns", "/run/netns/"+ns,
		"--gnmi-listen", "127.0.0.1:0", "--gnmi-cert", cert, "--gnmi-key", key)
	a := agent.GNMI
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := exec.CommandContext(ctx, cli, "-a", a, "-ca_crt", cert, "-server_name", "localhost",
		"-q", "flow-state/sessions", "-qt", "s", "-sd", "6s", "-t", "sami", "-dt", "s")
	var out bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if o, err := exec.Command("ip", "netns", "exec", ns, "conntrack", "-I", "-p", "tcp", "-s", "10.77.0.1", "-d", "10.77.0.2",
		"--sport", "41000", "--dport", "22", "--state", "ESTABLISHED", "-u", "ASSURED", "-t", "300").CombinedOutput(); err != nil {
		t.Fatalf("conntrack -I: %v %s", err, o)
	}
	sub.Wait() // -sd ends the stream with DeadlineExceeded: normal
	if !strings.Contains(out.String(), "0/6/10.77.0.1/41000/10.77.0.2/22") {
		t.Fatalf("gnmi_cli did not see the new kernel connection:\n%s\nagent log:\n%s", out.String(), agent.Log())
	}
	t.Logf("gnmi_cli saw it:\n%s", firstLines(out.String(), "10.77.0.1", 4))
}

func firstLines(s, sub string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
