package peertest_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/peertest"
)

// The package's TestMain lives in netconfd_test.go; the lab's traffic roles
// (this binary re-executed inside a namespace) are dispatched here, before
// any test machinery runs.
func init() { peertest.RunRole() }

const (
	idlePort = 7001
	bulkPort = 7002
	udpPort  = 7003

	bulkBytes = 8 << 20 // 8 MiB
	bulkRate  = 2 << 20 // 2 MiB/s: the transfer runs ~4 s, across the switch
)

type labFlows struct {
	idle, bulk, udp peertest.Flow
}

func startFlows(t *testing.T, l *peertest.Lab) labFlows {
	t.Helper()
	return labFlows{
		idle: l.StartIdleTCP(t, idlePort),
		bulk: l.StartBulkTCP(t, bulkPort, bulkBytes, bulkRate),
		udp:  l.StartUDP(t, udpPort),
	}
}

// check runs Check on every flow (in parallel: the bulk check waits for the
// end of the transfer) and returns the errors by name.
func (f labFlows) check() map[string]error {
	type res struct {
		name string
		err  error
	}
	ch := make(chan res, 3)
	for name, fl := range map[string]peertest.Flow{"idle": f.idle, "bulk": f.bulk, "udp": f.udp} {
		go func() { ch <- res{name, fl.Check()} }()
	}
	out := map[string]error{}
	for range 3 {
		r := <-ch
		out[r.name] = r.err
	}
	return out
}

func describe(fl peertest.Flow) string {
	if p, ok := fl.(interface{ Progress() (int64, int64, int64) }); ok {
		w, a, q := p.Progress()
		return fmt.Sprintf("bulk: written %d, acked %d, outstanding %d", w, a, q)
	}
	if s, ok := fl.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}

// labNamespaces lists namespaces whose name has the lab prefix.
func labNamespaces(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var ns []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// runLab runs body with a fresh lab in a subtest, then verifies that the
// lab's namespaces and processes are gone.
func runLab(t *testing.T, name string, opts []peertest.LabOption, body func(t *testing.T, l *peertest.Lab)) {
	var lab *peertest.Lab
	var pids []string
	t.Run(name, func(t *testing.T) {
		lab = peertest.StartLab(t, opts...)
		defer func() {
			// Record what runs in the namespaces, to check it is gone later.
			for _, ns := range []string{lab.Client, lab.FwA, lab.FwB, lab.Server} {
				out, _ := exec.Command("ip", "netns", "pids", ns).Output()
				pids = append(pids, strings.Fields(string(out))...)
			}
		}()
		body(t, lab)
	})
	if lab == nil {
		return // skipped before the lab existed
	}
	prefix := strings.TrimSuffix(lab.Client, "-c")
	if left := labNamespaces(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + pid); err == nil {
			if b, _ := os.ReadFile("/proc/" + pid + "/stat"); !strings.Contains(string(b), ") Z ") {
				t.Errorf("process %s left behind: %s", pid, b)
			}
		}
	}
}

// TestLabViaFwA: the three flows work through fwA, conntrack sees them, and
// fwA drops nothing as invalid.
func TestLabViaFwA(t *testing.T) {
	for _, v := range []struct {
		name string
		snat bool
		opts []peertest.LabOption
	}{{"plain", false, nil}, {"snat+queue", true, []peertest.LabOption{peertest.WithSNAT(), peertest.WithQueue()}}} {
		runLab(t, v.name, v.opts, func(t *testing.T, l *peertest.Lab) {
			f := startFlows(t, l)
			time.Sleep(time.Second)
			ct := l.Conntrack(t, l.FwA, "-L")
			t.Logf("fwA table:\n%s", ct)
			for _, want := range []string{"dport=7001", "dport=7002", "dport=7003"} {
				if !strings.Contains(ct, want) {
					t.Errorf("fwA has no conntrack entry with %s", want)
				}
			}
			if v.snat && !strings.Contains(ct, "dst="+l.SNATAddr.String()) {
				t.Errorf("fwA table shows no SNAT to %s", l.SNATAddr)
			}
			if b, ok := f.bulk.(interface{ Progress() (int64, int64, int64) }); ok {
				w, a, q := b.Progress()
				t.Logf("bulk after 1 s: written %d, acked %d, outstanding %d", w, a, q)
			}
			for name, err := range f.check() {
				if err != nil {
					t.Errorf("%s flow via fwA: %v", name, err)
				}
			}
			t.Logf("%s; %s", describe(f.idle), describe(f.udp))
			if n := l.InvalidDrops(t, l.FwA); n != 0 {
				t.Errorf("fwA invalid drops = %d, want 0", n)
			}
			if n := l.InvalidDrops(t, l.FwB); n != 0 {
				t.Errorf("fwB invalid drops = %d, want 0 (unused)", n)
			}
		})
	}
}

