package peertest_test

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sami-netops/sami/pkg/peertest"
)

const (
	modelFile  = "../../yang/sami-flow-state.yang"
	samiNS     = "urn:sami:params:xml:ns:yang:sami-flow-state"
	samiCap    = samiNS + "?module=sami-flow-state&revision=2026-11-21"
	eom        = "]]>]]>"
	baseNS     = "urn:ietf:params:xml:ns:netconf:base:1.0"
	ioTimeout  = 10 * time.Second
	helloPause = 200 * time.Millisecond

	clientHello = `<?xml version="1.0" encoding="UTF-8"?><hello xmlns="` + baseNS + `"><capabilities>` +
		`<capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>` + eom

	sessionID  = "0/6/10.0.0.1/1000/10.0.0.2/443"
	editConfig = `<edit-config><target><candidate/></target><config>` +
		`<flow-state xmlns="` + samiNS + `"><sessions><session><id>` + sessionID + `</id>` +
		`<address-family>ipv4</address-family><protocol>6</protocol><original>` +
		`<source-address>10.0.0.1</source-address><destination-address>10.0.0.2</destination-address>` +
		`<source-port>1000</source-port><destination-port>443</destination-port></original>` +
		`</session></sessions></flow-state></config></edit-config>`
	getConfigRunning = `<get-config><source><running/></source></get-config>`
	getFlowState     = `<get><filter type="subtree"><flow-state xmlns="` + samiNS + `"/></filter></get>`
)

// ncSession is a minimal NETCONF base:1.0 (end-of-message framing) session
// over golang.org/x/crypto/ssh, just enough to exercise the peer.
type ncSession struct {
	t      testing.TB
	client *ssh.Client
	sess   *ssh.Session
	w      io.WriteCloser
	r      *bufio.Reader
	caps   []string
	id     int
}

func keyAuth(t testing.TB, n *peertest.Netconfd) ssh.AuthMethod {
	t.Helper()
	pem, err := os.ReadFile(n.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatalf("client key %s: %v", n.KeyFile, err)
	}
	return ssh.PublicKeys(signer)
}

