package peertest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Lab is a four-namespace test network for proving that a state migration
// keeps live connections alive:
//
//	          ┌── fwA ──┐
//	client ───┤         ├─── server
//	          └── fwB ──┘
//
// The client and the server each have a /32 service address on their loopback
// (ClientAddr, ServerAddr) and one veth to each firewall; Via chooses which
// firewall carries the traffic, in both directions. Both firewalls run the
// same strict stateful nftables ruleset (forward policy drop, only
// established/related traffic, new TCP connections must start with a SYN, new
// UDP/ICMP only from the client side; invalid packets are counted in the named
// counter "invalid" of table inet sami) with nf_conntrack_tcp_loose=0 and
// nf_conntrack_tcp_be_liberal=0, so a firewall without the flow's conntrack
// entry drops its mid-stream segments.
type Lab struct {
	// Network namespace names (each has a path NetNSPath(name)).
	Client, FwA, FwB, Server string
	// ClientAddr and ServerAddr are the endpoints' service addresses.
	ClientAddr, ServerAddr netip.Addr
	// SNATAddr is the address the firewalls translate the client's source
	// address to when the lab was started WithSNAT (valid in any case).
	SNATAddr netip.Addr

	opts    labOptions
	ipBin   string
	nftBin  string
	mu      sync.Mutex
	procs   []*roleProc
	current string // FwA or FwB name the routes currently use
}

// Fixed addresses. Every lab has its own namespaces, so labs running at the
// same time do not collide.
var (
	labClientAddr = netip.MustParseAddr("10.201.0.1")
	labServerAddr = netip.MustParseAddr("10.201.0.2")
	labSNATAddr   = netip.MustParseAddr("10.201.0.100")
)

// labLink describes, for one firewall, the two transit links:
// client side (client dev, client addr, fw addr) and server side.
type labLink struct {
	cliDev, srvDev string // the endpoints' device towards this firewall
	cliIP, fwCliIP string // client <-> fw subnet /24
	srvIP, fwSrvIP string // server <-> fw subnet /24
}

var labLinks = map[string]labLink{
	"A": {cliDev: "toA", srvDev: "toA", cliIP: "10.200.1.2", fwCliIP: "10.200.1.1", srvIP: "10.200.3.2", fwSrvIP: "10.200.3.1"},
	"B": {cliDev: "toB", srvDev: "toB", cliIP: "10.200.2.2", fwCliIP: "10.200.2.1", srvIP: "10.200.4.2", fwSrvIP: "10.200.4.1"},
}

// Device names inside each firewall namespace.
const (
	fwCliDev = "cli" // client-facing veth
	fwSrvDev = "srv" // server-facing veth (where WithQueue shapes)
)

// LabOption configures StartLab.
type LabOption func(*labOptions)

type labOptions struct {
	snat  bool
	queue string // tc qdisc spec for the firewalls' server-facing veth, "" = none
}

// WithSNAT makes both firewalls source-NAT the client's traffic to SNATAddr.
func WithSNAT() LabOption { return func(o *labOptions) { o.snat = true } }

// WithQueue shapes the firewalls' server-facing egress with a token bucket
// (20 Mbit/s, room for ~200 ms = 500 KB of queue) so a bulk transfer builds a
// standing queue in the firewall.
func WithQueue() LabOption {
	return WithQdisc("tbf rate 20mbit burst 32kb latency 200ms")
}

// WithQdisc is WithQueue with an explicit qdisc spec (the words after
// "tc qdisc replace dev srv root"), e.g. "netem delay 20ms rate 20mbit".
func WithQdisc(spec string) LabOption { return func(o *labOptions) { o.queue = spec } }

// StartLab builds the lab and registers its teardown with t.Cleanup. It
// skips (or fails, with SAMI_REQUIRE_PEERS=1) through Need when it lacks
// root, ip or nft, and fails the test when the setup itself fails.
func StartLab(t testing.TB, opts ...LabOption) *Lab {
	t.Helper()
	var o labOptions
	for _, f := range opts {
		f(&o)
	}
	Need(t, "root (network namespaces)", os.Geteuid() == 0, "run the test as root (sudo go test ...)")
	ipBin, nftBin := findBin("ip"), findBin("nft")
	Need(t, "ip (iproute2)", ipBin != "", "apt-get install -y iproute2")
	Need(t, "nft (nftables)", nftBin != "", "apt-get install -y nftables")
	if o.queue != "" {
		Need(t, "tc (iproute2)", findBin("tc") != "", "apt-get install -y iproute2")
	}

	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("lab: random name: %v", err)
	}
	prefix := "sami-lab-" + hex.EncodeToString(rnd[:])
	l := &Lab{
		Client: prefix + "-c", FwA: prefix + "-a", FwB: prefix + "-b", Server: prefix + "-s",
		ClientAddr: labClientAddr, ServerAddr: labServerAddr, SNATAddr: labSNATAddr,
		opts: o, ipBin: ipBin, nftBin: nftBin,
	}
	t.Cleanup(func() { l.teardown(t) })
	if err := l.setup(); err != nil {
		t.Fatalf("lab setup: %v", err)
	}
	return l
}

