package peertest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The OS user that NETCONF sessions log in as. It is created (with this
// password, a home directory and /bin/bash as shell) when it does not exist;
// an existing user is used as it is, so its password must be NetconfdPassword
// for password authentication to work.
const (
	NetconfdUser     = "ncuser"
	NetconfdPassword = "ncpass"
)

const (
	startTimeout = 15 * time.Second // for each of sshd and netconfd to become ready
	stopGrace    = 5 * time.Second  // SIGTERM -> SIGKILL
	yumaModules  = "/usr/share/yuma/modules"
	installHow   = "as root: bash .ci/install-peers (or apt-get install netconfd openssh-server)"
	readyLine    = "Running netconfd server"
	emptyConfig  = `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>` + "\n"
)

// Netconfd is a running yuma123 netconfd behind a private OpenSSH sshd on
// 127.0.0.1. Clients connect with SSH to Addr and open the "netconf"
// subsystem. Both daemons are stopped when the test that started them ends.
type Netconfd struct {
	Addr           string          // "127.0.0.1:PORT" of the private sshd
	User, Password string          // OS user for SSH password authentication
	KeyFile        string          // client private key (ed25519, unencrypted) authorized for User
	HostKeys       []ssh.PublicKey // the sshd host keys (ed25519, rsa)
	KnownHosts     string          // known_hosts file listing HostKeys for [127.0.0.1]:PORT
	Dir            string          // scratch dir: netconfd.log, sshd.log, configs; kept when the test fails

	cfg        netconfdConfig
	port       int
	bins       map[string]string
	mu         sync.Mutex
	sshd       *proc
	netconfd   *proc
	generation int // netconfd starts so far
}

// NetconfdOption configures StartNetconfd.
type NetconfdOption func(*netconfdConfig)

type netconfdConfig struct {
	modules     []string
	modpath     []string
	withStartup bool
	logLevel    string
}

// WithModule loads the YANG module file at path into netconfd (--module), as
// a module without server instrumentation (SIL): its configuration is stored
// and validated. Imports are resolved from the file's directory and from
// /usr/share/yuma/modules (which has ietf-inet-types and ietf-yang-types).
// It may be given more than once.
func WithModule(path string) NetconfdOption {
	return func(c *netconfdConfig) { c.modules = append(c.modules, path) }
}

// WithModulePath adds directories to netconfd's module search path
// (--modpath), ahead of the modules' own directories and yuma's, e.g. a
// vendor folder that holds a module's imports.
func WithModulePath(dirs ...string) NetconfdOption {
	return func(c *netconfdConfig) { c.modpath = append(c.modpath, dirs...) }
}

// WithStartup enables the :startup capability (--with-startup=true). Without
// it (the default) netconfd saves running into its startup file on every
// commit.
func WithStartup(on bool) NetconfdOption {
	return func(c *netconfdConfig) { c.withStartup = on }
}

// WithLogLevel sets netconfd's --log-level (default "info"; "debug2" logs
// every NETCONF message).
func WithLogLevel(level string) NetconfdOption {
	return func(c *netconfdConfig) { c.logLevel = level }
}

// StartNetconfd starts netconfd and a private sshd for it, waits until both
// are ready, and registers their shutdown with t.Cleanup. The datastores
// start empty; the candidate target and :validate are enabled. When root or
// a program is missing the test is skipped or failed, see Need. Several
// instances may run at once (in one or several processes).
func StartNetconfd(t testing.TB, opts ...NetconfdOption) *Netconfd {
	t.Helper()
	n := &Netconfd{User: NetconfdUser, Password: NetconfdPassword, cfg: netconfdConfig{logLevel: "info"}}
	for _, o := range opts {
		o(&n.cfg)
	}
	Need(t, "not running as root (needed to create the NETCONF user and start sshd)", os.Geteuid() == 0,
		"run the interop tests as root, as CI does")
	n.bins = map[string]string{}
	for _, b := range []struct{ name, how string }{
		{"netconfd", installHow},
		{"netconf-subsystem", installHow},
		{"sshd", installHow},
		{"ssh-keygen", "as root: apt-get install openssh-client"},
		{"useradd", "as root: apt-get install passwd"},
		{"chpasswd", "as root: apt-get install passwd"},
		{"getent", "as root: apt-get install libc-bin"},
	} {
		p := findBin(b.name)
		Need(t, b.name+" is not installed (needed for the yuma123 netconfd peer)", p != "", b.how)
		n.bins[b.name] = p
	}
	for _, list := range [][]string{n.cfg.modules, n.cfg.modpath} {
		for i, m := range list {
			abs, err := filepath.Abs(m)
			if err == nil {
				_, err = os.Stat(abs)
			}
			if err != nil {
				t.Fatalf("peertest: netconfd module or module path %s: %v", m, err)
			}
			list[i] = abs
		}
	}

	dir, err := scratchDir("sami-nc-")
	if err != nil {
		t.Fatalf("peertest: scratch dir: %v", err)
	}
	n.Dir = dir
	t.Cleanup(func() { n.cleanup(t) })

	if err := ensureUser(n.User, n.Password); err != nil {
		t.Fatalf("peertest: NETCONF user: %v", err)
	}
	if err := n.makeKeys(); err != nil {
		t.Fatalf("peertest: keys: %v", err)
	}
	if err := n.startSSHD(t); err != nil {
		t.Fatalf("peertest: sshd for netconfd did not start: %v\n--- %s/sshd.log ---\n%s",
			err, n.Dir, tail(n.path("sshd.log"), 40))
	}
	if err := n.writeKnownHosts(); err != nil {
		t.Fatalf("peertest: known_hosts: %v", err)
	}
	if err := n.startNetconfd(t); err != nil {
		t.Fatalf("peertest: netconfd did not start: %v\n--- %s ---\n%s\n--- netconfd stdout/stderr ---\n%s",
			err, n.path("netconfd.log"), n.Log(), tail(n.path("netconfd.out"), 20))
	}
	return n
}

func (n *Netconfd) path(name string) string { return filepath.Join(n.Dir, name) }

func (n *Netconfd) sock() string { return n.path("ncxserver.sock") }

// Log returns the tail of netconfd.log (the current run's), for failure
// messages. netconfd buffers its log file: while it runs, the newest lines
// (e.g. "Session N ... now active") may be missing; the tail printed by the
// cleanup of a failed test, after netconfd has exited, is complete.
func (n *Netconfd) Log() string { return tail(n.path("netconfd.log"), 60) }

// sshLog returns the tail of sshd.log.
func (n *Netconfd) sshLog() string { return tail(n.path("sshd.log"), 40) }

// Restart stops netconfd and starts it again with a fresh, empty
// configuration (running, candidate and startup). sshd keeps running, so Addr
// and the keys stay the same; open NETCONF sessions are dropped. The previous
// run's log is kept as netconfd.log.N.
func (n *Netconfd) Restart(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	p := n.netconfd
	n.netconfd = nil
	n.mu.Unlock()
	if p != nil {
		if err := p.stop(stopGrace); err != nil {
			t.Logf("peertest: %v", err)
		}
	}
	if err := n.startNetconfd(t); err != nil {
		t.Fatalf("peertest: netconfd did not restart: %v\n--- %s ---\n%s\n--- netconfd stdout/stderr ---\n%s",
			err, n.path("netconfd.log"), n.Log(), tail(n.path("netconfd.out"), 20))
	}
}

// Stop stops netconfd and its sshd now: the device is unreachable for the
// rest of the test, as a device that vanished. The files stay for the
// cleanup. Stop is idempotent.
func (n *Netconfd) Stop(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	procs := []*proc{n.netconfd, n.sshd}
	n.mu.Unlock()
	for _, p := range procs {
		if p == nil {
			continue
		}
		if err := p.stop(stopGrace); err != nil {
			t.Logf("peertest: %v", err)
		}
	}
}

func (n *Netconfd) makeKeys() error {
	keygen := func(typ string, bits int, file string) error {
		args := []string{"-q", "-t", typ, "-N", "", "-C", "sami-peertest", "-f", n.path(file)}
		if bits > 0 {
			args = append(args, "-b", strconv.Itoa(bits))
		}
		if out, err := exec.Command(n.bins["ssh-keygen"], args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ssh-keygen %s: %v: %s", file, err, out)
		}
		return nil
	}
	errs := make(chan error, 3)
	go func() { errs <- keygen("ed25519", 0, "ssh_host_ed25519_key") }()
	go func() { errs <- keygen("rsa", 3072, "ssh_host_rsa_key") }()
	go func() { errs <- keygen("ed25519", 0, "client_ed25519") }()
	var err error
	for range 3 {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		return err
	}
	n.KeyFile = n.path("client_ed25519")
	for _, f := range []string{"ssh_host_ed25519_key.pub", "ssh_host_rsa_key.pub"} {
		data, err := os.ReadFile(n.path(f))
		if err != nil {
			return err
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		n.HostKeys = append(n.HostKeys, k)
	}
	pub, err := os.ReadFile(n.path("client_ed25519.pub"))
	if err != nil {
		return err
	}
	// Read by sshd as the user: world-readable in a world-traversable dir.
	return os.WriteFile(n.path("authorized_keys"), pub, 0o644)
}

func (n *Netconfd) writeKnownHosts() error {
	var b strings.Builder
	for _, k := range n.HostKeys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(n.Addr)}, k))
		b.WriteByte('\n')
	}
	n.KnownHosts = n.path("known_hosts")
	return os.WriteFile(n.KnownHosts, []byte(b.String()), 0o644)
}

