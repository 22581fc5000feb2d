package netconf_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/netconf/framing"
	"github.com/sami-netops/sami/pkg/xmltok"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// recorder is a Backend that records what it is asked and answers from
// fields the test sets.
type recorder struct {
	mu      sync.Mutex
	calls   []string
	data    string
	err     error
	closed  []uint64
	configs []string
}

func (r *recorder) rec(format string, args ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
	return r.err
}

func (r *recorder) Capabilities() []string {
	return []string{netconf.CapCandidate, netconf.CapConfirmedCommit1}
}
func (r *recorder) Get(_ context.Context, p netconf.Peer, f *netconf.FilterSpec, w io.Writer) error {
	if err := r.rec("get %s", filterString(f)); err != nil {
		return err
	}
	_, err := io.WriteString(w, r.data)
	return err
}
func (r *recorder) GetConfig(_ context.Context, p netconf.Peer, src netconf.Datastore, f *netconf.FilterSpec, w io.Writer) error {
	if err := r.rec("get-config %s %s", src, filterString(f)); err != nil {
		return err
	}
	_, err := io.WriteString(w, r.data)
	return err
}
func (r *recorder) EditConfig(_ context.Context, p netconf.Peer, req *netconf.EditRequest) error {
	// Consume <config> token by token, collecting the element names.
	var names []string
	depth := 0
	for {
		k, err := req.Config.Next()
		if err != nil {
			return err
		}
		if k == xmltok.StartElement {
			depth++
			names = append(names, string(req.Config.Local()))
		}
		if k == xmltok.EndElement {
			if depth == 0 {
				break
			}
			depth--
		}
	}
	r.mu.Lock()
	r.configs = append(r.configs, strings.Join(names, ","))
	r.mu.Unlock()
	return r.rec("edit-config %s %s/%s/%s ns=%s", req.Target, req.DefaultOperation, req.TestOption, req.ErrorOption, req.NS[""])
}
func (r *recorder) CopyConfig(_ context.Context, p netconf.Peer, t, s netconf.Datastore) error {
	return r.rec("copy-config %s %s", t, s)
}
func (r *recorder) DeleteConfig(_ context.Context, p netconf.Peer, t netconf.Datastore) error {
	return r.rec("delete-config %s", t)
}
func (r *recorder) Lock(_ context.Context, p netconf.Peer, t netconf.Datastore) error {
	return r.rec("lock %s by %d", t, p.SessionID)
}
func (r *recorder) Unlock(_ context.Context, p netconf.Peer, t netconf.Datastore) error {
	return r.rec("unlock %s", t)
}
func (r *recorder) DiscardChanges(_ context.Context, p netconf.Peer) error {
	return r.rec("discard-changes")
}
func (r *recorder) Validate(_ context.Context, p netconf.Peer, s netconf.Datastore) error {
	return r.rec("validate %s", s)
}
func (r *recorder) Commit(_ context.Context, p netconf.Peer, c netconf.CommitRequest) error {
	return r.rec("commit %+v", c)
}
func (r *recorder) CancelCommit(_ context.Context, p netconf.Peer, id string) error {
	return r.rec("cancel-commit %q", id)
}
func (r *recorder) SessionClosed(_ context.Context, p netconf.Peer) {
	r.mu.Lock()
	r.closed = append(r.closed, p.SessionID)
	r.mu.Unlock()
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return ""
	}
	return r.calls[len(r.calls)-1]
}

func filterString(f *netconf.FilterSpec) string {
	if f == nil {
		return "nofilter"
	}
	if f.Type == "xpath" {
		return "xpath:" + f.Select
	}
	return "subtree:" + string(f.Content)
}

type testServer struct {
	addr       string
	knownHosts string
	key        ssh.Signer
	srv        *netconf.Server
}

func startServer(t *testing.T, be netconf.Backend, opts ...netconf.ServerOption) *testServer {
	t.Helper()
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	host, _ := ssh.NewSignerFromKey(hk)
	_, ck, _ := ed25519.GenerateKey(rand.Reader)
	client, _ := ssh.NewSignerFromKey(ck)
	base := []netconf.ServerOption{
		netconf.WithHostKey(host),
		netconf.WithServerUser("admin", netconf.ReadWrite, "secret", client.PublicKey()),
		netconf.WithServerUser("viewer", netconf.ReadOnly, "look"),
	}
	srv, err := netconf.NewServer(be, append(base, opts...)...)
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
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{ln.Addr().String()}, host.PublicKey())+"\n"), 0o600)
	return &testServer{addr: ln.Addr().String(), knownHosts: kh, key: client, srv: srv}
}

