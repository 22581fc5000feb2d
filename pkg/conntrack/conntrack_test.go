package conntrack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
	"golang.org/x/sys/unix"
)

type fs = flowstate.SamiFlowState_FlowState_Sessions_Session

// sb builds test sessions.
func sb(zone uint16, proto uint8, src string, sport uint16, dst string, dport uint16, remaining uint32) *fs {
	af := flowstate.SamiFlowState_AddressFamily_ipv4
	if strings.Contains(src, ":") {
		af = flowstate.SamiFlowState_AddressFamily_ipv6
	}
	s := &fs{
		AddressFamily: af,
		Protocol:      ygot.Uint8(proto),
		ZoneId:        ygot.Uint16(zone),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String(src), DestinationAddress: ygot.String(dst),
		},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(remaining)},
	}
	if hasPorts(proto) {
		s.Original.SourcePort, s.Original.DestinationPort = ygot.Uint16(sport), ygot.Uint16(dport)
	}
	return s
}

var (
	wsFlag   = flowstate.SamiFlowState_TcpTrackingFlag_window_scale
	sackFlag = flowstate.SamiFlowState_TcpTrackingFlag_sack_permitted
	maxack   = flowstate.SamiFlowState_TcpTrackingFlag_maxack_set
	assured  = flowstate.SamiFlowState_FlowState_Sessions_Session_Status_assured
	seen     = flowstate.SamiFlowState_FlowState_Sessions_Session_Status_seen_reply
)

func established(s *fs, wsO, wsR uint8) *fs {
	s.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{seen, assured}
	s.Tcp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{
		State: flowstate.SamiFlowState_TcpState_established,
		Original: &tcpOrig{
			Flags: []flowstate.E_SamiFlowState_TcpTrackingFlag{wsFlag, sackFlag, maxack}, WindowScale: ygot.Uint8(wsO),
		},
		Reply: &tcpReply{
			Flags: []flowstate.E_SamiFlowState_TcpTrackingFlag{wsFlag, sackFlag, maxack}, WindowScale: ygot.Uint8(wsR),
		},
	}
	return s
}

