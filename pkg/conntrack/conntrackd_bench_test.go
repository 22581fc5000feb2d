package conntrack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/peertest"
)

// Helpers for the benchmarks against the incumbents (incumbent_bench_test.go):
// the conntrack tool and conntrackd (FTFW between two namespaces, the setup of
// /work/shared/peers.md section 4, with the caches sized for 100k entries).

// needIncumbent skips loudly (PEER MISSING) when the benchmark cannot run:
// not root, or a tool is missing.
func needIncumbent(tb testing.TB, tools ...string) {
	tb.Helper()
	peertest.Need(tb, "root (network namespaces, ctnetlink)", os.Geteuid() == 0, "run as root (sudo go test ...)")
	for _, t := range append([]string{"ip"}, tools...) {
		pkg := map[string]string{"ip": "iproute2", "conntrack": "conntrack", "conntrackd": "conntrackd"}[t]
		peertest.Need(tb, t, lookTool(t) != "", "apt-get install -y "+pkg)
	}
}

// lookTool finds a tool in PATH or in the sbin directories.
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// nsCmd returns a command that runs tool with args inside namespace ns.
func nsCmd(ns, tool string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, lookTool(tool)}, args...)...)
}

// ctCount returns the size of ns's conntrack table as the conntrack tool
// reports it (conntrack -C), an independent check of both sides.
func ctCount(tb testing.TB, ns string) int {
	tb.Helper()
	out, err := nsCmd(ns, "conntrack", "-C").Output()
	if err != nil {
		tb.Fatalf("conntrack -C in %s: %v", ns, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		tb.Fatalf("conntrack -C in %s: %q: %v", ns, out, err)
	}
	return n
}

// fillNS writes genSessions(n) into the namespace at path with sami and
// checks the table holds exactly n entries.
func fillNS(tb testing.TB, ns, path string, n int) *Backend {
	tb.Helper()
	be := openNS(tb, path)
	if err := be.Upsert(context.Background(), genSessions(n)); err != nil {
		tb.Fatalf("filling %s: %v", ns, err)
	}
	if got := ctCount(tb, ns); got != n {
		tb.Fatalf("source %s holds %d entries, want %d", ns, got, n)
	}
	return be
}

// moveChunk is how many sessions the pipelined move hands from the dumping
// goroutine to the upserting one at a time.
const moveChunk = 4096

// movePipelined streams src's table into dst: one goroutine dumps into a
// channel of batches, this one upserts each batch as it arrives. It returns
// the number of sessions moved.
func movePipelined(ctx context.Context, src, dst *Backend) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan []*flow.Session, 4)
	dumpErr := make(chan error, 1)
	go func() {
		defer close(ch)
		batch := make([]*flow.Session, 0, moveChunk)
		err := src.Dump(ctx, func(s *flow.Session) error {
			batch = append(batch, s)
			if len(batch) < moveChunk {
				return nil
			}
			select {
			case ch <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]*flow.Session, 0, moveChunk)
			return nil
		})
		if err == nil && len(batch) > 0 {
			select {
			case ch <- batch:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		dumpErr <- err
	}()
	n := 0
	for batch := range ch {
		if err := dst.Upsert(ctx, batch); err != nil {
			cancel()
			// Drain so the dumping goroutine ends.
			for range ch {
			}
			<-dumpErr
			return n, fmt.Errorf("upsert: %w", err)
		}
		n += len(batch)
	}
	if err := <-dumpErr; err != nil {
		return n, fmt.Errorf("dump: %w", err)
	}
	return n, nil
}

