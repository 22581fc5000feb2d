package sandbox_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/sandbox"
	"github.com/sami-netops/sami/pkg/simfw"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func newSandbox(t *testing.T, opts ...sandbox.SandboxOption) *sandbox.Sandbox {
	t.Helper()
	s, err := sandbox.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSandboxServesAgentsAndCloseStopsThem(t *testing.T) {
	s := newSandbox(t)
	a, fw, err := s.StartSim(ctx(t), "fwA", simfw.Vendors()["sami-sim"], sandbox.WithPassword("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.StartSim(ctx(t), "fwB", simfw.Vendors()["basic"])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{a.KeyFile, a.KeyFile + ".pub", a.KnownHosts, a.CAFile, a.PasswordFile} {
		if !strings.HasPrefix(f, filepath.Join(s.Dir(), "fwA")+string(filepath.Separator)) {
			t.Errorf("%s is not in the agent's directory", f)
		}
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if got := s.Agent("fwB"); got != b || len(s.Agents()) != 2 {
		t.Errorf("Agent(fwB) = %v, %d agents", got, len(s.Agents()))
	}
	c, err := a.Client(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Get(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	// Password login works with the file's password; the host key is
	// verified (fwB's known_hosts does not let us into fwA).
	pw, _ := os.ReadFile(a.PasswordFile)
	pc, err := netconf.Dial(ctx(t), a.Addr, netconf.WithUser(a.User), netconf.WithPassword(strings.TrimSpace(string(pw))), netconf.WithKnownHosts(a.KnownHosts))
	if err != nil {
		t.Fatalf("password login: %v", err)
	}
	pc.Close()
	if _, err := netconf.Dial(ctx(t), a.Addr, netconf.WithUser(a.User), netconf.WithKeyFile(a.KeyFile, ""), netconf.WithKnownHosts(b.KnownHosts)); !errors.Is(err, netconf.ErrHostKey) {
		t.Errorf("dial with another agent's known_hosts: %v, want ErrHostKey", err)
	}
	gnmiCaps(t, a)

	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if a.Running() || b.Running() {
		t.Error("Close left agents running")
	}
	if _, err := fw.Len(), fw.Upsert(ctx(t), nil); err == nil {
		t.Error("Close left the simulated firewall open")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Close left the temporary directory: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := s.StartSim(ctx(t), "fwC", simfw.Vendors()["basic"]); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("StartSim after Close: %v, want ErrClosed", err)
	}
}

func TestWithDirKeepsFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	s := newSandbox(t, sandbox.WithDir(dir))
	a, _, err := s.StartSim(ctx(t), "fw1", simfw.Vendors()["basic"])
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(a.KeyFile); err != nil {
		t.Errorf("Close removed a directory it did not make: %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	s := newSandbox(t)
	fw := simfw.New(simfw.Vendors()["basic"])
	defer fw.Close()
	if _, err := s.Start(ctx(t), "fw1", fw); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"empty name", func() error { _, err := s.Start(ctx(t), "", fw); return err }, `agent name ""`},
		{"empty name without a sandbox", func() error { _, err := sandbox.Start(ctx(t), t.TempDir(), "", fw); return err }, "agent name is empty"},
		{"path in the name", func() error { _, err := s.Start(ctx(t), "../x", fw); return err }, `agent name "../x"`},
		{"twice", func() error { _, err := s.Start(ctx(t), "fw1", fw); return err }, `agent "fw1" started twice`},
		{"nil backend", func() error { _, err := s.Start(ctx(t), "fw2", nil); return err }, "agent fw2: nil backend"},
		{"no directory", func() error {
			_, err := sandbox.Start(ctx(t), filepath.Join(t.TempDir(), "missing"), "fw3", fw)
			return err
		}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, sandbox.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalid naming %q", err, tc.want)
			}
		})
	}
}

func TestStopAndRestartKeepAddressesAndIdentity(t *testing.T) {
	dir := t.TempDir()
	fw := simfw.New(simfw.Vendors()["sami-sim"])
	defer fw.Close()
	a, err := sandbox.Start(ctx(t), dir, "fw1", fw)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	addr, gaddr := a.Addr, a.GNMIAddr
	a.Stop()
	a.Stop()
	if _, err := a.Client(ctx(t)); err == nil {
		t.Fatal("dial after Stop succeeded")
	}
	if err := a.Restart(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if a.Addr != addr || a.GNMIAddr != gaddr {
		t.Errorf("Restart moved the agent: %s %s, was %s %s", a.Addr, a.GNMIAddr, addr, gaddr)
	}
	c, err := a.Client(ctx(t)) // the old known_hosts still verifies it
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func gnmiCaps(t *testing.T, a *sandbox.Agent) {
	t.Helper()
	pem, err := os.ReadFile(a.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient(a.GNMIAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := gpb.NewGNMIClient(conn).Capabilities(ctx(t), &gpb.CapabilityRequest{}); err != nil {
		t.Fatalf("gNMI Capabilities over TLS: %v", err)
	}
}
