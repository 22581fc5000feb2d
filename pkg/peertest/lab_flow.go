package peertest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Flow is live traffic between the lab's client and server.
type Flow interface {
	// Check returns nil when the flow lost no data and was not reset. For
	// a bulk flow it waits for the transfer to finish and compares the
	// hashes; for an idle TCP or UDP flow it verifies that no probe failed
	// so far and that a new echo arrives now.
	Check() error
	// Stop ends the flow's processes. It is idempotent; the lab's cleanup
	// calls it too.
	Stop()
}

// roleProc is a role process (the test binary re-executed in a namespace)
// whose status lines are parsed as they come.
type roleProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exited and its output is read

	mu       sync.Mutex
	lines    []string // last lines, for error messages
	echoes   int      // ECHO lines
	maxRTT   time.Duration
	progress string // last PROGRESS line
	doneLine string // DONE line
	errLine  string // ERR line
	listen   bool   // LISTENING seen
	conn     bool   // CONNECTED seen
	waitErr  error
	stopOnce sync.Once
}

// startRole runs the test binary in ns as role with env (KEY=value).
func (l *Lab) startRole(t testing.TB, ns, role string, env ...string) *roleProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("lab: own executable: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("lab: pipe: %v", err)
	}
	cmd := l.Exec(ns, exe, "-test.run=^$") // harmless if RunRole is missing: runs no test
	cmd.Env = append(os.Environ(), RoleEnv+"="+role)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("lab: start %s in %s: %v", role, ns, err)
	}
	w.Close()
	p := &roleProc{name: role + "@" + ns, cmd: cmd, done: make(chan struct{})}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.line(sc.Text())
		}
		r.Close()
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p
}

func (p *roleProc) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.lines) >= 20 {
		p.lines = p.lines[1:]
	}
	p.lines = append(p.lines, s)
	f := strings.Fields(s)
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case "LISTENING":
		p.listen = true
	case "CONNECTED":
		p.conn = true
	case "ECHO":
		p.echoes++
		if len(f) >= 3 {
			if us, err := strconv.Atoi(f[2]); err == nil && time.Duration(us)*time.Microsecond > p.maxRTT {
				p.maxRTT = time.Duration(us) * time.Microsecond
			}
		}
	case "PROGRESS":
		p.progress = s
	case "DONE":
		p.doneLine = s
	case "ERR":
		if p.errLine == "" {
			p.errLine = s
		}
	}
}

func (p *roleProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// failure returns the process's error, if it reported one or exited.
func (p *roleProc) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.errLine != "" {
		return fmt.Errorf("%s: %s", p.name, strings.TrimPrefix(p.errLine, "ERR "))
	}
	if p.exited() && p.doneLine == "" {
		return fmt.Errorf("%s exited (%v) without a result; output:\n%s", p.name, p.waitErr, strings.Join(p.lines, "\n"))
	}
	return nil
}

