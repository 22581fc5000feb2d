package ietfnat

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/netconf"
)

// fakeNAT is a NETCONF backend that serves canned replies (fixtures written
// by hand) and records what the driver sends: enough to test the driver's
// streaming and error mapping without a real device.
type fakeNAT struct {
	mu      sync.Mutex
	caps    []string
	get     string // children of <data> for <get>
	config  string // children of <data> for <get-config> (any datastore)
	edits   []string
	commits []netconf.CommitRequest
	cancels []string
	errs    map[string]error // operation name -> the error it answers
	chunked bool             // write replies in 64 KiB pieces (no copy of the whole reply)
}

func newFake() *fakeNAT {
	return &fakeNAT{
		caps: []string{netconf.CapBase10, netconf.CapBase11, netconf.CapCandidate, netconf.CapConfirmedCommit1,
			netconf.CapRollbackOnError, Namespace + "?module=ietf-nat&revision=2019-01-10&features=napt44,dst-nat"},
		errs: map[string]error{},
	}
}

func (f *fakeNAT) fail(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs[op]
}

func (f *fakeNAT) setErr(op string, err error) {
	f.mu.Lock()
	f.errs[op] = err
	f.mu.Unlock()
}

func (f *fakeNAT) Capabilities() []string { return f.caps }

func (f *fakeNAT) Get(_ context.Context, _ netconf.Peer, _ *netconf.FilterSpec, w io.Writer) error {
	if err := f.fail("get"); err != nil {
		return err
	}
	f.mu.Lock()
	data, chunked := f.get, f.chunked
	f.mu.Unlock()
	if !chunked {
		_, err := io.WriteString(w, data)
		return err
	}
	for len(data) > 0 {
		n := min(len(data), 64<<10)
		if _, err := io.WriteString(w, data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (f *fakeNAT) GetConfig(_ context.Context, _ netconf.Peer, _ netconf.Datastore, _ *netconf.FilterSpec, w io.Writer) error {
	if err := f.fail("get-config"); err != nil {
		return err
	}
	f.mu.Lock()
	data := f.config
	f.mu.Unlock()
	_, err := io.WriteString(w, data)
	return err
}

func (f *fakeNAT) EditConfig(_ context.Context, _ netconf.Peer, req *netconf.EditRequest) error {
	b, err := netconf.CaptureElement(req.Config, req.NS)
	if err != nil {
		return err
	}
	if err := f.fail("edit-config"); err != nil {
		return err
	}
	f.mu.Lock()
	f.edits = append(f.edits, string(b))
	f.mu.Unlock()
	return nil
}

func (f *fakeNAT) CopyConfig(context.Context, netconf.Peer, netconf.Datastore, netconf.Datastore) error {
	return nil
}
func (f *fakeNAT) DeleteConfig(context.Context, netconf.Peer, netconf.Datastore) error { return nil }
func (f *fakeNAT) Lock(context.Context, netconf.Peer, netconf.Datastore) error {
	return f.fail("lock")
}
func (f *fakeNAT) Unlock(context.Context, netconf.Peer, netconf.Datastore) error {
	return f.fail("unlock")
}
func (f *fakeNAT) DiscardChanges(context.Context, netconf.Peer) error { return f.fail("discard") }
func (f *fakeNAT) Validate(context.Context, netconf.Peer, netconf.Datastore) error {
	return nil
}

func (f *fakeNAT) Commit(_ context.Context, _ netconf.Peer, req netconf.CommitRequest) error {
	if err := f.fail("commit"); err != nil {
		return err
	}
	f.mu.Lock()
	f.commits = append(f.commits, req)
	f.mu.Unlock()
	return nil
}

func (f *fakeNAT) CancelCommit(_ context.Context, _ netconf.Peer, persistID string) error {
	if err := f.fail("cancel-commit"); err != nil {
		return err
	}
	f.mu.Lock()
	f.cancels = append(f.cancels, persistID)
	f.mu.Unlock()
	return nil
}

func (f *fakeNAT) SessionClosed(context.Context, netconf.Peer) {}

// serveFake serves f over NETCONF/SSH on loopback and returns a driver
// config for it (key auth, host key verified).
func serveFake(t testing.TB, f *fakeNAT) device.Config {
	t.Helper()
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	host, _ := ssh.NewSignerFromKey(hk)
	_, ck, _ := ed25519.GenerateKey(rand.Reader)
	client, _ := ssh.NewSignerFromKey(ck)
	srv, err := netconf.NewServer(f, netconf.WithHostKey(host), netconf.WithServerUser("sami", netconf.ReadWrite, "", client.PublicKey()))
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
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{ln.Addr().String()}, host.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "id_ed25519")
	block, err := ssh.MarshalPrivateKey(ck, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return device.Config{
		Name: "fake-nat", Driver: Name, Address: ln.Addr().String(), Timeout: 10 * time.Second,
		Credentials: device.Credentials{User: "sami", KeyFile: key, KnownHosts: []string{kh}},
	}
}

// fixtureData returns the children of the <data> element of a fixture.
func fixtureData(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start, end := strings.Index(s, "<nat "), strings.LastIndex(s, "</nat>")
	if start < 0 || end < 0 {
		t.Fatalf("%s has no <nat>", name)
	}
	return s[start : end+len("</nat>")]
}
