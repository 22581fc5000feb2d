package netconf_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/peertest"
)

// Interop with ncclient, a real third-party NETCONF client (Debian's
// python3-ncclient 0.6.13 over paramiko). It must run with /usr/bin/python3:
// a python3 earlier in PATH (pyenv) need not have it.
const (
	ncclientPython = "/usr/bin/python3"
	ncclientHow    = "as root: apt-get install python3-ncclient (it is run with " + ncclientPython + ")"
)

// needNcclient skips (or, with SAMI_REQUIRE_PEERS=1, fails) unless
// /usr/bin/python3 can import ncclient and lxml.
func needNcclient(tb testing.TB) {
	tb.Helper()
	out, err := exec.Command(ncclientPython, "-c", "import ncclient, lxml, paramiko").CombinedOutput()
	peertest.Need(tb, "ncclient for "+ncclientPython, err == nil, fmt.Sprintf("%s (%v: %s)", ncclientHow, err, bytes.TrimSpace(out)))
}

func hostPort(tb testing.TB, addr string) (string, string) {
	tb.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return h, p
}

// TestInteropNcclient runs testdata/ncclient/conformance.py, the conformance
// scenarios of conformance_test.go written against ncclient, against our
// server. Every check the script prints becomes a subtest.
func TestInteropNcclient(t *testing.T) {
	needNcclient(t)
	s := startOwnServer(t, nil)
	host, port := hostPort(t, s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ncclientPython, "testdata/ncclient/conformance.py",
		host, port, s.User, s.Password, s.KeyFile, s.KnownHosts)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Report each check as it finishes, so that a hang shows where it is.
	checks, failed := 0, 0
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
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
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Errorf("conformance.py did not finish within the time limit")
	}
	var ee *exec.ExitError
	switch {
	case err == nil && failed > 0:
		t.Errorf("conformance.py exited 0 although %d checks failed", failed)
	case errors.As(err, &ee) && failed == 0:
		t.Errorf("conformance.py failed without a FAIL line: %v\n%s", err, stderr.Bytes())
	case err != nil && !errors.As(err, &ee):
		t.Errorf("conformance.py: %v\n%s", err, stderr.Bytes())
	case err != nil:
		t.Logf("conformance.py: %v (%d of %d checks failed)", err, failed, checks)
	}
	if checks == 0 {
		t.Errorf("conformance.py reported no checks\n%s", stderr.Bytes())
	} else if stderr.Len() > 0 {
		t.Logf("stderr:\n%s", stderr.Bytes())
	}
}

// BenchmarkNcclientGet100k measures ncclient reading 100,000 sessions from
// our server with <get> and a subtree filter: the server's encoder, SSH and
// chunked framing, and ncclient's parse into lxml (which is also where the
// script counts the <session> elements).
//
// bench_get.py connects, does one warm-up <get>, reports "ready", waits for
// a line on stdin, times b.N <get>s and prints its figures. The benchmark
// timer runs only from that line until the figures arrive, so ns/op and
// MB/s (b.SetBytes with the reply size the script measured) cover the gets
// alone, not the server start-up, Python start-up or the SSH handshake.
// sessions/s and script-s/get are the script's own timing of the same gets,
// reported with ReportMetric.
func BenchmarkNcclientGet100k(b *testing.B) {
	needNcclient(b)
	b.StopTimer()
	const n = 100000
	s := startOwnServer(b, withSessions(b, bigSessions(n)))
	host, port := hostPort(b, s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ncclientPython, "testdata/ncclient/bench_get.py",
		host, port, s.User, s.Password, s.KnownHosts, strconv.Itoa(b.N))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	fail := func(format string, args ...any) {
		b.Helper()
		cancel()
		cmd.Wait()
		b.Fatalf(format+"\nstderr:\n%s", append(args, stderr.Bytes())...)
	}
	sc := bufio.NewScanner(stdout)
	figures := map[string]float64{}
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == "ready" {
			b.StartTimer()
			if _, err := io.WriteString(stdin, "go\n"); err != nil {
				fail("starting the gets: %v", err)
			}
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			fail("bench_get.py printed %q", sc.Text())
		}
		figures[k] = f
		if k == "seconds_per_get" {
			b.StopTimer()
		}
	}
	if err := cmd.Wait(); err != nil {
		fail("bench_get.py: %v", err)
	}
	spg, bytesPerGet, got := figures["seconds_per_get"], figures["reply_bytes"], figures["sessions"]
	if spg <= 0 || bytesPerGet <= 0 {
		fail("bench_get.py gave no timing: %v", figures)
	}
	if got != n {
		b.Fatalf("the <get> reply held %v sessions, want %d", got, n)
	}
	b.SetBytes(int64(bytesPerGet))
	b.ReportMetric(n/spg, "sessions/s")
	b.ReportMetric(spg, "script-s/get")
}