// NetNSPath returns the bind-mount path of namespace ns, for code that opens
// netlink sockets inside it (setns).
func (l *Lab) NetNSPath(ns string) string { return "/run/netns/" + ns }

// Exec returns an exec.Cmd that runs name with args in namespace ns.
func (l *Lab) Exec(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command(l.ipBin, append([]string{"netns", "exec", ns, name}, args...)...)
}

// run runs a command in ns and returns its combined output, or an error that
// includes it.
func (l *Lab) run(ns string, name string, args ...string) (string, error) {
	var cmd *exec.Cmd
	if ns == "" {
		cmd = exec.Command(name, args...)
	} else {
		cmd = l.Exec(ns, name, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// Conntrack runs the conntrack tool in ns and returns its standard output.
// It fails the test when the tool exits non-zero (except "0 flow entries"
// deletions, which conntrack reports with status 1 — use Exec to see those).
func (l *Lab) Conntrack(t testing.TB, ns string, args ...string) string {
	t.Helper()
	bin := findBin("conntrack")
	Need(t, "conntrack (conntrack-tools)", bin != "", "apt-get install -y conntrack")
	cmd := l.Exec(ns, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out)
}

var counterRE = regexp.MustCompile(`packets (\d+) bytes (\d+)`)

// InvalidDrops reads the named counter "invalid" (packets that conntrack
// classified invalid and the forward chain dropped) on firewall fw (l.FwA or
// l.FwB).
func (l *Lab) InvalidDrops(t testing.TB, fw string) uint64 {
	t.Helper()
	out, err := l.run(fw, l.nftBin, "list", "counter", "inet", "sami", "invalid")
	if err != nil {
		t.Fatalf("read invalid counter: %v", err)
	}
	m := counterRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("read invalid counter on %s: unexpected output %q", fw, out)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// Current returns the firewall namespace the routes go through now.
func (l *Lab) Current() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current
}

// Via switches the routes between client and server, on both ends and for
// both directions, to go through firewall fw (l.FwA or l.FwB). The client
// side is switched first, then the server side (one "ip -batch" each, a few
// ms apart): for that moment, and for packets already queued on the old
// path, the two directions of a flow cross different firewalls. Client first
// means a reply to a request sent on the old path still returns through the
// old firewall, which holds the state.
func (l *Lab) Via(t testing.TB, fw string) {
	t.Helper()
	if err := l.via(fw); err != nil {
		t.Fatalf("lab: via %s: %v", fw, err)
	}
}

func (l *Lab) via(fw string) error {
	var lk labLink
	switch fw {
	case l.FwA:
		lk = labLinks["A"]
	case l.FwB:
		lk = labLinks["B"]
	default:
		return fmt.Errorf("%q is neither FwA (%s) nor FwB (%s)", fw, l.FwA, l.FwB)
	}
	// One "ip -batch" per namespace: both server routes change together.
	srv := fmt.Sprintf("route replace %s/32 via %s dev %s src %s\nroute replace %s/32 via %s dev %s src %s\n",
		l.ClientAddr, lk.fwSrvIP, lk.srvDev, l.ServerAddr, l.SNATAddr, lk.fwSrvIP, lk.srvDev, l.ServerAddr)
	cli := fmt.Sprintf("route replace %s/32 via %s dev %s src %s\n", l.ServerAddr, lk.fwCliIP, lk.cliDev, l.ClientAddr)
	if err := l.batch(l.Client, cli); err != nil {
		return err
	}
	if err := l.batch(l.Server, srv); err != nil {
		return err
	}
	l.mu.Lock()
	l.current = fw
	l.mu.Unlock()
	return nil
}

// batch runs "ip -n ns -batch -" with the given commands.
func (l *Lab) batch(ns, cmds string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	cmd := exec.Command(l.ipBin, args...)
	cmd.Stdin = strings.NewReader(cmds)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s -batch: %v: %s\ncommands:\n%s", ns, err, bytes.TrimSpace(out), cmds)
	}
	return nil
}

func (l *Lab) setup() error {
	for _, ns := range []string{l.Client, l.FwA, l.FwB, l.Server} {
		if _, err := l.run("", l.ipBin, "netns", "add", ns); err != nil {
			return err
		}
	}
	// Links: client <-> fw <-> server for each firewall.
	root := ""
	for _, x := range []struct {
		fw string
		lk labLink
	}{{l.FwA, labLinks["A"]}, {l.FwB, labLinks["B"]}} {
		root += fmt.Sprintf("link add %s netns %s type veth peer name %s netns %s\n", x.lk.cliDev, l.Client, fwCliDev, x.fw)
		root += fmt.Sprintf("link add %s netns %s type veth peer name %s netns %s\n", x.lk.srvDev, l.Server, fwSrvDev, x.fw)
	}
	if err := l.batch("", strings.TrimSpace(root)+"\n"); err != nil {
		return err
	}
	// sysctls common to all: no IPv6 noise, no reverse-path filter (the
	// endpoints' addresses live on lo and traffic arrives on either link).
	for _, ns := range []string{l.Client, l.FwA, l.FwB, l.Server} {
		if _, err := l.run(ns, "sysctl", "-q", "-w",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
			"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"); err != nil {
			return err
		}
	}
	// Endpoints.
	a, b := labLinks["A"], labLinks["B"]
	cli := fmt.Sprintf(`link set lo up
addr add %s/32 dev lo
addr add %s/24 dev %s
addr add %s/24 dev %s
link set %s up
link set %s up
`, l.ClientAddr, a.cliIP, a.cliDev, b.cliIP, b.cliDev, a.cliDev, b.cliDev)
	srv := fmt.Sprintf(`link set lo up
addr add %s/32 dev lo
addr add %s/24 dev %s
addr add %s/24 dev %s
link set %s up
link set %s up
`, l.ServerAddr, a.srvIP, a.srvDev, b.srvIP, b.srvDev, a.srvDev, b.srvDev)
	if err := l.batch(l.Client, cli); err != nil {
		return err
	}
	if err := l.batch(l.Server, srv); err != nil {
		return err
	}
	// Firewalls.
	for _, x := range []struct {
		fw string
		lk labLink
	}{{l.FwA, a}, {l.FwB, b}} {
		cmds := fmt.Sprintf(`link set lo up
addr add %s/24 dev %s
addr add %s/24 dev %s
link set %s up
link set %s up
route add %s/32 via %s dev %s
route add %s/32 via %s dev %s
`, x.lk.fwCliIP, fwCliDev, x.lk.fwSrvIP, fwSrvDev, fwCliDev, fwSrvDev,
			l.ClientAddr, x.lk.cliIP, fwCliDev, l.ServerAddr, x.lk.srvIP, fwSrvDev)
		if err := l.batch(x.fw, cmds); err != nil {
			return err
		}
		if err := l.loadRuleset(x.fw); err != nil {
			return err
		}
		// The conntrack sysctls exist once the ruleset loaded nf_conntrack.
		if _, err := l.run(x.fw, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
			"net.netfilter.nf_conntrack_tcp_loose=0", "net.netfilter.nf_conntrack_tcp_be_liberal=0"); err != nil {
			return err
		}
		if l.opts.queue != "" {
			args := append([]string{"qdisc", "replace", "dev", fwSrvDev, "root"}, strings.Fields(l.opts.queue)...)
			if _, err := l.run(x.fw, findBin("tc"), args...); err != nil {
				return err
			}
		}
	}
	return l.via(l.FwA)
}

// Ruleset returns the nftables ruleset loaded on both firewalls.
func (l *Lab) Ruleset() string {
	rs := `table inet sami {
	counter invalid {
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct state invalid counter name "invalid" drop
		iifname "` + fwCliDev + `" tcp flags & (fin|syn|rst|ack) == syn ct state new accept
		iifname "` + fwCliDev + `" meta l4proto { udp, icmp } ct state new accept
	}
}
`
	if l.opts.snat {
		rs += fmt.Sprintf(`table ip saminat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "%s" ip saddr %s snat to %s
	}
}
`, fwSrvDev, l.ClientAddr, l.SNATAddr)
	}
	return rs
}

func (l *Lab) loadRuleset(fw string) error {
	cmd := l.Exec(fw, l.nftBin, "-f", "-")
	cmd.Stdin = strings.NewReader(l.Ruleset())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f on %s: %v: %s", fw, err, bytes.TrimSpace(out))
	}
	return nil
}

// teardown stops every process the lab started, kills whatever else runs in
// its namespaces and deletes them. Errors are reported, not fatal.
func (l *Lab) teardown(t testing.TB) {
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	l.mu.Unlock()
	for _, p := range procs {
		p.stop()
	}
	for _, ns := range []string{l.Client, l.FwA, l.FwB, l.Server} {
		if _, err := os.Stat(l.NetNSPath(ns)); err != nil {
			continue
		}
		l.killNS(ns)
		if out, err := exec.Command(l.ipBin, "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("lab teardown: ip netns del %s: %v: %s", ns, err, bytes.TrimSpace(out))
		}
	}
}

// killNS SIGKILLs every process in namespace ns (ip netns pids), waiting up
// to 2 s for them to go.
func (l *Lab) killNS(ns string) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		out, _ := exec.Command(l.ipBin, "netns", "pids", ns).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 || time.Now().After(deadline) {
			return
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CrudeCopy copies the conntrack table of namespace from into namespace to
// with the conntrack tool alone: "conntrack -L -o save" on from, then one
// "conntrack -I" per entry on to. It is the naive baseline (conntrack 1.4.x
// restores no TCP flags with a mask and sets its own defaults), not a
// faithful migration. It returns the number of entries dumped and the
// errors of the entries that could not be inserted.
func (l *Lab) CrudeCopy(t testing.TB, from, to string) (dumped int, errs []string) {
	t.Helper()
	out := l.Conntrack(t, from, "-L", "-o", "save")
	bin := findBin("conntrack")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		dumped++
		f[0] = "-I"
		if o, err := l.run(to, bin, f...); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", line, strings.TrimSpace(o)))
		}
	}
	return dumped, errs
}
