package main_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/topology"
	"golang.org/x/crypto/ssh"
)

// announceLab is a directory (pkg/topology over httptest) and what an
// agent needs to announce to it.
type announceLab struct {
	dir       *topology.Directory
	srv       *httptest.Server
	tokenFile string
	tmp       string
	client    ssh.Signer
}

func newAnnounceLab(t *testing.T) *announceLab {
	t.Helper()
	l := &announceLab{dir: topology.NewDirectory(), tmp: t.TempDir()}
	h, err := topology.NewHandler(l.dir, "directory-token")
	if err != nil {
		t.Fatal(err)
	}
	l.srv = httptest.NewServer(h)
	t.Cleanup(l.srv.Close)
	l.tokenFile = filepath.Join(l.tmp, "token")
	os.WriteFile(l.tokenFile, []byte("directory-token\n"), 0o600)
	_, ck, _ := ed25519.GenerateKey(rand.Reader)
	l.client, _ = ssh.NewSignerFromKey(ck)
	os.WriteFile(filepath.Join(l.tmp, "authorized_keys"), ssh.MarshalAuthorizedKey(l.client.PublicKey()), 0o600)
	return l
}

// agentArgs are the flags of an agent serving the simulated firewall.
func (l *announceLab) agentArgs(extra ...string) []string {
	return append([]string{
		"--netconf-listen", "127.0.0.1:0", "--host-key", filepath.Join(l.tmp, "host_key"), "--generate-host-key",
		"--user", "sami", "--authorized-keys", filepath.Join(l.tmp, "authorized_keys"), "--backend", "sim",
	}, extra...)
}

// waitAgent waits until the directory holds the agent called name.
func (l *announceLab) waitAgent(t *testing.T, name string, p *agentProc) topology.Agent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if a, ok := l.dir.Lookup(name); ok {
			return a
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the agent never announced itself:\n%s", p.Log())
	return topology.Agent{}
}

// TestAnnounce: the real binary announces its NETCONF address and host
// key; the orchestrator's side merges it into an inventory, pins the key
// and connects, verifying the host key it was told.
func TestAnnounce(t *testing.T) {
	bin := build(t)
	l := newAnnounceLab(t)
	p := startAgent(t, bin, l.agentArgs("--announce", l.srv.URL, "--announce-token-file", l.tokenFile,
		"--announce-name", "fw-lab", "--announce-location", "rack-7", "--announce-domain", "lab",
		"--announce-interval", "200ms", "--gnmi-listen", "127.0.0.1:0", "--gnmi-insecure")...)
	got := l.waitAgent(t, "fw-lab", p)
	pub, err := os.ReadFile(filepath.Join(l.tmp, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	want := topology.Announcement{Name: "fw-lab", Address: p.NETCONF, GNMIAddress: p.GNMI, Driver: "sami", Domain: "lab", Location: "rack-7",
		HostKey: strings.TrimSpace(string(pub)), TTL: 600 * time.Millisecond}
	if got.Announcement != want {
		t.Fatalf("announced %+v\nwant      %+v", got.Announcement, want)
	}
	// It keeps announcing: the registration outlives several TTLs, renewed
	// (watched until a renewal 1.5 s after the first; a fixed pause would
	// fail on a renewal that came late under load).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a, ok := l.dir.Lookup("fw-lab")
		if ok && a.LastSeen.Sub(got.LastSeen) >= 1500*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent stopped announcing (%+v, %v):\n%s", a, ok, p.Log())
		}
	}
	if strings.Contains(p.Log(), "directory-token") {
		t.Error("the token is in the agent's log")
	}

	// The orchestrator's view: the discovered device at the announced
	// location, its host key pinned, reachable with verification.
	inv, err := topology.Load(strings.NewReader("defaults:\n  driver: sami\n  credentials: {user: sami}\n"))
	if err != nil {
		t.Fatal(err)
	}
	view, conflicts := inv.Merge(l.dir.Announcements())
	if len(conflicts) > 0 {
		t.Fatalf("conflicts: %v", conflicts)
	}
	view, err = view.PinHostKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := view.DeviceConfig("fw-lab", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := netconf.Dial(ctx, cfg.Address, netconf.WithUser(cfg.Credentials.User), netconf.WithSigners(l.client),
		netconf.WithKnownHosts(cfg.Credentials.KnownHosts...))
	if err != nil {
		t.Fatalf("dial with the pinned host key: %v", err)
	}
	s.CloseSession(ctx)
}

// TestAnnounceDirectoryDown: the agent serves while the directory is
// unreachable, logs it, and registers once the directory is up.
func TestAnnounceDirectoryDown(t *testing.T) {
	bin := build(t)
	l := newAnnounceLab(t)
	// A port nothing listens on yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := startAgent(t, bin, l.agentArgs("--announce", "http://"+addr, "--announce-token-file", l.tokenFile,
		"--announce-name", "fw-late", "--announce-interval", "100ms")...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Log(), "announce failed; retrying") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.Log(), "announce failed; retrying") {
		t.Fatalf("no failure logged:\n%s", p.Log())
	}
	// The directory comes up on the address the agent was given; the port
	// may be held briefly (TIME_WAIT of the refused attempts).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if ln, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("the directory cannot listen on %s again: %v", addr, err)
	}
	h, _ := topology.NewHandler(l.dir, "directory-token")
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	l.waitAgent(t, "fw-late", p)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Log(), "announced again after failures") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.Log(), "announced again after failures") {
		t.Errorf("recovery not logged:\n%s", p.Log())
	}
}

func TestAnnounceConfigErrors(t *testing.T) {
	bin := build(t)
	l := newAnnounceLab(t)
	empty := filepath.Join(l.tmp, "empty-token")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no token file", []string{"--announce", l.srv.URL}, "announce.token-file: the directory needs a bearer token"},
		{"missing token file", []string{"--announce", l.srv.URL, "--announce-token-file", filepath.Join(l.tmp, "none")}, "announce.token-file: open "},
		{"empty token", []string{"--announce", l.srv.URL, "--announce-token-file", empty}, "announce.token-file: " + empty + " is empty"},
		{"not a URL", []string{"--announce", "directory:8080", "--announce-token-file", l.tokenFile}, `announce.url: "directory:8080" is not an http(s) URL`},
		{"interval too short", []string{"--announce", l.srv.URL, "--announce-token-file", l.tokenFile, "--announce-interval", "1ms"}, "announce.interval: 1ms is too short"},
		{"location without URL", []string{"--announce-location", "rack-1"}, "announce.location: given without announce.url"},
		{"every address, no announce address", []string{"--announce", l.srv.URL, "--announce-token-file", l.tokenFile,
			"--netconf-listen", "0.0.0.0:0"}, "announce.address: netconf.listen 0.0.0.0:0 listens on every address"},
		{"bad name", []string{"--announce", l.srv.URL, "--announce-token-file", l.tokenFile, "--announce-name", "fw/1"}, `announce.name: "fw/1" is not a name`},
		{"bad domain", []string{"--announce", l.srv.URL, "--announce-token-file", l.tokenFile, "--announce-domain", "a b"}, `announce.domain: "a b" is not a name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(bin, l.agentArgs(tt.args...)...).CombinedOutput()
			if strings.Contains(string(out), "sami-agent serving") {
				t.Errorf("the agent served before refusing its configuration:\n%s", out)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, out)
			}
		})
	}
}