// withReply sets the reply tuple a Linux dump reports (the inverse with
// the NAT applied), so the written set compares equal to the read-back.
func withReply(s *fs) *fs {
	e, err := fromSession(s, false)
	if err != nil {
		panic(err)
	}
	r := e.orig.inverse()
	if e.snat != nil {
		if e.snat.addr.IsValid() {
			r.dst = e.snat.addr
		}
		if e.snat.hasPort {
			if isICMP(r.proto) {
				r.sport = e.snat.port
			} else {
				r.dport = e.snat.port
			}
		}
	}
	if e.dnat != nil {
		if e.dnat.addr.IsValid() {
			r.src = e.dnat.addr
		}
		if e.dnat.hasPort {
			r.sport = e.dnat.port
		}
	}
	s.Reply = &flowstate.SamiFlowState_FlowState_Sessions_Session_Reply{
		SourceAddress: ygot.String(r.src.String()), DestinationAddress: ygot.String(r.dst.String()),
	}
	switch {
	case isICMP(r.proto):
		s.Reply.Icmp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Reply_Icmp{
			Type: ygot.Uint8(r.icmpType), Code: ygot.Uint8(r.icmpCode), Identifier: ygot.Uint16(r.sport),
		}
	case hasPorts(r.proto):
		s.Reply.SourcePort, s.Reply.DestinationPort = ygot.Uint16(r.sport), ygot.Uint16(r.dport)
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

func testSessions(withSCTP bool) []*fs {
	var ss []*fs
	// TCP established, window scale + flags.
	ss = append(ss, established(sb(0, 6, "10.1.0.1", 40000, "10.2.0.1", 443, 3000), 7, 9))
	// TCP with liberal tracking on the original direction only.
	lib := established(sb(0, 6, "10.1.0.2", 40001, "10.2.0.1", 80, 1200), 0, 0)
	lib.Tcp.Original.Liberal = ygot.Bool(true)
	lib.Tcp.Original.Flags = []flowstate.E_SamiFlowState_TcpTrackingFlag{sackFlag}
	lib.Tcp.Original.WindowScale = nil
	lib.Tcp.Reply.Flags = []flowstate.E_SamiFlowState_TcpTrackingFlag{sackFlag}
	lib.Tcp.Reply.WindowScale = nil
	ss = append(ss, lib)
	// UDP, seen reply.
	udp := sb(0, 17, "10.1.0.3", 5353, "10.2.0.53", 53, 120)
	udp.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{seen}
	ss = append(ss, udp)
	// ICMP echo.
	icmp := sb(0, 1, "10.1.0.4", 0, "10.2.0.4", 0, 30)
	icmp.Original.Icmp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Original_Icmp{
		Type: ygot.Uint8(8), Code: ygot.Uint8(0), Identifier: ygot.Uint16(4242),
	}
	ss = append(ss, icmp)
	// IPv6 TCP.
	ss = append(ss, established(sb(0, 6, "2001:db8::10", 50000, "2001:db8:1::20", 22, 7000), 6, 7))
	// SNAT'd TCP (masquerade to 192.0.2.1:61000).
	snat := established(sb(0, 6, "10.1.0.5", 40005, "198.51.100.7", 443, 3600), 7, 7)
	snat.Nat = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{Source: &natSource{
		InternalSrcAddress: ygot.String("10.1.0.5"), InternalSrcPort: ygot.Uint16(40005),
		ExternalSrcAddress: ygot.String("192.0.2.1"), ExternalSrcPort: ygot.Uint16(61000),
	}}
	ss = append(ss, snat)
	// DNAT'd UDP (port forward 192.0.2.1:5060 -> 10.3.0.9:5062).
	dnat := sb(0, 17, "203.0.113.9", 5060, "192.0.2.1", 5060, 180)
	dnat.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{seen, assured}
	dnat.Nat = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{Destination: &natDest{
		ExternalDstAddress: ygot.String("192.0.2.1"), ExternalDstPort: ygot.Uint16(5060),
		InternalDstAddress: ygot.String("10.3.0.9"), InternalDstPort: ygot.Uint16(5062),
	}}
	ss = append(ss, dnat)
	// Zone 7 with a mark.
	z := established(sb(7, 6, "10.1.0.1", 40000, "10.2.0.1", 443, 2500), 7, 9)
	z.Mark = ygot.Uint32(0x2a)
	ss = append(ss, z)
	// Mark only, fixed timeout.
	m := sb(0, 17, "10.1.0.6", 1000, "10.2.0.6", 2000, 90)
	m.Mark = ygot.Uint32(0xdeadbeef)
	m.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{flowstate.SamiFlowState_FlowState_Sessions_Session_Status_fixed_timeout}
	ss = append(ss, m)
	if withSCTP {
		sc := sb(0, 132, "10.1.0.7", 2905, "10.2.0.7", 2905, 400)
		sc.Status = []flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status{seen, assured}
		sc.Sctp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Sctp{
			State: flowstate.SamiFlowState_SctpState_established, OriginalVtag: ygot.Uint32(0x11223344), ReplyVtag: ygot.Uint32(0x55667788),
		}
		ss = append(ss, sc)
	}
	for _, s := range ss {
		withReply(s)
	}
	return ss
}

func dumpAll(t testing.TB, b *Backend) []*fs {
	t.Helper()
	var out []*fs
	if err := b.Dump(context.Background(), func(s *flow.Session) error {
		out = append(out, s)
		return nil
	}); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return out
}

func stripVolatile(ss []*fs) {
	for _, s := range ss {
		s.Counters = nil
		if s.Timers != nil {
			s.Timers.Created = nil
		}
	}
}

// sctpAvailable reports whether the kernel tracks SCTP (built in or loaded).
func sctpAvailable(ns string) bool {
	return exec.Command("ip", "netns", "exec", ns, "test", "-e", "/proc/sys/net/netfilter/nf_conntrack_sctp_timeout_established").Run() == nil
}

func TestRoundTrip(t *testing.T) {
	ns, path := newNetNS(t)
	requireTool(t, "conntrack")
	b := openNS(t, path)
	ctx := context.Background()
	want := testSessions(sctpAvailable(ns))
	if err := b.Upsert(ctx, want); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	got := dumpAll(t, b)
	stripVolatile(got)
	if r := flow.Diff(want, got, flow.WithTimeoutTolerance(3*time.Second)); !r.Empty() {
		for _, c := range r.Changed {
			for _, f := range c.Fields {
				t.Errorf("%s: %s: wrote %v, read %v", c.ID, f.Path, f.A, f.B)
			}
		}
		for _, s := range r.Added {
			t.Errorf("unexpected entry %s", *s.Id)
		}
		for _, s := range r.Removed {
			t.Errorf("missing entry %s", *s.Id)
		}
		for _, e := range r.Errors {
			t.Errorf("diff: %v", e)
		}
	}

	// The kernel's own view, through conntrack(8).
	out := inNS(t, ns, "conntrack", "-L", "-o", "extended")
	t.Logf("conntrack -L -o extended:\n%s", out)
	lines := strings.Split(out, "\n")
	find := func(substr string) string {
		for _, l := range lines {
			if strings.Contains(l, substr) {
				return l
			}
		}
		t.Errorf("conntrack -L shows no entry with %q", substr)
		return ""
	}
	snat := find("sport=40005")
	for _, w := range []string{"ESTABLISHED", "src=198.51.100.7 dst=192.0.2.1 sport=443 dport=61000", "[ASSURED]"} {
		if !strings.Contains(snat, w) {
			t.Errorf("SNAT entry lacks %q: %s", w, snat)
		}
	}
	if dnat := find("src=203.0.113.9"); !strings.Contains(dnat, "src=10.3.0.9 dst=203.0.113.9 sport=5062 dport=5060") {
		t.Errorf("DNAT entry lacks the translated reply: %s", dnat)
	}
	if z := find("zone=7"); !strings.Contains(z, "mark=42") || !strings.Contains(z, "[ASSURED]") {
		t.Errorf("zone 7 entry lacks mark=42 or [ASSURED]: %s", z)
	}
	if m := find("mark=3735928559"); m == "" {
		t.Error("mark 0xdeadbeef not shown")
	}
	// Timeout: the 6th field (after "ipv4 2 tcp 6") is the remaining time.
	est := find("sport=40000 dport=443")
	if f := strings.Fields(est); len(f) < 5 || (f[4] != "3000" && f[4] != "2999" && f[4] != "2998" && f[4] != "2500" && f[4] != "2499" && f[4] != "2498") {
		t.Errorf("unexpected timeout in %q", est)
	}
}

func TestUpsertIdempotent(t *testing.T) {
	ns, path := newNetNS(t)
	b := openNS(t, path)
	ctx := context.Background()
	ss := testSessions(sctpAvailable(ns))
	for i := range 2 {
		if err := b.Upsert(ctx, ss); err != nil {
			t.Fatalf("Upsert #%d: %v", i+1, err)
		}
	}
	got := dumpAll(t, b)
	if len(got) != len(ss) {
		t.Fatalf("after two upserts: %d entries, want %d", len(got), len(ss))
	}
	stripVolatile(got)
	if r := flow.Diff(ss, got, flow.WithTimeoutTolerance(3*time.Second)); !r.Empty() {
		t.Errorf("second upsert changed the entries: %+v", r)
	}
	caps, err := b.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.GetActiveSessions() != uint64(len(ss)) {
		t.Errorf("active-sessions = %d, want %d", caps.GetActiveSessions(), len(ss))
	}
}

func TestDelete(t *testing.T) {
	_, path := newNetNS(t)
	b := openNS(t, path)
	ctx := context.Background()
	ss := testSessions(false)
	if err := b.Upsert(ctx, ss); err != nil {
		t.Fatal(err)
	}
	// Delete by key only: the smallest session naming the flow.
	var keys []*fs
	for _, s := range ss[:4] {
		k, err := flow.ParseKey(*s.Id)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.Session())
	}
	if err := b.Delete(ctx, keys); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := b.Delete(ctx, keys); err != nil {
		t.Fatalf("Delete of absent sessions: %v", err)
	}
	got := dumpAll(t, b)
	stripVolatile(got)
	if r := flow.Diff(ss[4:], got, flow.WithTimeoutTolerance(3*time.Second)); !r.Empty() {
		t.Errorf("after delete: %+v", r)
	}
}

func TestCapacity(t *testing.T) {
	_, path := newNetNS(t)
	// nf_conntrack_max is read-only inside a namespace (global): limit by option.
	b := openNS(t, path, WithMaxSessions(5))
	ctx := context.Background()
	ss := testSessions(false)
	err := b.Upsert(ctx, ss)
	var ce *backend.CapacityError
	if !errors.As(err, &ce) || !errors.Is(err, backend.ErrCapacity) {
		t.Fatalf("Upsert of %d into 5 slots: %v, want CapacityError", len(ss), err)
	}
	if ce.Need != uint64(len(ss)) || ce.Free != 5 {
		t.Errorf("CapacityError = %+v, want need %d free 5", ce, len(ss))
	}
	if got := dumpAll(t, b); len(got) != 0 {
		t.Errorf("%d entries written despite the capacity error", len(got))
	}
	caps, err := b.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.GetFreeSlots() != 5 {
		t.Errorf("free-slots = %d, want 5", caps.GetFreeSlots())
	}
}

func TestRefusalMidBatch(t *testing.T) {
	_, path := newNetNS(t)
	b := openNS(t, path, WithBatchSize(4))
	ctx := context.Background()
	ss := testSessions(false)
	// The kernel refuses a helper it does not have.
	bad := sb(0, 6, "10.9.9.9", 1234, "10.9.9.10", 21, 60)
	bad.Alg = &flowstate.SamiFlowState_FlowState_Sessions_Session_Alg{Helper: ygot.String("nosuchhelper")}
	withReply(bad)
	in := append(append(append([]*fs{}, ss[:5]...), bad), ss[5:]...)
	err := b.Upsert(ctx, in)
	var be *backend.BatchError
	if !errors.As(err, &be) || !errors.Is(err, backend.ErrRefused) {
		t.Fatalf("Upsert: %v, want BatchError", err)
	}
	if be.Applied != 5 || be.ID != *bad.Id {
		t.Errorf("BatchError = %+v, want Applied 5 ID %s", be, *bad.Id)
	}
	t.Logf("kernel refusal: %v", err)
	got := dumpAll(t, b)
	ids := map[string]bool{}
	for _, s := range got {
		ids[*s.Id] = true
	}
	for _, s := range in[:5] {
		if !ids[*s.Id] {
			t.Errorf("applied session %s missing", *s.Id)
		}
	}
	if ids[*bad.Id] {
		t.Errorf("refused session %s present", *bad.Id)
	}
	// Sessions after the refusal in later batches were not tried.
	for _, s := range in[8:] {
		if ids[*s.Id] {
			t.Errorf("session %s of a later batch was written", *s.Id)
		}
	}
}

func TestLabelsNeedRule(t *testing.T) {
	_, path := newNetNS(t)
	b := openNS(t, path)
	ctx := context.Background()
	ok, err := b.LabelsUsable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatal("labels reported usable in a fresh namespace, which has no rule using them")
	}
	caps, err := b.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range caps.Features {
		if f == flowstate.SamiFlowState_Feature_labels {
			t.Error("labels advertised without a labels rule")
		}
	}
	s := withReply(sb(0, 17, "10.1.1.1", 1, "10.1.1.2", 2, 60))
	s.Label = []uint8{3}
	if err := b.Upsert(ctx, []*fs{s}); !errors.Is(err, backend.ErrUnsupported) {
		t.Errorf("Upsert with labels: %v, want ErrUnsupported", err)
	}
	if got := dumpAll(t, b); len(got) != 0 {
		t.Errorf("%d entries left (probe or session)", len(got))
	}
}