func dial(t testing.TB, n *peertest.Netconfd, knownHostsFile string, auth ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	hk, err := knownhosts.New(knownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.Dial("tcp", n.Addr, &ssh.ClientConfig{
		User:            n.User,
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: hk,
		Timeout:         ioTimeout,
	})
}

// openNetconf connects, opens the netconf subsystem, sends our hello at once
// and waits for the server's hello. Only then may the first rpc be sent
// (yuma123 quirk 3: hello and rpc in one read are not processed).
func openNetconf(t testing.TB, n *peertest.Netconfd, auth ssh.AuthMethod) *ncSession {
	t.Helper()
	client, err := dial(t, n, n.KnownHosts, auth)
	if err != nil {
		t.Fatalf("ssh to %s: %v\nsshd log in %s", n.Addr, err, n.Dir)
	}
	sess, err := client.NewSession()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	w, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestSubsystem("netconf"); err != nil {
		client.Close()
		t.Fatalf("netconf subsystem: %v", err)
	}
	s := &ncSession{t: t, client: client, sess: sess, w: w, r: bufio.NewReader(r)}
	t.Cleanup(func() { s.client.Close() })
	if _, err := io.WriteString(w, clientHello); err != nil {
		t.Fatalf("write hello: %v", err)
	}
	hello := s.read(n)
	var h struct {
		XMLName      xml.Name `xml:"hello"`
		Capabilities []string `xml:"capabilities>capability"`
		SessionID    string   `xml:"session-id"`
	}
	if err := xml.Unmarshal([]byte(hello), &h); err != nil {
		t.Fatalf("server hello: %v\n%s", err, hello)
	}
	for _, c := range h.Capabilities {
		s.caps = append(s.caps, strings.TrimSpace(c))
	}
	if h.SessionID == "" {
		t.Fatalf("server hello without session-id:\n%s", hello)
	}
	// yuma123 quirk 3: an rpc that reaches netconfd in the same read as our
	// hello is not processed until more bytes arrive. The server's hello does
	// not prove that netconfd has read ours (it sends its hello first), and
	// its log is buffered, so there is nothing to wait for: pause instead.
	// (Measured here under -race: rpc right after the server's hello hung in
	// about 1 of 40 sessions; with this pause in none of 100.)
	time.Sleep(helloPause)
	return s
}

// read returns the next message (without the end-of-message marker).
func (s *ncSession) read(n *peertest.Netconfd) string {
	s.t.Helper()
	type result struct {
		msg string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var buf bytes.Buffer
		for {
			b, err := s.r.ReadByte()
			if err != nil {
				ch <- result{buf.String(), err}
				return
			}
			buf.WriteByte(b)
			if bytes.HasSuffix(buf.Bytes(), []byte(eom)) {
				ch <- result{strings.TrimSpace(strings.TrimSuffix(buf.String(), eom)), nil}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			s.t.Fatalf("read NETCONF message: %v (got %q)\n--- netconfd.log ---\n%s", r.err, r.msg, n.Log())
		}
		return r.msg
	case <-time.After(ioTimeout):
		s.client.Close() // unblocks the reader
		s.t.Fatalf("no NETCONF message within %v\n--- netconfd.log ---\n%s", ioTimeout, n.Log())
		return ""
	}
}

// rpc sends one rpc and returns its rpc-reply, checking the message-id.
func (s *ncSession) rpc(n *peertest.Netconfd, body string) string {
	s.t.Helper()
	s.id++
	msg := fmt.Sprintf(`<rpc message-id="%d" xmlns="%s">%s</rpc>%s`, s.id, baseNS, body, eom)
	if _, err := io.WriteString(s.w, msg); err != nil {
		s.t.Fatalf("write rpc: %v", err)
	}
	reply := s.read(n)
	var r struct {
		XMLName   xml.Name `xml:"rpc-reply"`
		MessageID string   `xml:"message-id,attr"`
	}
	if err := xml.Unmarshal([]byte(reply), &r); err != nil {
		s.t.Fatalf("rpc %d: not an rpc-reply: %v\n%s", s.id, err, reply)
	}
	if r.MessageID != fmt.Sprint(s.id) {
		s.t.Fatalf("rpc-reply message-id %q, want %d\n%s", r.MessageID, s.id, reply)
	}
	return reply
}

// ok sends an rpc that must answer <ok/>.
func (s *ncSession) ok(n *peertest.Netconfd, body string) {
	s.t.Helper()
	reply := s.rpc(n, body)
	if strings.Contains(reply, "rpc-error") || !strings.Contains(reply, "<ok/>") {
		s.t.Fatalf("rpc %s: want <ok/>, got\n%s\n--- netconfd.log ---\n%s", body, reply, n.Log())
	}
}

func (s *ncSession) close(n *peertest.Netconfd) {
	s.t.Helper()
	s.ok(n, `<close-session/>`)
	s.client.Close()
}

func hasCap(caps []string, c string) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}

func startModel(t testing.TB, opts ...peertest.NetconfdOption) *peertest.Netconfd {
	t.Helper()
	n := peertest.StartNetconfd(t, append([]peertest.NetconfdOption{peertest.WithModule(modelFile)}, opts...)...)
	startedDirs.Lock()
	startedDirs.dirs = append(startedDirs.dirs, n.Dir)
	startedDirs.Unlock()
	// The model must load without errors (StartNetconfd fails on "Error" lines);
	// the only expected warning is the missing server code (SIL).
	for _, l := range strings.Split(n.Log(), "\n") {
		if strings.Contains(l, "sami-flow-state") {
			t.Logf("netconfd.log: %s", l)
		}
	}
	return n
}

// TestInteropNetconfdHello: key auth with a verified host key, the server's
// hello advertises our model and the candidate/confirmed-commit features;
// get-config answers; password auth works on a second connection.
func TestInteropNetconfdHello(t *testing.T) {
	n := startModel(t)
	t.Logf("netconfd at %s (dir %s)", n.Addr, n.Dir)

	s := openNetconf(t, n, keyAuth(t, n))
	for _, c := range []string{
		samiCap,
		"urn:ietf:params:netconf:base:1.0",
		"urn:ietf:params:netconf:capability:candidate:1.0",
		"urn:ietf:params:netconf:capability:confirmed-commit:1.1",
		"urn:ietf:params:netconf:capability:validate:1.1",
	} {
		if !hasCap(s.caps, c) {
			t.Errorf("server hello lacks %s; it has:\n%s", c, strings.Join(s.caps, "\n"))
		}
	}
	if hasCap(s.caps, "urn:ietf:params:netconf:capability:startup:1.0") {
		t.Errorf("startup capability advertised without WithStartup(true)")
	}
	t.Logf("server capabilities (%d):\n%s", len(s.caps), strings.Join(s.caps, "\n"))
	reply := s.rpc(n, getConfigRunning)
	if !strings.Contains(reply, "<data") {
		t.Errorf("get-config running: no <data>:\n%s", reply)
	}
	t.Logf("get-config running (empty):\n%s", reply)

	p := openNetconf(t, n, ssh.Password(n.Password))
	if !hasCap(p.caps, samiCap) {
		t.Errorf("password session: hello lacks %s", samiCap)
	}
	if r := p.rpc(n, getConfigRunning); !strings.Contains(r, "<data") {
		t.Errorf("password session get-config: %s", r)
	}
	p.close(n)
	s.close(n)
}

// TestInteropNetconfdEditCommit: a session of our model goes into candidate,
// is committed, and is in running; <get> with a subtree filter shows it.
func TestInteropNetconfdEditCommit(t *testing.T) {
	n := startModel(t)
	s := openNetconf(t, n, keyAuth(t, n))
	s.ok(n, editConfig)
	if r := s.rpc(n, getConfigRunning); strings.Contains(r, sessionID) {
		t.Fatalf("session in running before commit:\n%s", r)
	}
	s.ok(n, `<commit/>`)
	r := s.rpc(n, getConfigRunning)
	for _, want := range []string{sessionID, "<address-family>ipv4</address-family>", "<destination-port>443</destination-port>"} {
		if !strings.Contains(r, want) {
			t.Errorf("running after commit lacks %s:\n%s", want, r)
		}
	}
	g := s.rpc(n, getFlowState)
	if !strings.Contains(g, sessionID) {
		t.Errorf("<get> flow-state lacks the session:\n%s", g)
	}
	t.Logf("<get> with subtree filter <flow-state/> returned:\n%s", g)

	// An invalid session (mandatory address-family missing, protocol not a
	// uint8) is refused, so the model is enforced, not just stored.
	bad := strings.Replace(strings.Replace(editConfig, "<address-family>ipv4</address-family>", "", 1),
		"<protocol>6</protocol>", "<protocol>600</protocol>", 1)
	if r := s.rpc(n, bad); !strings.Contains(r, "rpc-error") {
		t.Errorf("edit-config with protocol 600 accepted:\n%s", r)
	}
	s.ok(n, `<discard-changes/>`)
	s.close(n)
}

// TestInteropNetconfdRestart: Restart gives empty datastores on the same address.
func TestInteropNetconfdRestart(t *testing.T) {
	n := startModel(t)
	addr := n.Addr
	s := openNetconf(t, n, keyAuth(t, n))
	s.ok(n, editConfig)
	s.ok(n, `<commit/>`)
	s.close(n)

	n.Restart(t)
	if n.Addr != addr {
		t.Fatalf("address changed on restart: %s -> %s", addr, n.Addr)
	}
	s = openNetconf(t, n, ssh.Password(n.Password))
	if r := s.rpc(n, getConfigRunning); strings.Contains(r, sessionID) {
		t.Errorf("running not empty after Restart:\n%s", r)
	}
	if r := s.rpc(n, `<get-config><source><candidate/></source></get-config>`); strings.Contains(r, sessionID) {
		t.Errorf("candidate not empty after Restart:\n%s", r)
	}
	s.close(n)
}

// TestInteropNetconfdStartup: WithStartup(true) advertises :startup.
func TestInteropNetconfdStartup(t *testing.T) {
	n := startModel(t, peertest.WithStartup(true))
	s := openNetconf(t, n, keyAuth(t, n))
	if !hasCap(s.caps, "urn:ietf:params:netconf:capability:startup:1.0") {
		t.Errorf("no :startup capability with WithStartup(true)")
	}
	s.close(n)
}

// TestInteropNetconfdSeveral: two instances in one process, started at
// once, are independent, and each one's host key check rejects the other.
// They are started from two goroutines: as parallel subtests each waiting
// for the other to be up, they deadlocked under -parallel 1 (the default
// on a one-CPU machine), where only one subtest runs at a time.
func TestInteropNetconfdSeveral(t *testing.T) {
	peers := make([]*peertest.Netconfd, 2)
	tbs := make([]*fakeTB, len(peers)) // a failed start ends its goroutine only
	var wg sync.WaitGroup
	for i := range peers {
		tbs[i] = &fakeTB{TB: t}
		wg.Go(func() { peers[i] = startModel(tbs[i]) })
	}
	wg.Wait() // both are up at the same time
	for i, f := range tbs {
		switch f.kind {
		case "skip":
			t.Skipf("instance %d: %s", i, f.msg)
		case "fatal":
			t.Fatalf("instance %d: %s", i, f.msg)
		}
	}
	s := openNetconf(t, peers[0], keyAuth(t, peers[0]))
	s.ok(peers[0], editConfig)
	s.ok(peers[0], `<commit/>`)
	s.close(peers[0])
	for i, n := range peers {
		other := peers[1-i]
		if _, err := dial(t, n, other.KnownHosts, keyAuth(t, n)); err == nil || !strings.Contains(err.Error(), "knownhosts") {
			t.Errorf("dial %s with the other instance's known_hosts: want a knownhosts error, got %v", n.Addr, err)
		}
		if n.Addr == other.Addr || n.Dir == other.Dir {
			t.Errorf("instances share an address or dir: %s %s", n.Addr, n.Dir)
		}
		s := openNetconf(t, n, keyAuth(t, n))
		r := s.rpc(n, getConfigRunning)
		if has := strings.Contains(r, sessionID); has != (i == 0) {
			t.Errorf("instance %d: running has the session = %v:\n%s", i, has, r)
		}
		s.close(n)
	}
}

// TestNeedPolicy: a missing peer skips, or fails with SAMI_REQUIRE_PEERS=1.
func TestNeedPolicy(t *testing.T) {
	for _, req := range []string{"", "1"} {
		t.Run("require="+req, func(t *testing.T) {
			t.Setenv(peertest.RequireEnv, req)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() { // Skipf/Fatalf end the goroutine, as in a real test
				defer close(done)
				peertest.Need(f, "frobd", true, "apt-get install frobd")
				peertest.Need(f, "frobd", false, "apt-get install frobd")
			}()
			<-done
			want := "skip"
			if req == "1" {
				want = "fatal"
			}
			if f.kind != want || !strings.HasPrefix(f.msg, "PEER MISSING: frobd") || !strings.Contains(f.msg, "apt-get install frobd") {
				t.Errorf("got %s %q, want %s with PEER MISSING and the install hint", f.kind, f.msg, want)
			}
			if want == "skip" && !strings.Contains(f.msg, "did NOT run") {
				t.Errorf("skip message does not say the test did not run: %q", f.msg)
			}
		})
	}
}

type fakeTB struct {
	testing.TB
	kind, msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.kind, f.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.kind, f.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// startedDirs lists the Dir of every instance this test binary started, to
// tell our processes from those of other test binaries running meanwhile.
var startedDirs struct {
	sync.Mutex
	dirs []string
}

// TestMain fails the run when a daemon started here outlives the tests:
// cleanup must have stopped them.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		var left []string
		for {
			left = ourDaemons()
			if len(left) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(left) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: processes left behind by peertest:\n%s\n", strings.Join(left, "\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// ourDaemons lists (pgrep -a) netconfd, sshd and netconf-subsystem processes
// whose command line names a directory of an instance started here.
func ourDaemons() []string {
	startedDirs.Lock()
	dirs := startedDirs.dirs
	startedDirs.Unlock()
	var out []string
	for _, args := range [][]string{{"-a", "netconfd"}, {"-a", "sshd"}, {"-a", "-f", "/netconf-subsystem"}} {
		b, _ := exec.Command("pgrep", args...).Output()
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			for _, d := range dirs {
				if strings.Contains(l, d+"/") {
					out = append(out, l)
					break
				}
			}
		}
	}
	return out
}
