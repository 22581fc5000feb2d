package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/peertest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ncclientPython is Debian's interpreter, which has python3-ncclient; a
// python3 earlier in PATH (pyenv) need not have it.
const ncclientPython = "/usr/bin/python3"

// ctNetns is a network namespace made for one test, deleted in t.Cleanup.
type ctNetns struct {
	t    *testing.T
	name string
}

func newCtNetns(t *testing.T) *ctNetns {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "sami-nc-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v %s", name, err, out)
		}
	})
	return &ctNetns{t: t, name: name}
}

func (n *ctNetns) conntrack(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name, "conntrack"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("conntrack %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// ctTimeout is the remaining-timeout column of a conntrack -L line, which
// changes by itself.
var ctTimeout = regexp.MustCompile(`^(\S+\s+\d+\s+)\d+\s+`)

// table lists the namespace's conntrack table, one entry a line, without
// the timeouts, sorted: two listings are equal when the table holds the same
// entries in the same states.
func (n *ctNetns) table() ([]string, error) {
	out, err := n.conntrack("-L")
	if err != nil {
		return nil, err
	}
	var lines []string
	for l := range strings.Lines(out) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, ctTimeout.ReplaceAllString(l, "$1"))
		}
	}
	sort.Strings(lines)
	return lines, nil
}