// waitUntil polls cond every 10 ms for up to timeout; it stops early when
// the process has failed.
func (p *roleProc) waitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return nil
		}
		if err := p.failure(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			p.mu.Lock()
			defer p.mu.Unlock()
			return fmt.Errorf("%s: timed out after %v; output:\n%s", p.name, timeout, strings.Join(p.lines, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop SIGTERMs the process group, then SIGKILLs it after 1 s.
func (p *roleProc) stop() {
	p.stopOnce.Do(func() {
		pid := p.cmd.Process.Pid
		syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		syscall.Kill(-pid, syscall.SIGKILL) // stragglers of the group
	})
}

func (l *Lab) startServer(t testing.TB, role string, port int) *roleProc {
	t.Helper()
	addr := net.JoinHostPort(l.ServerAddr.String(), strconv.Itoa(port))
	srv := l.startRole(t, l.Server, role, roleAddrEnv+"="+addr)
	if err := srv.waitUntil(5*time.Second, func() bool { return srv.listen }); err != nil {
		t.Fatalf("lab: %v (did the test package's TestMain call peertest.RunRole?)", err)
	}
	return srv
}

// echoFlow is an idle TCP flow or a UDP flow: periodic probes with echoes.
type echoFlow struct {
	srv, cli *roleProc
	wait     time.Duration
}

func (f *echoFlow) Check() error {
	if err := f.cli.failure(); err != nil {
		return err
	}
	f.cli.mu.Lock()
	n := f.cli.echoes
	f.cli.mu.Unlock()
	return f.cli.waitUntil(f.wait+200*time.Millisecond, func() bool { return f.cli.echoes > n })
}

func (f *echoFlow) Stop() { f.cli.stop(); f.srv.stop() }

// Echoes returns how many probes were answered so far and the slowest echo.
func (f *echoFlow) Echoes() (int, time.Duration) {
	f.cli.mu.Lock()
	defer f.cli.mu.Unlock()
	return f.cli.echoes, f.cli.maxRTT
}

func (f *echoFlow) String() string {
	n, rtt := f.Echoes()
	return fmt.Sprintf("%s: %d echoes, slowest %v", f.cli.name, n, rtt)
}

// StartIdleTCP starts a long-lived TCP connection from the client to the
// server's port: a 16-byte probe every 100 ms whose echo must come back
// within 1 s (else the flow fails). It returns once the first echo came.
func (l *Lab) StartIdleTCP(t testing.TB, port int) Flow {
	t.Helper()
	return l.startEcho(t, "tcpserver", "idleclient", port)
}

// StartUDP starts a UDP request/response flow to the server's port: a
// request every 100 ms whose response must come back within 1 s.
func (l *Lab) StartUDP(t testing.TB, port int) Flow {
	t.Helper()
	return l.startEcho(t, "udpserver", "udpclient", port)
}

func (l *Lab) startEcho(t testing.TB, srvRole, cliRole string, port int) Flow {
	t.Helper()
	srv := l.startServer(t, srvRole, port)
	addr := net.JoinHostPort(l.ServerAddr.String(), strconv.Itoa(port))
	const wait = time.Second
	cli := l.startRole(t, l.Client, cliRole, roleAddrEnv+"="+addr,
		roleEveryEnv+"=100ms", roleWaitEnv+"="+wait.String())
	f := &echoFlow{srv: srv, cli: cli, wait: wait}
	if err := cli.waitUntil(5*time.Second, func() bool { return cli.echoes > 0 }); err != nil {
		f.Stop()
		t.Fatalf("lab: %s flow to %s did not start: %v", cliRole, addr, err)
	}
	return f
}

// bulkFlow is a bulk TCP transfer.
type bulkFlow struct {
	srv, cli *roleProc
	bytes    int
}

func (f *bulkFlow) Check() error {
	// The client fails by itself on a stall (3 s without an ACK); the
	// timeout here only guards against a hung process.
	err := f.cli.waitUntil(2*time.Minute, func() bool { return f.cli.doneLine != "" })
	if err != nil {
		f.cli.mu.Lock()
		last := f.cli.progress
		f.cli.mu.Unlock()
		return fmt.Errorf("%w (last progress: written acked outstanding = %q)", err, strings.TrimPrefix(last, "PROGRESS "))
	}
	return nil
}

func (f *bulkFlow) Stop() { f.cli.stop(); f.srv.stop() }

// Progress returns the last progress report of the client: bytes written to
// the socket, acknowledged by the server, and outstanding (in flight or in
// the send buffer).
func (f *bulkFlow) Progress() (written, acked, outstanding int64) {
	f.cli.mu.Lock()
	s := f.cli.progress
	f.cli.mu.Unlock()
	fmt.Sscanf(s, "PROGRESS %d %d %d", &written, &acked, &outstanding)
	return
}

// StartBulkTCP starts a bulk transfer of n bytes from the client to the
// server's port, at rateLimit bytes/s (0 = as fast as the path allows). The
// client's socket has a 4 MiB send buffer, so hundreds of KB can be in
// flight (with WithQueue, queued in the firewall). Check waits for the end
// and compares the client's SHA-256 of what it sent with the server's of
// what it received. The client fails when nothing is acknowledged for 3 s.
// It returns once the connection is established.
func (l *Lab) StartBulkTCP(t testing.TB, port int, n int, rateLimit int) Flow {
	t.Helper()
	srv := l.startServer(t, "tcpserver", port)
	addr := net.JoinHostPort(l.ServerAddr.String(), strconv.Itoa(port))
	cli := l.startRole(t, l.Client, "bulkclient", roleAddrEnv+"="+addr,
		roleBytesEnv+"="+strconv.Itoa(n), roleRateEnv+"="+strconv.Itoa(rateLimit), roleWaitEnv+"=3s")
	f := &bulkFlow{srv: srv, cli: cli, bytes: n}
	if err := cli.waitUntil(5*time.Second, func() bool { return cli.conn }); err != nil {
		f.Stop()
		t.Fatalf("lab: bulk flow to %s did not start: %v", addr, err)
	}
	return f
}
