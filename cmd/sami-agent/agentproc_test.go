package main_test

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// agentProc is the real sami-agent binary running for a test.
type agentProc struct {
	cmd           *exec.Cmd
	NETCONF, GNMI string // listen addresses, from the "serving" log line

	mu      sync.Mutex
	log     strings.Builder
	logDone chan struct{}
	wait    sync.Once
	waitErr error
}

var servingRe = regexp.MustCompile(`sami-agent serving" netconf=(\S+) gnmi=(\S*)`)

// startAgent runs bin with args and waits until it serves; the process is
// killed at cleanup, and its log printed when the test failed.
func startAgent(t *testing.T, bin string, args ...string) *agentProc {
	t.Helper()
	p := &agentProc{cmd: exec.Command(bin, args...), logDone: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	up := make(chan [2]string, 1)
	go func() {
		defer close(p.logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case up <- [2]string{m[1], m[2]}:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", p.Log())
		}
	})
	select {
	case a := <-up:
		p.NETCONF, p.GNMI = a[0], strings.Trim(a[1], `"`)
	case <-time.After(20 * time.Second):
		t.Fatalf("agent did not start:\n%s", p.Log())
	}
	return p
}

// Wait waits for the process to exit (once; later calls return the same).
func (p *agentProc) Wait() error {
	p.wait.Do(func() {
		<-p.logDone
		p.waitErr = p.cmd.Wait()
	})
	return p.waitErr
}

// Log is what the agent printed so far.
func (p *agentProc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// knownHosts writes a known_hosts file for the agent's NETCONF address from
// its host public key file.
func (p *agentProc) knownHosts(t *testing.T, pubFile string) string {
	t.Helper()
	pub, err := os.ReadFile(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	hk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	kh := pubFile + ".known_hosts"
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{p.NETCONF}, hk)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return kh
}
