package netconf_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/datastore"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ownServer is sami's NETCONF server with the datastore over the sami model,
// listening on loopback, as the agent will run it.
type ownServer struct {
	target
	Store   *datastore.Store
	KeyFile string
}

func startOwnServer(t testing.TB, storeOpts []datastore.Option, opts ...netconf.ServerOption) *ownServer {
	t.Helper()
	codec, err := flow.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	store, err := datastore.New(codec, func() ygot.GoStruct { return &flowstate.Device{} }, storeOpts...)
	if err != nil {
		t.Fatal(err)
	}
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	host, _ := ssh.NewSignerFromKey(hk)
	_, ck, _ := ed25519.GenerateKey(rand.Reader)
	client, _ := ssh.NewSignerFromKey(ck)
	dir := t.TempDir()
	pemBlock, err := ssh.MarshalPrivateKey(ck, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	os.WriteFile(keyFile, pemEncode(pemBlock), 0o600)
	base := []netconf.ServerOption{
		netconf.WithHostKey(host),
		netconf.WithServerUser("sami", netconf.ReadWrite, "sami-pw", client.PublicKey()),
		netconf.WithServerUser("viewer", netconf.ReadOnly, "viewer-pw"),
	}
	srv, err := netconf.NewServer(datastore.NewBackend(store, codec, flow.ModuleCapabilities()...), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); srv.Close(); <-done })
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{ln.Addr().String()}, host.PublicKey())+"\n"), 0o600)
	return &ownServer{
		target:  target{Addr: ln.Addr().String(), User: "sami", Password: "sami-pw", KnownHosts: kh, Key: netconf.WithSigners(client), Log: func() string { return "" }},
		Store:   store,
		KeyFile: keyFile,
	}
}

// TestConformanceOwnServer runs the conformance suite against our server.
func TestConformanceOwnServer(t *testing.T) {
	s := startOwnServer(t, nil)
	conformance(t, &s.target)
}

func pemEncode(b *pem.Block) []byte { return pem.EncodeToMemory(b) }
