package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/peertest"
)

// TestConntrackAgent runs the real binary on a kernel conntrack table in a
// fresh network namespace: <get> shows an entry the kernel holds, a
// confirmed commit installs a session in the kernel, and the timeout
// rollback removes exactly that one.
func TestConntrackAgent(t *testing.T) {
	_, err := exec.LookPath("conntrack")
	peertest.Need(t, "root and the conntrack tool", os.Geteuid() == 0 && err == nil, "run as root with the conntrack package (apt-get install conntrack)")
	b := make([]byte, 4)
	rand.Read(b)
	ns := "sami-agent-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	kernel := func() string {
		out, _ := exec.Command("ip", "netns", "exec", ns, "conntrack", "-L").CombinedOutput()
		return string(out)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "conntrack", "-I", "-p", "tcp", "-s", "10.9.0.1", "-d", "10.9.0.2",
		"--sport", "40000", "--dport", "443", "--state", "ESTABLISHED", "-u", "ASSURED", "-t", "600").CombinedOutput(); err != nil {
		t.Fatalf("conntrack -I: %v %s", err, out)
	}

	bin := build(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600)
	agent := startAgent(t, bin, "--netconf-listen", "127.0.0.1:0", "--host-key", filepath.Join(dir, "hk"), "--generate-host-key",
		"--user", "sami", "--password-file", filepath.Join(dir, "pw"), "--backend", "conntrack", "--netns", "/run/netns/"+ns)
	a, kh := agent.NETCONF, agent.knownHosts(t, filepath.Join(dir, "hk.pub"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := netconf.Dial(ctx, a, netconf.WithUser("sami"), netconf.WithPassword("secret"), netconf.WithKnownHosts(kh))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	rep, err := s.Get(ctx, netconf.Subtree(`<flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"/>`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<id>0/6/10.9.0.1/40000/10.9.0.2/443</id>", "<state>established</state>", "<vendor>linux</vendor>"} {
		if !strings.Contains(string(rep.Data), want) {
			t.Fatalf("<get> lacks %s:\n%s", want, rep.Data)
		}
	}
	err = s.EditConfig(ctx, netconf.Candidate, netconf.ConfigXML(`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions><session>
	  <id>0/17/10.9.0.5/5353/10.9.0.6/53</id><address-family>ipv4</address-family><protocol>17</protocol>
	  <original><source-address>10.9.0.5</source-address><destination-address>10.9.0.6</destination-address><source-port>5353</source-port><destination-port>53</destination-port></original>
	  <timers><remaining>120</remaining></timers>
	</session></sessions></flow-state></config>`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, netconf.ConfirmTimeout(2*time.Second)); err != nil {
		t.Fatalf("confirmed commit: %v\n%s", err, agent.Log())
	}
	if k := kernel(); !strings.Contains(k, "sport=5353") || !strings.Contains(k, "sport=40000") {
		t.Fatalf("kernel after the confirmed commit:\n%s", k)
	}
	deadline := time.Now().Add(15 * time.Second)
	for strings.Contains(kernel(), "sport=5353") {
		if time.Now().After(deadline) {
			t.Fatalf("the confirmed commit was not rolled back in the kernel:\n%s\n%s", kernel(), agent.Log())
		}
		time.Sleep(time.Second)
	}
	if k := kernel(); !strings.Contains(k, "sport=40000") {
		t.Fatalf("the rollback removed the entry that was there before:\n%s", k)
	}
}