// sshdConfig is the private sshd's configuration. It does not read
// /etc/ssh/sshd_config. StrictModes is off because the authorized_keys file
// lies in a directory under /tmp (world-writable, which StrictModes rejects).
func (n *Netconfd) sshdConfig() string {
	return fmt.Sprintf(`# private sshd for one yuma123 netconfd (sami peertest)
Port %[1]d
ListenAddress 127.0.0.1
HostKey %[2]s/ssh_host_ed25519_key
HostKey %[2]s/ssh_host_rsa_key
PidFile %[2]s/sshd.pid
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile %[2]s/authorized_keys
UsePAM yes
PermitRootLogin no
AllowUsers %[3]s
StrictModes no
LogLevel VERBOSE
Subsystem netconf %[4]s --ncxserver-sockname=%[1]d@%[5]s
`, n.port, n.Dir, n.User, n.bins["netconf-subsystem"], n.sock())
}

// startSSHD starts sshd on a free port, retrying with another port when the
// bind fails because something else took the port meanwhile.
func (n *Netconfd) startSSHD(t testing.TB) error {
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation dir
		return err
	}
	if len(n.sock()) > 100 {
		return fmt.Errorf("socket path too long for a UNIX socket: %s", n.sock())
	}
	var lastErr error
	for attempt := 1; attempt <= 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		n.port = port
		n.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := os.WriteFile(n.path("sshd_config"), []byte(n.sshdConfig()), 0o644); err != nil {
			return err
		}
		p, err := startProc("sshd", n.Dir, n.path("sshd.log"), n.bins["sshd"], "-D", "-e", "-f", n.path("sshd_config"))
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.sshd = p
		n.mu.Unlock()
		listening := fmt.Sprintf("Server listening on 127.0.0.1 port %d", port)
		err = waitFor(p, startTimeout, func() bool {
			if !fileContains(n.path("sshd.log"), listening) {
				return false
			}
			c, err := net.DialTimeout("tcp", n.Addr, time.Second)
			if err != nil {
				return false
			}
			c.Close()
			return true
		})
		if err == nil {
			return nil
		}
		lastErr = err
		if p.exited() && fileContains(n.path("sshd.log"), "Address already in use") {
			t.Logf("peertest: port %d was taken before sshd bound it; retrying (attempt %d)", port, attempt)
			continue
		}
		return err
	}
	return fmt.Errorf("no free port after 5 attempts: %w", lastErr)
}

