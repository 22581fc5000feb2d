package main_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/netconf"
	"golang.org/x/crypto/ssh"
)

// build compiles the real binary once per test run.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sami-agent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestConfigErrors(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no host key", []string{"--netconf-listen", "127.0.0.1:0"}, "netconf.host-key"},
		{"no listen", []string{}, "netconf.listen"},
		{"no users", []string{"--netconf-listen", "127.0.0.1:0", "--host-key", filepath.Join(dir, "hk"), "--generate-host-key"}, "netconf.users"},
		{"bad personality", []string{"--netconf-listen", "127.0.0.1:0", "--host-key", "hk", "--user", "u", "--password-file", "pw", "--personality", "nope"}, "backend.personality"},
		{"bad permission", []string{"--netconf-listen", "127.0.0.1:0", "--host-key", "hk", "--user", "u", "--password-file", "pw", "--permission", "god"}, "netconf.users[0].permission"},
		{"bad backend", []string{"--netconf-listen", "127.0.0.1:0", "--host-key", "hk", "--user", "u", "--password-file", "pw", "--backend", "vpp"}, "backend.type"},
		{"missing netns", []string{"--netconf-listen", "127.0.0.1:0", "--host-key", "hk", "--user", "u", "--password-file", "pw", "--backend", "conntrack", "--netns", "/run/netns/sami-none"}, "backend.netns"},
		{"missing config file", []string{"--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{"yaml syntax", []string{"--config", write("bad.yaml", "netconf:\n  listen: [oops\n")}, "bad.yaml"},
		{"user without credentials", []string{"--config", write("nocred.yaml", "netconf:\n  listen: 127.0.0.1:0\n  host-key: hk\n  users:\n    - name: sami\n")}, "netconf.users[0]"},
		{"unknown flag", []string{"--frobnicate"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output does not name %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestServeAndStop(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	_, ck, _ := ed25519.GenerateKey(rand.Reader)
	client, _ := ssh.NewSignerFromKey(ck)
	os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(client.PublicKey()), 0o600)
	cfg := `netconf:
  listen: 127.0.0.1:0
  host-key: ` + filepath.Join(dir, "host_key") + `
  generate-host-key: true
  users:
    - name: sami
      permission: read-write
      authorized-keys: ` + filepath.Join(dir, "authorized_keys") + `
backend:
  type: sim
  personality: basic
`
	os.WriteFile(filepath.Join(dir, "agent.yaml"), []byte(cfg), 0o600)
	agent := startAgent(t, bin, "--config", filepath.Join(dir, "agent.yaml"))
	a, kh := agent.NETCONF, agent.knownHosts(t, filepath.Join(dir, "host_key.pub"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := netconf.Dial(ctx, a, netconf.WithUser("sami"), netconf.WithSigners(client), netconf.WithKnownHosts(kh))
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := s.Capabilities().Module("sami-flow-state"); !ok || m.Revision == "" {
		t.Fatalf("capabilities: %v", s.Capabilities().URIs())
	}
	err = s.EditConfig(ctx, netconf.Candidate, netconf.ConfigXML(`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions><session>
	  <id>0/17/10.0.0.1/5353/10.0.0.2/53</id><address-family>ipv4</address-family><protocol>17</protocol>
	  <original><source-address>10.0.0.1</source-address><destination-address>10.0.0.2</destination-address><source-port>5353</source-port><destination-port>53</destination-port></original>
	</session></sessions></flow-state></config>`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Get(ctx, netconf.Subtree(`<flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"/>`))
	if err != nil || !strings.Contains(string(rep.Data), "0/17/10.0.0.1/5353/10.0.0.2/53") || !strings.Contains(string(rep.Data), "simfw-basic") {
		t.Fatalf("get: %v\n%s", err, rep.Data)
	}
	s.CloseSession(ctx)
	agent.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- agent.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, agent.Log())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("agent did not stop on SIGTERM:\n%s", agent.Log())
	}
}