// ctHas reports whether one line of table holds every field.
func ctHas(table, fields []string) bool {
	for _, l := range table {
		f := strings.Fields(l)
		all := true
		for _, want := range fields {
			if !slices.Contains(f, want) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// The entries the test and the script use (see testdata/ncclient_conntrack.py).
var (
	ctTCP = []string{"tcp", "ESTABLISHED", "src=10.9.0.1", "dst=10.9.0.2", "sport=40000", "dport=443"}
	ctUDP = []string{"udp", "src=10.9.0.5", "dst=10.9.0.6", "sport=5353", "dport=53"}
)

// startConntrackAgent runs the binary on the conntrack table of ns with a
// password user; it is killed in t.Cleanup. It returns the NETCONF address
// and a known_hosts file naming the agent's host key at that address.
func startConntrackAgent(t *testing.T, ns, user, password string) (addr, knownHosts string, log func() string) {
	t.Helper()
	bin := build(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--netconf-listen", "127.0.0.1:0", "--host-key", filepath.Join(dir, "hk"), "--generate-host-key",
		"--user", user, "--password-file", filepath.Join(dir, "pw"), "--backend", "conntrack", "--netns", "/run/netns/"+ns)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var buf strings.Builder
	log = func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	re := regexp.MustCompile(`netconf=(127\.0\.0\.1:\d+)`)
	addrc := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			buf.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-logDone
		cmd.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", log())
		}
	})
	select {
	case addr = <-addrc:
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not start:\n%s", log())
	}
	pub, err := os.ReadFile(filepath.Join(dir, "hk.pub"))
	if err != nil {
		t.Fatal(err)
	}
	hk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	knownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(knownhosts.Line([]string{addr}, hk)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return addr, knownHosts, log
}

// TestNcclientConntrackAgent drives the real binary on a kernel conntrack
// table with ncclient (testdata/ncclient_conntrack.py): <get> shows an entry
// the kernel holds, a confirmed commit installs a UDP session in the kernel
// and its timeout removes exactly that one, and a commit of a session with a
// helper the kernel does not know fails with an rpc-error and leaves the
// kernel table as it was. The script's checks and the kernel checks made at
// its markers are subtests.
func TestNcclientConntrackAgent(t *testing.T) {
	_, err := exec.LookPath("conntrack")
	peertest.Need(t, "root and the conntrack tool", os.Geteuid() == 0 && err == nil, "run as root with the conntrack package (apt-get install conntrack)")
	out, err := exec.Command(ncclientPython, "-c", "import ncclient, lxml, paramiko").CombinedOutput()
	peertest.Need(t, "ncclient for "+ncclientPython, err == nil,
		fmt.Sprintf("as root: apt-get install python3-ncclient (it is run with %s) (%v: %s)", ncclientPython, err, bytes.TrimSpace(out)))

	ns := newCtNetns(t)
	if _, err := ns.conntrack("-I", "-p", "tcp", "-s", "10.9.0.1", "-d", "10.9.0.2",
		"--sport", "40000", "--dport", "443", "--state", "ESTABLISHED", "-u", "ASSURED", "-t", "600"); err != nil {
		t.Fatal(err)
	}
	addr, kh, _ := startConntrackAgent(t, ns.name, "sami", "secret")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ncclientPython, "testdata/ncclient_conntrack.py", host, port, "sami", "secret", kh)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	// kernelCheck runs a check of the kernel table as a subtest.
	kernelCheck := func(name string, f func(table []string) error) {
		tb, err := ns.table()
		if err == nil {
			err = f(tb)
		}
		t.Run("kernel "+name, func(t *testing.T) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	show := func(tb []string) string { return "\n\t" + strings.Join(tb, "\n\t") }

	// The bad-helper steps: the table when the script announced the step,
	// compared with the table after it (at its end marker, or at the
	// script's exit when that marker never came).
	var before []string
	pending := ""
	unchanged := func(step string) {
		kernelCheck("unchanged after the failed commit ("+step+")", func(tb []string) error {
			if !slices.Equal(tb, before) {
				var added, gone []string
				for _, l := range tb {
					if !slices.Contains(before, l) {
						added = append(added, l)
					}
				}
				for _, l := range before {
					if !slices.Contains(tb, l) {
						gone = append(gone, l)
					}
				}
				return fmt.Errorf("the table changed: %d entries added:%s\n%d entries gone:%s", len(added), show(added), len(gone), show(gone))
			}
			return nil
		})
		pending = ""
	}
	bad := map[string]string{"READY-BAD-HELPER": "unknown helper", "READY-BAD-BATCH": "unknown helper with valid companions"}
	done := map[string]string{"REJECTED": "READY-BAD-HELPER", "REJECTED-BATCH": "READY-BAD-BATCH"}

	checks, failed := 0, 0
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		marker := true
		switch line {
		case "READY-COMMITTED":
			kernelCheck("holds the UDP and TCP entries after the confirmed commit", func(tb []string) error {
				if !ctHas(tb, ctUDP) || !ctHas(tb, ctTCP) {
					return fmt.Errorf("want the UDP 10.9.0.5:5353 > 10.9.0.6:53 and the TCP ESTABLISHED entry:%s", show(tb))
				}
				return nil
			})
		case "ROLLED-BACK":
			kernelCheck("after the rollback: UDP entry gone, TCP entry kept", func(tb []string) error {
				switch {
				case ctHas(tb, ctUDP):
					return fmt.Errorf("the confirmed commit's UDP entry is still in the kernel:%s", show(tb))
				case !ctHas(tb, ctTCP):
					return fmt.Errorf("the rollback removed the TCP entry that was there before:%s", show(tb))
				}
				return nil
			})
		case "READY-BAD-HELPER", "READY-BAD-BATCH":
			if pending != "" {
				unchanged(bad[pending])
			}
			if before, err = ns.table(); err != nil {
				t.Error(err)
			}
			pending = line
		case "REJECTED", "REJECTED-BATCH":
			if pending != done[line] {
				t.Errorf("script printed %s without %s before it", line, done[line])
			} else {
				unchanged(bad[pending])
			}
		default:
			marker = false
		}
		if marker {
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				t.Errorf("writing to the script after %s: %v", line, err)
			}
			continue
		}
		check, passed := peertest.ReportCheck(t, line)
		if check {
			checks++
			if !passed {
				failed++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("reading the script's output: %v", err)
	}
	stdin.Close()
	err = cmd.Wait()
	if pending != "" {
		unchanged(bad[pending] + ", checked at the script's exit")
	}
	if ctx.Err() != nil {
		t.Errorf("ncclient_conntrack.py did not finish within the time limit")
	}
	var ee *exec.ExitError
	switch {
	case err == nil && failed > 0:
		t.Errorf("ncclient_conntrack.py exited 0 although %d checks failed", failed)
	case errors.As(err, &ee) && failed == 0:
		t.Errorf("ncclient_conntrack.py failed without a FAIL line: %v\n%s", err, stderr.Bytes())
	case err != nil:
		t.Errorf("ncclient_conntrack.py: %v (%d of %d checks failed)\n%s", err, failed, checks, stderr.Bytes())
	}
	if want := 4; checks < want {
		t.Errorf("ncclient_conntrack.py reported %d checks, want %d\n%s", checks, want, stderr.Bytes())
	}
}