func TestWatch(t *testing.T) {
	ns, path := newNetNS(t)
	requireTool(t, "conntrack")
	b := openNS(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	events := make(chan backend.Event, 16)
	done := make(chan error, 1)
	go func() {
		done <- b.Watch(ctx, func(e backend.Event) error {
			events <- e
			return nil
		})
	}()
	// Watch has joined the event groups once it reports a probe entry:
	// insert one (afresh) until it does. Events of the probe are skipped
	// below.
	probe := "0/17/10.7.9.1/5353/10.7.9.2/53"
	probeSeen := func() bool {
		wait := time.After(time.Second)
		for {
			select {
			case e := <-events:
				if e.Session.GetId() == probe {
					return true
				}
			case <-wait:
				return false
			case err := <-done:
				t.Fatalf("Watch ended before the probe was seen: %v", err)
			case <-ctx.Done():
				t.Fatal("Watch reported no event of the probe entry")
			}
		}
	}
	for {
		inNS(t, ns, "conntrack", "-I", "-p", "udp", "-s", "10.7.9.1", "-d", "10.7.9.2", "--sport", "5353", "--dport", "53", "-t", "600")
		if probeSeen() {
			break
		}
		inNS(t, ns, "conntrack", "-D", "-p", "udp", "-s", "10.7.9.1")
	}
	inNS(t, ns, "conntrack", "-I", "-p", "tcp", "-s", "10.7.0.1", "-d", "10.7.0.2", "--sport", "4444", "--dport", "80",
		"--state", "ESTABLISHED", "-u", "ASSURED", "-t", "600", "-m", "9")
	inNS(t, ns, "conntrack", "-D", "-p", "tcp", "-s", "10.7.0.1")
	want := "0/6/10.7.0.1/4444/10.7.0.2/80"
	var seen []backend.EventType
	for len(seen) < 2 {
		select {
		case e := <-events:
			if e.Session.GetId() != want {
				continue
			}
			seen = append(seen, e.Type)
			if e.Type == backend.Created && (e.Session.GetMark() != 9 || e.Session.Tcp.GetState() != flowstate.SamiFlowState_TcpState_established) {
				t.Errorf("created event: mark %d state %v", e.Session.GetMark(), e.Session.Tcp.GetState())
			}
		case <-ctx.Done():
			t.Fatalf("events seen: %v, want created and destroyed", seen)
		}
	}
	if seen[0] != backend.Created || seen[len(seen)-1] != backend.Destroyed {
		t.Errorf("events %v, want created ... destroyed", seen)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v, want context.Canceled", err)
	}
}

// inNetNS runs fn on a locked OS thread inside the namespace at path.
func inNetNS(t *testing.T, path string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// The thread is left locked (and so discarded) when it changed
		// namespace, so no other goroutine runs in the test namespace.
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		fn()
	}()
	<-done
}

