package agenttest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/yangxml"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

func session(port uint16) *flow.Session {
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(17),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.1"), DestinationAddress: ygot.String("192.0.2.1"),
			SourcePort: ygot.Uint16(port), DestinationPort: ygot.Uint16(53),
		},
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStartServesNETCONFWithVerifiedHostKey(t *testing.T) {
	a, fw := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	if err := fw.Upsert(ctx(t), []*flow.Session{session(1000)}); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Client(t).Get(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rep.Data), session(1000).GetId()) {
		t.Errorf("<get> does not show the session: %.300s", rep.Data)
	}
	cfg := a.Config()
	if cfg.Driver != "sami" || cfg.Address != a.Addr || cfg.GNMIAddress != a.GNMIAddr || cfg.Name != "fw1" {
		t.Errorf("Config = %+v", cfg)
	}
	if cfg.Credentials.InsecureIgnoreHostKey || len(cfg.Credentials.KnownHosts) != 1 || cfg.Credentials.CAFile == "" {
		t.Errorf("Config credentials do not verify the device: %+v", cfg.Credentials.Redacted())
	}
	// Another agent's known_hosts does not let us in: the host key is checked.
	b, _ := agenttest.StartSim(t, "fw2", simfw.Vendors()["sami-sim"])
	_, err = netconf.Dial(ctx(t), a.Addr, netconf.WithUser(a.User), netconf.WithKeyFile(a.KeyFile, ""), netconf.WithKnownHosts(b.KnownHosts))
	if !errors.Is(err, netconf.ErrHostKey) {
		t.Errorf("dial with the wrong known_hosts: %v, want ErrHostKey", err)
	}
}

func TestPassword(t *testing.T) {
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"], agenttest.WithPassword("s3cret"))
	s, err := netconf.Dial(ctx(t), a.Addr, netconf.WithUser(a.User), netconf.WithPassword("s3cret"), netconf.WithKnownHosts(a.KnownHosts))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := netconf.Dial(ctx(t), a.Addr, netconf.WithUser(a.User), netconf.WithPassword("wrong"), netconf.WithKnownHosts(a.KnownHosts)); !errors.Is(err, netconf.ErrAuth) {
		t.Errorf("wrong password: %v, want ErrAuth", err)
	}
	if a.Config().Credentials.Password != "s3cret" {
		t.Error("Config does not carry the password")
	}
}

func TestReadOnly(t *testing.T) {
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"], agenttest.WithReadOnly())
	var re *netconf.RPCError
	if err := a.Client(t).Lock(ctx(t), netconf.Candidate); !errors.As(err, &re) {
		t.Errorf("lock as a read-only user: %v, want an rpc-error", err)
	}
}

func TestStopDropsConnectionsAndRestartKeepsIdentityAndState(t *testing.T) {
	a, fw := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	c := a.Client(t)
	// A persistent confirmed commit survives the outage; the table too.
	if err := c.Lock(ctx(t), netconf.Candidate); err != nil {
		t.Fatal(err)
	}
	codec, _ := flow.NewCodec()
	err := c.EditConfig(ctx(t), netconf.Candidate, netconf.ConfigFunc(func(w io.Writer) error {
		le, err := codec.NewListEncoder(w, flow.SessionsPath, yangxml.Wrapper("config"), yangxml.ConfigOnly())
		if err != nil {
			return err
		}
		if err := le.Encode(session(1)); err != nil {
			return err
		}
		return le.Close()
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx(t), netconf.Confirmed(), netconf.Persist("p1")); err != nil {
		t.Fatal(err)
	}
	if fw.Len() != 1 {
		t.Fatalf("after the confirmed commit the device holds %d sessions, want 1", fw.Len())
	}
	addr, gaddr := a.Addr, a.GNMIAddr
	a.Stop()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Stop left the client session up")
	}
	if _, err := netconf.Dial(ctx(t), a.Addr, netconf.WithUser(a.User), netconf.WithKeyFile(a.KeyFile, ""), netconf.WithKnownHosts(a.KnownHosts)); err == nil {
		t.Fatal("dial after Stop succeeded")
	}
	a.Stop() // twice is harmless
	a.Restart(t)
	if a.Addr != addr || a.GNMIAddr != gaddr {
		t.Fatalf("Restart moved: %s %s, was %s %s", a.Addr, a.GNMIAddr, addr, gaddr)
	}
	if err := fw.Upsert(ctx(t), []*flow.Session{session(7)}); err != nil {
		t.Fatal(err)
	}
	// Same host key (the old known_hosts verifies it), same backend, and
	// the persistent commit is still pending.
	if fw.Len() != 2 {
		t.Fatalf("after Restart the device holds %d sessions, want the committed one and the new one", fw.Len())
	}
	if err := a.Client(t).CancelCommit(ctx(t), "p1"); err != nil {
		t.Fatalf("cancel the persistent commit after Restart: %v", err)
	}
	if fw.Len() != 1 {
		t.Errorf("cancel after Restart left %d sessions, want 1 (traffic's)", fw.Len())
	}
	rep, err := a.Client(t).Get(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rep.Data), session(7).GetId()) {
		t.Error("after Restart <get> does not show the backend's session")
	}
	gnmiCaps(t, a)
}

// gnmiCaps calls Capabilities over gNMI with the certificate of Config.
func gnmiCaps(t *testing.T, a *agenttest.Agent) {
	t.Helper()
	cfg := a.Config()
	creds := insecure.NewCredentials()
	if !cfg.Credentials.InsecurePlaintext {
		pem, err := os.ReadFile(cfg.Credentials.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		creds = credentials.NewTLS(&tls.Config{RootCAs: pool})
	}
	conn, err := grpc.NewClient(cfg.GNMIAddress, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := gpb.NewGNMIClient(conn).Capabilities(ctx(t), &gpb.CapabilityRequest{})
	if err != nil {
		t.Fatalf("gNMI Capabilities: %v", err)
	}
	if len(resp.GetSupportedModels()) == 0 {
		t.Error("gNMI Capabilities reports no model")
	}
}

func TestGNMI(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []agenttest.Option
	}{
		{"tls", nil},
		{"plaintext", []agenttest.Option{agenttest.WithPlaintextGNMI()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"], tc.opts...)
			gnmiCaps(t, a)
		})
	}
	t.Run("without", func(t *testing.T) {
		a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"], agenttest.WithoutGNMI())
		if a.GNMIAddr != "" || a.Config().GNMIAddress != "" {
			t.Errorf("WithoutGNMI serves gNMI at %q", a.GNMIAddr)
		}
	})
}