// fidelity compares the table read from the source with the one read back
// from a destination and summarises what differs (paths of changed leaves,
// with how many sessions differ there), for the benchmark log.
func fidelity(src, dst []*fs, tol time.Duration) string {
	r := flow.Diff(src, dst, flow.WithTimeoutTolerance(tol))
	if r.Empty() {
		return "identical (timers within " + tol.String() + ")"
	}
	paths := map[string]int{}
	for _, c := range r.Changed {
		for _, f := range c.Fields {
			paths[f.Path]++
		}
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	fmt.Fprintf(&sb, "missing %d, extra %d, changed %d, errors %d", len(r.Removed), len(r.Added), len(r.Changed), len(r.Errors))
	for _, k := range keys {
		fmt.Fprintf(&sb, "; %s: %d", k, paths[k])
	}
	if len(r.Changed) > 0 {
		c := r.Changed[0]
		fmt.Fprintf(&sb, "; e.g. %s:", c.ID)
		for _, f := range c.Fields {
			fmt.Fprintf(&sb, " %s %v -> %v", f.Path, f.A, f.B)
		}
	}
	return sb.String()
}

// ctdPair is conntrackd running in FTFW mode in two namespaces linked by a
// veth.
type ctdPair struct {
	dir        string
	nsA, nsB   string
	confA      string
	confB      string
	procs      []*exec.Cmd
	stopped    bool
	startedAt  time.Time
	tb         testing.TB
	logA, logB string
}

// ctdConf is peers.md's FTFW configuration with the caches and the resend
// queue sized for 100k entries (HashLimit 65535 would cap the caches).
const ctdConf = `Sync {
	Mode FTFW {
		ResendQueueSize 262144
		CommitTimeout 180
		PurgeTimeout 60
		ACKWindowSize 300
		DisableExternalCache Off
	}
	UDP {
		IPv4_address %[1]s
		IPv4_Destination_Address %[2]s
		Port 3780
		Interface %[3]s
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
}
General {
	Systemd off
	HashSize 65536
	HashLimit 262144
	LogFile %[4]s/conntrackd-%[5]s.log
	Syslog off
	LockFile %[4]s/conntrackd-%[5]s.lock
	UNIX {
		Path %[4]s/conntrackd-%[5]s.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Protocol Accept {
			TCP
			UDP
		}
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv4_address 10.99.0.1
			IPv4_address 10.99.0.2
		}
	}
}
`

// newCtdPair links nsA and nsB with a veth (10.99.0.1 / 10.99.0.2) and
// writes both configurations. Nothing is started yet.
func newCtdPair(tb testing.TB, nsA, nsB string) *ctdPair {
	tb.Helper()
	// A short directory: the UNIX socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &ctdPair{dir: dir, nsA: nsA, nsB: nsB, tb: tb,
		confA: filepath.Join(dir, "conntrackd-A.conf"), confB: filepath.Join(dir, "conntrackd-B.conf"),
		logA: filepath.Join(dir, "conntrackd-A.log"), logB: filepath.Join(dir, "conntrackd-B.log")}
	for _, args := range [][]string{
		{"link", "add", "vA", "netns", nsA, "type", "veth", "peer", "name", "vB", "netns", nsB},
		{"-n", nsA, "addr", "add", "10.99.0.1/24", "dev", "vA"},
		{"-n", nsB, "addr", "add", "10.99.0.2/24", "dev", "vB"},
		{"-n", nsA, "link", "set", "lo", "up"},
		{"-n", nsB, "link", "set", "lo", "up"},
		{"-n", nsA, "link", "set", "vA", "up"},
		{"-n", nsB, "link", "set", "vB", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.WriteFile(p.confA, fmt.Appendf(nil, ctdConf, "10.99.0.1", "10.99.0.2", "vA", dir, "A"), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p.confB, fmt.Appendf(nil, ctdConf, "10.99.0.2", "10.99.0.1", "vB", dir, "B"), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.stop)
	return p
}

// start runs both daemons in the foreground (children of the test, so they
// are reaped) and waits until their control sockets answer.
func (p *ctdPair) start() {
	p.tb.Helper()
	p.startedAt = time.Now()
	for _, x := range []struct{ ns, conf string }{{p.nsA, p.confA}, {p.nsB, p.confB}} {
		cmd := nsCmd(x.ns, "conntrackd", "-C", x.conf)
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &errb, &errb
		if err := cmd.Start(); err != nil {
			p.tb.Fatalf("starting conntrackd in %s: %v", x.ns, err)
		}
		p.procs = append(p.procs, cmd)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, x := range []struct{ ns, conf string }{{p.nsA, p.confA}, {p.nsB, p.confB}} {
		for nsCmd(x.ns, "conntrackd", "-C", x.conf, "-s", "cache").Run() != nil {
			if time.Now().After(deadline) {
				p.tb.Fatalf("conntrackd in %s does not answer on its control socket after 10 s; log:\n%s", x.ns, p.logs())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// stop terminates the daemons this pair started, by PID, and reaps them.
func (p *ctdPair) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	for _, cmd := range p.procs {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
}

// cacheObjects returns the "active objects" of conntrackd's internal or
// external cache in namespace ns (conntrackd -C conf -s cache).
func cacheObjects(ns, conf, which string) (int, string, error) {
	out, err := nsCmd(ns, "conntrackd", "-C", conf, "-s", "cache").CombinedOutput()
	if err != nil {
		return 0, string(out), err
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if !strings.HasPrefix(line, "cache:"+which) || !strings.Contains(line, "active objects:") {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.Atoi(f[len(f)-1])
		return n, string(out), err
	}
	return 0, string(out), fmt.Errorf("no cache:%s line", which)
}

// waitCache polls a cache until it holds want objects. It gives up when
// the count has not moved for stall, or after timeout, and then returns
// false with the last count and a diagnostic (cache, network and resend
// queue statistics of both daemons, their logs).
func (p *ctdPair) waitCache(ns, conf, which string, want int, stall, timeout time.Duration) (bool, int, string) {
	p.tb.Helper()
	deadline := time.Now().Add(timeout)
	last, lastMove := -1, time.Now()
	for {
		n, _, err := cacheObjects(ns, conf, which)
		if err == nil && n == want {
			return true, n, ""
		}
		if err == nil && n != last {
			last, lastMove = n, time.Now()
		}
		if now := time.Now(); now.After(deadline) || now.Sub(lastMove) > stall {
			return false, last, p.diag()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// diag returns both daemons' statistics and logs.
func (p *ctdPair) diag() string {
	var sb strings.Builder
	for _, x := range []struct{ name, ns, conf string }{{"A", p.nsA, p.confA}, {"B", p.nsB, p.confB}} {
		for _, what := range []string{"cache", "network", "rsqueue", "queue"} {
			out, err := nsCmd(x.ns, "conntrackd", "-C", x.conf, "-s", what).CombinedOutput()
			fmt.Fprintf(&sb, "== %s: conntrackd -s %s (err %v)\n%s", x.name, what, err, out)
		}
	}
	sb.WriteString(p.logs())
	return sb.String()
}

// ctl runs a conntrackd control command against the daemon of ns.
func (p *ctdPair) ctl(ns, conf string, args ...string) string {
	p.tb.Helper()
	out, err := nsCmd(ns, "conntrackd", append([]string{"-C", conf}, args...)...).CombinedOutput()
	if err != nil {
		p.tb.Fatalf("conntrackd -C %s %s in %s: %v: %s\nlogs:\n%s", conf, strings.Join(args, " "), ns, err, out, p.logs())
	}
	return string(out)
}

// logs returns both daemons' log files.
func (p *ctdPair) logs() string {
	var sb strings.Builder
	for _, f := range []string{p.logA, p.logB} {
		b, _ := os.ReadFile(f)
		fmt.Fprintf(&sb, "== %s\n%s", filepath.Base(f), b)
	}
	return sb.String()
}

// commitTaken returns the figure conntrackd logs itself for its last commit
// ("commit has taken 1.641747 seconds"), or 0.
func commitTaken(log string) float64 {
	b, _ := os.ReadFile(log)
	var secs float64
	for line := range strings.SplitSeq(string(b), "\n") {
		if _, rest, ok := strings.Cut(line, "commit has taken "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSuffix(rest, " seconds"), 64); err == nil {
				secs = v
			}
		}
	}
	return secs
}