func TestDumpRealTraffic(t *testing.T) {
	ns, path := newNetNS(t)
	requireTool(t, "nft")
	inNS(t, ns, "ip", "link", "set", "lo", "up")
	// Linux tracks a namespace's packets only once a rule needs conntrack.
	inNS(t, ns, "nft", "add table inet sami; add chain inet sami out { type filter hook output priority 0; }; add rule inet sami out ct state established,related,new accept")
	b := openNS(t, path)
	msg := strings.Repeat("x", 1<<20)
	inNetNS(t, path, func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := fmt.Fprint(c, msg); err != nil {
			t.Error(err)
		}
		time.Sleep(100 * time.Millisecond)
		// Keep the connection open while the table is read.
		got := dumpAll(t, b)
		port := c.LocalAddr().(*net.TCPAddr).Port
		var found *fs
		for _, s := range got {
			if s.GetProtocol() == 6 && int(s.Original.GetSourcePort()) == port {
				found = s
			}
		}
		c.Close()
		if found == nil {
			t.Errorf("no entry for the client port %d in %d entries", port, len(got))
			return
		}
		t.Logf("real entry: %s tcp %+v %+v status %v", *found.Id, found.Tcp.Original, found.Tcp.Reply, found.Status)
		if found.Tcp.GetState() != flowstate.SamiFlowState_TcpState_established {
			t.Errorf("state %v, want established", found.Tcp.GetState())
		}
		for dir, d := range map[string][]flowstate.E_SamiFlowState_TcpTrackingFlag{
			"original": found.Tcp.GetOriginal().GetFlags(), "reply": found.Tcp.GetReply().GetFlags(),
		} {
			has := false
			for _, f := range d {
				has = has || f == wsFlag
			}
			if !has {
				t.Errorf("%s direction lacks the window-scale flag: %v", dir, d)
			}
		}
		if found.Tcp.GetOriginal().WindowScale == nil || found.Tcp.GetReply().WindowScale == nil {
			t.Error("window scale not reported")
		}
		if !regexp.MustCompile(`^0/6/127\.0\.0\.1/\d+/127\.0\.0\.1/\d+$`).MatchString(*found.Id) {
			t.Errorf("id %q", *found.Id)
		}
	})
}