func (ts *testServer) dial(t *testing.T, opts ...netconf.DialOption) *netconf.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := []netconf.DialOption{netconf.WithUser("admin"), netconf.WithSigners(ts.key), netconf.WithKnownHosts(ts.knownHosts)}
	s, err := netconf.Dial(ctx, ts.addr, append(base, opts...)...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServerOperations(t *testing.T) {
	for _, base10 := range []bool{false, true} {
		t.Run(fmt.Sprintf("base10only=%v", base10), func(t *testing.T) {
			be := &recorder{data: `<top xmlns="urn:t"><leaf>1</leaf></top>`}
			ts := startServer(t, be)
			var so []netconf.Option
			if base10 {
				so = append(so, netconf.WithBase10Only())
			}
			s := ts.dial(t, netconf.WithSessionOptions(so...))
			if s.Chunked() == base10 {
				t.Fatalf("chunked=%v with base10only=%v", s.Chunked(), base10)
			}
			ctx := context.Background()
			steps := []struct {
				do   func() error
				want string
			}{
				{func() error { return s.Lock(ctx, netconf.Candidate) }, fmt.Sprintf("lock candidate by %d", s.ID())},
				{func() error {
					return s.EditConfig(ctx, netconf.Candidate, netconf.ConfigXML(`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><top xmlns="urn:t"><leaf>2</leaf></top></config>`),
						netconf.DefaultOperation("none"), netconf.TestOption("test-then-set"), netconf.ErrorOption("rollback-on-error"))
				}, "edit-config candidate none/test-then-set/rollback-on-error ns=urn:ietf:params:xml:ns:netconf:base:1.0"},
				{func() error { return s.Validate(ctx, netconf.Candidate) }, "validate candidate"},
				{func() error { return s.Commit(ctx, netconf.ConfirmTimeout(90*time.Second), netconf.Persist("p1")) }, "commit {Confirmed:true Timeout:1m30s Persist:p1 PersistID:}"},
				{func() error { return s.Commit(ctx, netconf.PersistID("p1")) }, "commit {Confirmed:false Timeout:0s Persist: PersistID:p1}"},
				{func() error { return s.CancelCommit(ctx, "p1") }, `cancel-commit "p1"`},
				{func() error { return s.DiscardChanges(ctx) }, "discard-changes"},
				{func() error { return s.CopyConfig(ctx, netconf.Startup, netconf.Running) }, "copy-config startup running"},
				{func() error { return s.DeleteConfig(ctx, netconf.Startup) }, "delete-config startup"},
				{func() error { return s.Unlock(ctx, netconf.Candidate) }, "unlock candidate"},
				{func() error {
					_, err := s.GetConfig(ctx, netconf.Running, netconf.Subtree(`<top xmlns="urn:t"/>`))
					return err
				}, `get-config running subtree:<top xmlns="urn:t"></top>`},
				{func() error {
					_, err := s.Get(ctx, netconf.XPath("/t:top", map[string]string{"t": "urn:t"}))
					return err
				}, "get xpath:/t:top"},
			}
			for i, st := range steps {
				if err := st.do(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := be.last(); got != st.want {
					t.Errorf("step %d: backend got %q, want %q", i, got, st.want)
				}
			}
			rep, err := s.Get(ctx, nil)
			if err != nil || !strings.Contains(string(rep.Data), "<leaf>1</leaf>") {
				t.Fatalf("get data: %v %s", err, rep.Data)
			}
			if be.configs[0] != "top,leaf" {
				t.Errorf("config streamed to the backend: %q", be.configs[0])
			}
		})
	}
}

func TestServerErrorsAndPermissions(t *testing.T) {
	be := &recorder{}
	ts := startServer(t, be)
	ctx := context.Background()
	s := ts.dial(t)

	be.err = &netconf.RPCError{Type: "protocol", Tag: "lock-denied", Severity: "error", Message: "held", Info: map[string]string{"session-id": "9"}}
	err := s.Lock(ctx, netconf.Running)
	var re *netconf.RPCError
	if !errors.As(err, &re) || re.Tag != "lock-denied" || re.Info["session-id"] != "9" || re.Message != "held" {
		t.Fatalf("lock-denied: %#v", err)
	}
	be.err = errors.New("disk on fire")
	if err := s.Commit(ctx); !errors.As(err, &re) || re.Tag != "operation-failed" || !strings.Contains(re.Message, "disk on fire") {
		t.Fatalf("plain error: %v", err)
	}
	if _, err := s.Get(ctx, nil); !errors.As(err, &re) || re.Tag != "operation-failed" {
		t.Fatalf("get error before data: %v", err)
	}
	be.err = nil

	// Unknown operation, unknown datastore, bad confirm-timeout.
	_, err = s.Call(ctx, netconf.OpFunc(func(w io.Writer) error { _, err := io.WriteString(w, `<frobnicate/>`); return err }))
	if !errors.As(err, &re) || re.Tag != "operation-not-supported" {
		t.Fatalf("unknown op: %v", err)
	}
	_, err = s.Call(ctx, netconf.OpFunc(func(w io.Writer) error { _, err := io.WriteString(w, `<x:get xmlns:x="urn:other"/>`); return err }))
	if !errors.As(err, &re) || re.Tag != "operation-not-supported" {
		t.Fatalf("op in another namespace: %v", err)
	}
	if err := s.Lock(ctx, netconf.Datastore("attic")); !errors.As(err, &re) || re.Tag != "operation-not-supported" {
		t.Fatalf("unknown datastore: %v", err)
	}
	_, err = s.Call(ctx, netconf.OpFunc(func(w io.Writer) error {
		_, err := io.WriteString(w, `<commit><confirmed/><confirm-timeout>soon</confirm-timeout></commit>`)
		return err
	}))
	if !errors.As(err, &re) || re.Tag != "invalid-value" {
		t.Fatalf("bad confirm-timeout: %v", err)
	}

	// Read-only users may read, not write.
	v := ts.dial(t, netconf.WithUser("viewer"), netconf.WithPassword("look"))
	if _, err := v.Get(ctx, nil); err != nil {
		t.Fatalf("viewer get: %v", err)
	}
	if err := v.Lock(ctx, netconf.Candidate); !errors.As(err, &re) || re.Tag != "access-denied" {
		t.Fatalf("viewer lock: %v", err)
	}

	// kill-session of another session, and of itself.
	other := ts.dial(t)
	if err := s.KillSession(ctx, other.ID()); err != nil {
		t.Fatalf("kill-session: %v", err)
	}
	select {
	case <-other.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("killed session still up")
	}
	if err := s.KillSession(ctx, s.ID()); !errors.As(err, &re) || re.Tag != "invalid-value" {
		t.Fatalf("kill self: %v", err)
	}
	if err := s.CloseSession(ctx); err != nil {
		t.Fatalf("close-session: %v", err)
	}
	// The server tells the backend after the session's end, which the
	// client may see first: wait for both.
	closed := func() int {
		be.mu.Lock()
		defer be.mu.Unlock()
		return len(be.closed)
	}
	deadline := time.Now().Add(10 * time.Second)
	for closed() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := closed(); n < 2 {
		t.Errorf("backend saw %d sessions close, want at least 2 (killed + closed)", n)
	}
}

func TestServerAuthAndLimits(t *testing.T) {
	be := &recorder{}
	ts := startServer(t, be, netconf.WithMaxSessions(2), netconf.WithIdleTimeout(300*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := netconf.Dial(ctx, ts.addr, netconf.WithUser("admin"), netconf.WithPassword("nope"), netconf.WithKnownHosts(ts.knownHosts)); !errors.Is(err, netconf.ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := netconf.Dial(ctx, ts.addr, netconf.WithUser("admin"), netconf.WithPassword("secret"), netconf.WithKnownHosts(filepath.Join(t.TempDir(), "none"))); err == nil {
		t.Fatal("dial without a known_hosts entry succeeded")
	}
	a := ts.dial(t)
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("idle session not closed")
	}
	// The session limit on a server without the short idle timeout, so the
	// two sessions that fill it cannot be idled out under load.
	ts = startServer(t, be, netconf.WithMaxSessions(2))
	ts.dial(t)
	ts.dial(t)
	_, err := netconf.Dial(ctx, ts.addr, netconf.WithUser("admin"), netconf.WithSigners(ts.key), netconf.WithKnownHosts(ts.knownHosts))
	if err == nil {
		t.Fatal("third session accepted with WithMaxSessions(2)")
	}
}

// rawSession talks to ServeTransport over a pipe with hand-made bytes.
func rawSession(t *testing.T, srv *netconf.Server) (net.Conn, *framing.Reader, chan error) {
	t.Helper()
	c, s := net.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- srv.ServeTransport(context.Background(), s, netconf.Peer{User: "raw", Perm: netconf.ReadWrite})
	}()
	fr := framing.NewReader(c)
	// Synchronous, so nothing a test writes next can overtake the hello.
	// (The server writes its own hello concurrently, so this cannot block.)
	if _, err := io.WriteString(c, `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>`); err != nil {
		t.Fatal(err)
	}
	m, err := fr.NextMessage()
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, m)
	return c, fr, done
}

func TestServerMalformedInput(t *testing.T) {
	srv, err := netconf.NewServer(&recorder{}, netconf.WithServerMaxMessageSize(1<<16))
	if err != nil {
		t.Fatal(err)
	}
	read := func(fr *framing.Reader) string {
		m, err := fr.NextMessage()
		if err != nil {
			return "ERR " + err.Error()
		}
		b, _ := io.ReadAll(m)
		return string(b)
	}
	t.Run("bad xml, then a good rpc on the same session", func(t *testing.T) {
		c, fr, _ := rawSession(t, srv)
		defer c.Close()
		go io.WriteString(c, `<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get></rpc>]]>]]>`)
		if got := read(fr); !strings.Contains(got, "malformed-message") {
			t.Fatalf("reply: %s", got)
		}
		go io.WriteString(c, `<rpc message-id="2" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><discard-changes/></rpc>]]>]]>`)
		if got := read(fr); !strings.Contains(got, `message-id="2"`) || !strings.Contains(got, "<ok/>") {
			t.Fatalf("reply: %s", got)
		}
	})
	t.Run("garbage in a well-framed message gets malformed-message, session stays", func(t *testing.T) {
		c, fr, _ := rawSession(t, srv)
		defer c.Close()
		go io.WriteString(c, "\x01\x02garbage]]>]]>")
		if got := read(fr); !strings.Contains(got, "malformed-message") {
			t.Fatalf("reply: %s", got)
		}
		go io.WriteString(c, `<rpc message-id="3" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><discard-changes/></rpc>]]>]]>`)
		if got := read(fr); !strings.Contains(got, "<ok/>") {
			t.Fatalf("reply: %s", got)
		}
	})
	t.Run("missing message-id", func(t *testing.T) {
		c, fr, _ := rawSession(t, srv)
		defer c.Close()
		go io.WriteString(c, `<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>]]>]]>`)
		if got := read(fr); !strings.Contains(got, "missing-attribute") || !strings.Contains(got, "message-id") {
			t.Fatalf("reply: %s", got)
		}
	})
	t.Run("attributes echoed", func(t *testing.T) {
		c, fr, _ := rawSession(t, srv)
		defer c.Close()
		go io.WriteString(c, `<rpc message-id="7" user-tag="x&amp;y" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><discard-changes/></rpc>]]>]]>`)
		if got := read(fr); !strings.Contains(got, `message-id="7"`) || !strings.Contains(got, `user-tag="x&amp;y"`) {
			t.Fatalf("reply: %s", got)
		}
	})
	for name, junk := range map[string]string{
		"oversized message":      `<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get>` + strings.Repeat(" ", 1<<17),
		"peer stops mid-message": `<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><ge`,
	} {
		t.Run(name, func(t *testing.T) {
			c, fr, done := rawSession(t, srv)
			go func() {
				io.WriteString(c, junk)
				if name == "peer stops mid-message" {
					time.Sleep(100 * time.Millisecond)
					c.Close()
				}
			}()
			deadline := time.After(5 * time.Second)
			go func() {
				for {
					if _, err := fr.NextMessage(); err != nil {
						return
					}
				}
			}()
			select {
			case <-done:
			case <-deadline:
				t.Fatal("server session did not end within 5 s")
			}
			c.Close()
		})
	}
}