// netconfdArgs are netconfd's flags (each given once: netconfd exits on a
// repeated flag, except the leaf-list --module).
func (n *Netconfd) netconfdArgs() []string {
	modpath := []string{}
	seen := map[string]bool{}
	for _, d := range n.cfg.modpath {
		if !seen[d] {
			seen[d] = true
			modpath = append(modpath, d)
		}
	}
	for _, m := range n.cfg.modules {
		if d := filepath.Dir(m); !seen[d] {
			seen[d] = true
			modpath = append(modpath, d)
		}
	}
	modpath = append(modpath, yumaModules)
	args := []string{
		"--target=candidate",
		"--with-startup=" + strconv.FormatBool(n.cfg.withStartup),
		"--with-validate=true",
	}
	for _, m := range n.cfg.modules {
		args = append(args, "--module="+m)
	}
	return append(args,
		"--modpath="+strings.Join(modpath, ":"),
		"--superuser="+n.User,
		"--port="+strconv.Itoa(n.port),
		"--ncxserver-sockname="+n.sock(),
		"--startup="+n.path("startup-cfg.xml"),
		// Without --yuma-home every netconfd of the user shares
		// ~/.yuma/startup-cfg-txid.txt; with it the file is <dir>/data/.
		"--yuma-home="+n.Dir,
		"--log="+n.path("netconfd.log"),
		"--log-level="+n.cfg.logLevel,
	)
}

