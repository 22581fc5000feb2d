// Package peertest starts real third-party peers (servers the project must
// interoperate with) for tests, and tears them down when the test ends.
//
// Every helper follows the repository's peer policy (see Need): when a peer
// cannot be started because something is missing (a binary, root), the test
// is skipped with a loud "PEER MISSING" message that says it did NOT run and
// how to install the peer — unless SAMI_REQUIRE_PEERS=1 (CI), where it fails.
//
// The helpers need Linux (they read /proc, use flock and process groups).
package peertest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing peer from a
// skip into a failure when it is "1".
const RequireEnv = "SAMI_REQUIRE_PEERS"

// lockFile serialises machine-wide setup (OS user creation) between tests
// running in parallel, in this process and in other test binaries.
const lockFile = "/tmp/sami-peertest.lock"

// Need implements the repository's policy for a missing peer. When ok is
// true it does nothing. Otherwise, with SAMI_REQUIRE_PEERS=1 the test fails
// (t.Fatalf); without it the test is skipped (t.Skipf) with a message that
// starts with "PEER MISSING", says the test did NOT run, and tells how to
// get what is missing (how, e.g. "apt-get install foo").
func Need(t testing.TB, what string, ok bool, how string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("PEER MISSING: %s — and %s=1 requires it. To fix: %s", what, RequireEnv, how)
	}
	t.Skipf("PEER MISSING: %s — this interop test did NOT run (SKIPPED, not passed). "+
		"To run it: %s. Set %s=1 to make a missing peer a failure", what, how, RequireEnv)
}

// findBin looks a program up in PATH and then in the sbin directories, which
// are often not in a non-login PATH. It returns an absolute path or "".
func findBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Callers must still handle a bind failure (another process may take it).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// withMachineLock runs f holding an exclusive flock on lockFile.
func withMachineLock(f func() error) error {
	lf, err := os.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("open lock file: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("flock %s: %w", lockFile, err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN) // also released by Close
	return f()
}

// userExists reports whether the OS user exists (getent covers NSS sources).
func userExists(name string) bool {
	return exec.Command("getent", "passwd", name).Run() == nil
}

// ensureUser creates the OS user name with password pass, a home directory and
// a login shell (sshd runs subsystems through the user's shell), unless the
// user exists already. It is idempotent and safe to call concurrently from
// several processes.
func ensureUser(name, pass string) error {
	return withMachineLock(func() error {
		if userExists(name) {
			return nil
		}
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", "-c", "sami peertest NETCONF user", name).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %v: %s", name, err, out)
		}
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(name + ":" + pass + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("chpasswd %s: %v: %s", name, err, out)
		}
		return nil
	})
}

// scratchDir makes a private directory for one peer. It is mode 0755 and lies
// under a path that every user can traverse, because processes that run as
// an unprivileged user (the netconf subsystem) must reach a socket in it.
// Its path is short: UNIX socket paths are limited to 107 bytes.
func scratchDir(prefix string) (string, error) {
	base := os.TempDir()
	if !traversable(base) || len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// traversable reports whether others may search every directory from / to dir.
func traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// tail returns the last n lines of a file, or a note why it cannot.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	data = bytes.TrimRight(data, "\n")
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > n {
		lines = append([][]byte{[]byte(fmt.Sprintf("... (%d earlier lines in %s)", len(lines)-n, path))}, lines[len(lines)-n:]...)
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// fileContains reports whether the file contains s.
func fileContains(path, s string) bool {
	data, err := os.ReadFile(path)
	return err == nil && bytes.Contains(data, []byte(s))
}

// proc is a daemon started as a child process in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *os.File
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
	once sync.Once
}

// startProc starts bin with args in dir, stdout and stderr to logPath
// (truncated), stdin from /dev/null, in a new process group.
func startProc(name, dir, logPath, bin string, args ...string) (*proc, error) {
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out // *os.File: no copying goroutines, Wait does not wait for grandchildren
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process, its process group and every descendant
// (sshd's per-connection children start their own sessions, so the group
// alone does not reach them), waits up to grace for the process to exit, then
// SIGKILLs whatever is left. It reports an error when SIGKILL was needed or a
// process survived. stop is idempotent.
func (p *proc) stop(grace time.Duration) error {
	var res error
	p.once.Do(func() {
		pid := p.cmd.Process.Pid
		if p.exited() {
			syscall.Kill(-pid, syscall.SIGKILL) // stragglers of the group, if any
			return
		}
		kids := descendants(pid)
		syscall.Kill(-pid, syscall.SIGTERM)
		for _, k := range kids {
			syscall.Kill(k, syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(grace):
			res = fmt.Errorf("%s (pid %d) ignored SIGTERM for %v: killed", p.name, pid, grace)
			syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		// The group and the descendants get grace to exit too.
		deadline := time.Now().Add(grace)
		for _, k := range kids {
			for alive(k) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if alive(k) {
				syscall.Kill(k, syscall.SIGKILL)
				if res == nil {
					res = fmt.Errorf("%s: child pid %d ignored SIGTERM: killed", p.name, k)
				}
			}
		}
		syscall.Kill(-pid, syscall.SIGKILL)
	})
	return res
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, state, ok := parseStat(data)
	return ok && state != 'Z' && state != 'X'
}

// descendants lists the PIDs of every process below pid, from /proc.
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if ppid, _, ok := parseStat(data); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parseStat extracts ppid and state from /proc/PID/stat ("pid (comm) S ppid ...").
func parseStat(data []byte) (ppid int, state byte, ok bool) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, f[0][0], err == nil
}

// errTimeout is returned by waitFor when the deadline passes.
var errTimeout = errors.New("timed out")

// waitFor polls cond every 50 ms until it returns true (nil), the process p
// exits (an error), or timeout passes (errTimeout).
func waitFor(p *proc, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if p != nil && p.exited() {
			if cond() {
				return nil
			}
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		}
		if time.Now().After(deadline) {
			return errTimeout
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// grepLines returns the lines of a file that contain any of the substrings.
func grepLines(path string, subs ...string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		for _, s := range subs {
			if strings.Contains(sc.Text(), s) {
				out = append(out, sc.Text())
				break
			}
		}
	}
	return out
}