// switchScenario starts the three flows through fwA (with a standing queue
// on the firewalls' server side: the bulk sender is unlimited and the
// firewalls shape to 20 Mbit/s), lets them run, calls before (the state copy,
// or nothing), switches the routes to fwB and checks the flows.
func switchScenario(t *testing.T, l *peertest.Lab, before func()) map[string]error {
	t.Helper()
	f := labFlows{
		idle: l.StartIdleTCP(t, idlePort),
		bulk: l.StartBulkTCP(t, bulkPort, 10<<20, 0), // ~4 s at 20 Mbit/s
		udp:  l.StartUDP(t, udpPort),
	}
	time.Sleep(time.Second)
	t.Logf("before the switch: %s", describe(f.bulk))
	if before != nil {
		before()
	}
	t0 := time.Now()
	l.Via(t, l.FwB)
	t.Logf("switched to fwB in %v", time.Since(t0).Round(time.Microsecond))
	errs := f.check()
	for _, name := range []string{"idle", "bulk", "udp"} {
		t.Logf("%-4s flow after the switch: err = %v", name, errs[name])
	}
	t.Logf("%s; %s; %s", describe(f.idle), describe(f.udp), describe(f.bulk))
	t.Logf("invalid drops: fwA %d, fwB %d", l.InvalidDrops(t, l.FwA), l.InvalidDrops(t, l.FwB))
	return errs
}

// TestLabSwitchWithoutStateBreaks is the control: moving the traffic to fwB
// without its state must break the TCP flows (fwB's strict ruleset drops
// their mid-stream segments as invalid), so a migration test built on this
// lab can fail.
func TestLabSwitchWithoutStateBreaks(t *testing.T) {
	for _, v := range []struct {
		name string
		opts []peertest.LabOption
	}{{"plain", []peertest.LabOption{peertest.WithQueue()}}, {"snat", []peertest.LabOption{peertest.WithQueue(), peertest.WithSNAT()}}} {
		runLab(t, v.name, v.opts, func(t *testing.T, l *peertest.Lab) {
			errs := switchScenario(t, l, nil)
			if errs["idle"] == nil {
				t.Errorf("idle TCP flow survived a switch to a firewall without its state: the lab cannot detect a failed migration")
			}
			if errs["bulk"] == nil {
				t.Errorf("bulk TCP flow survived a switch to a firewall without its state: the lab cannot detect a failed migration")
			}
			if n := l.InvalidDrops(t, l.FwB); n == 0 {
				t.Errorf("fwB counted no invalid drops")
			}
			// UDP from the client side may open a new entry on fwB, so it
			// can survive; this is expected and only reported.
			t.Logf("udp (new flows from the client side are allowed): %v", errs["udp"])
		})
	}
}

// TestLabCrudeCopyInformative copies fwA's table to fwB with the conntrack
// tool alone (-L -o save, then -I per entry) right before the switch. It is
// informative: it reports which flows survive, it does not require them to.
func TestLabCrudeCopyInformative(t *testing.T) {
	for _, v := range []struct {
		name string
		opts []peertest.LabOption
	}{{"plain", []peertest.LabOption{peertest.WithQueue()}}, {"snat", []peertest.LabOption{peertest.WithQueue(), peertest.WithSNAT()}}} {
		runLab(t, v.name, v.opts, func(t *testing.T, l *peertest.Lab) {
			l.Conntrack(t, l.FwA, "--version") // Need: skips without conntrack
			errs := switchScenario(t, l, func() {
				t0 := time.Now()
				n, cerrs := l.CrudeCopy(t, l.FwA, l.FwB)
				t.Logf("crude copy: %d entries dumped from fwA, %d failed to insert on fwB, %v", n, len(cerrs), time.Since(t0).Round(time.Millisecond))
				for _, e := range cerrs {
					t.Logf("  insert failed: %s", e)
				}
				if n == 0 {
					t.Fatalf("fwA table was empty: the lab is broken")
				}
				t.Logf("fwB table after the copy:\n%s", l.Conntrack(t, l.FwB, "-L"))
			})
			for _, name := range []string{"idle", "bulk", "udp"} {
				if errs[name] == nil {
					t.Logf("INFO: %s flow SURVIVED the crude copy", name)
				} else {
					t.Logf("INFO: %s flow BROKE after the crude copy: %v", name, errs[name])
				}
			}
		})
	}
}