// startNetconfd starts netconfd with an empty startup configuration and waits
// until it serves; it fails when the log shows an error (e.g. a module that
// does not load).
func (n *Netconfd) startNetconfd(t testing.TB) error {
	if n.generation > 0 { // keep the previous run's log
		os.Rename(n.path("netconfd.log"), n.path("netconfd.log."+strconv.Itoa(n.generation)))
	}
	n.generation++
	// netconfd does not remove its socket on SIGTERM, and a stale socket
	// makes the next start fail.
	if err := os.Remove(n.sock()); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.RemoveAll(n.path("data")); err != nil {
		return err
	}
	if err := os.MkdirAll(n.path("data"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(n.path("startup-cfg.xml"), []byte(emptyConfig), 0o644); err != nil {
		return err
	}
	os.Remove(n.path("netconfd.log"))
	p, err := startProc("netconfd", n.Dir, n.path("netconfd.out"), n.bins["netconfd"], n.netconfdArgs()...)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.netconfd = p
	n.mu.Unlock()
	err = waitFor(p, startTimeout, func() bool {
		if !fileContains(n.path("netconfd.log"), readyLine) {
			return false
		}
		_, err := os.Stat(n.sock())
		return err == nil
	})
	if err != nil {
		return err
	}
	if errs := grepLines(n.path("netconfd.log"), "Error", "error:"); len(errs) > 0 {
		return fmt.Errorf("netconfd logged errors:\n%s", strings.Join(errs, "\n"))
	}
	for _, w := range grepLines(n.path("netconfd.log"), "Warning") {
		if !strings.Contains(w, "SIL code for module") { // expected: modules have no server code
			t.Logf("peertest: netconfd: %s", w)
		}
	}
	return nil
}

// cleanup stops both daemons and removes Dir unless the test failed.
func (n *Netconfd) cleanup(t testing.TB) {
	n.mu.Lock()
	procs := []*proc{n.netconfd, n.sshd}
	n.mu.Unlock()
	for _, p := range procs {
		if p == nil {
			continue
		}
		if err := p.stop(stopGrace); err != nil {
			t.Logf("peertest: %v", err)
		}
	}
	if t.Failed() {
		t.Logf("peertest: test failed; netconfd/sshd files kept in %s\n--- netconfd.log (tail) ---\n%s\n--- sshd.log (tail) ---\n%s",
			n.Dir, n.Log(), n.sshLog())
		return
	}
	os.RemoveAll(n.Dir)
}
