// Package devicetest is the conformance suite every writable
// device.Driver must pass. A driver's tests supply a Harness (the driver's
// factory, and fresh devices with out-of-band access to their session
// table) and call Run:
//
//	func TestConformance(t *testing.T) {
//		devicetest.Run(t, devicetest.Harness{Open: myFactory, NewDevice: myDevice})
//	}
//
// The suite checks the contract of package device as the migration engine
// relies on it: capabilities, reads with and without an endpoint, staging
// and commit, confirmed commit with cancel (exact restore), confirm,
// persist across driver instances and confirm-timeout expiry, idempotent
// removal, lock conflicts, change streams, refused writes leaving the
// device unchanged, and the error sentinels for an unreachable device and
// a wrong host key. Subtests that need something the device cannot do
// (refuse a write on demand, stream changes) are skipped with the reason.
package devicetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Device is one fresh device under test, with out-of-band access to its
// session table (what traffic and timers would do, and what the test
// checks against).
type Device interface {
	// Config is how a driver connects to the device.
	Config() device.Config
	// Sessions lists the sessions the device holds now.
	Sessions(t testing.TB) []*flow.Session
	// Seed creates or replaces sessions, as traffic would.
	Seed(t testing.TB, ss ...*flow.Session)
	// Destroy removes sessions by id, as expiry would.
	Destroy(t testing.TB, ids ...string)
	// RefuseNextWrite makes the device refuse the next session it is
	// asked to write (a fault in the middle of a commit). It reports
	// false when the device cannot do that; the subtest is then skipped.
	RefuseNextWrite(t testing.TB) bool
	// Stop makes the device unreachable for good.
	Stop(t testing.TB)
}

// Harness connects the suite to a driver and its devices.
type Harness struct {
	// Open is the driver's factory.
	Open device.Factory
	// NewDevice starts a fresh, empty device, torn down when t ends.
	NewDevice func(t *testing.T) Device
	// Session returns the i-th test session (distinct i: distinct ids)
	// in a form the device stores exactly. Default: Session.
	Session func(i int) *flow.Session
	// Modify changes a session's content but not its id, dropping a leaf
	// so that a replace that merges is caught. Default: Modify.
	Modify func(s *flow.Session)
	// ConfirmTimeout is the confirm-timeout of the expiry subtest
	// (default 1 s).
	ConfirmTimeout time.Duration
}

// Session is the default test session: IPv4 TCP from 10.1.x.y, established,
// with timers.
func Session(i int) *flow.Session {
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress:      ygot.String(fmt.Sprintf("10.1.%d.%d", i/250%250, i%250+1)),
			DestinationAddress: ygot.String("192.0.2.10"),
			SourcePort:         ygot.Uint16(uint16(1024 + i%60000)),
			DestinationPort:    ygot.Uint16(443),
		},
		Tcp:    &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(3600), IdleTimeout: ygot.Uint32(7200)},
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

// Modify is the default change: TCP state fin-wait, idle-timeout dropped.
func Modify(s *flow.Session) {
	if s.Tcp == nil {
		s.Tcp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{}
	}
	s.Tcp.State = flowstate.SamiFlowState_TcpState_fin_wait
	if s.Timers != nil {
		s.Timers.IdleTimeout = nil
	}
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	if h.Open == nil || h.NewDevice == nil {
		t.Fatal("devicetest: the harness needs Open and NewDevice")
	}
	if h.Session == nil {
		h.Session = Session
	}
	if h.Modify == nil {
		h.Modify = Modify
	}
	if h.ConfirmTimeout == 0 {
		h.ConfirmTimeout = time.Second
	}
	s := &suite{h: h}
	for _, c := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"Capabilities", s.capabilities},
		{"ReadAll", s.readAll},
		{"ReadByEndpoint", s.readByEndpoint},
		{"ReadStoppedByCaller", s.readStopped},
		{"StageCommit", s.stageCommit},
		{"StageRefusesBadSession", s.stageBad},
		{"ConfirmedCancelRestoresExactly", s.confirmedCancel},
		{"ConfirmedConfirmKeeps", s.confirmedConfirm},
		{"PersistConfirmFromNewDriver", func(t *testing.T) { s.persist(t, true) }},
		{"PersistCancelFromNewDriver", func(t *testing.T) { s.persist(t, false) }},
		{"ConfirmTimeoutRollsBack", s.confirmTimeout},
		{"RemoveAbsentIsNoError", s.removeAbsent},
		{"LockHeldByAnother", s.locked},
		{"Watch", s.watch},
		{"RefusedWriteChangesNothing", s.refused},
		{"Unreachable", s.unreachable},
		{"WrongHostKey", s.wrongHostKey},
	} {
		t.Run(c.name, c.fn)
	}
}

type suite struct{ h Harness }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open connects a new driver to dev, closed when t ends.
func (s *suite) open(t *testing.T, dev Device) device.Driver {
	t.Helper()
	d, err := s.h.Open(ctxFor(t), dev.Config())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// sessions returns test sessions from..to-1.
func (s *suite) sessions(from, to int) []*flow.Session {
	var out []*flow.Session
	for i := from; i < to; i++ {
		out = append(out, s.h.Session(i))
	}
	return out
}

func (s *suite) modified(i int) *flow.Session {
	x := s.h.Session(i)
	s.h.Modify(x)
	return x
}

// same fails unless the device holds exactly want (canonical form).
func same(t *testing.T, what string, got, want []*flow.Session) {
	t.Helper()
	r := flow.Diff(want, got)
	if r.Empty() {
		return
	}
	var msg string
	for _, x := range r.Added {
		msg += "\n  unexpected " + x.GetId()
	}
	for _, x := range r.Removed {
		msg += "\n  missing " + x.GetId()
	}
	for _, c := range r.Changed {
		msg += fmt.Sprintf("\n  changed %s: %v", c.ID, c.Fields)
	}
	for _, e := range r.Errors {
		msg += "\n  " + e.Error()
	}
	t.Fatalf("%s: the device does not hold what it should:%s", what, msg)
}

func readAll(t *testing.T, d device.Driver, m *flow.Matcher) []*flow.Session {
	t.Helper()
	var out []*flow.Session
	if err := d.Read(ctxFor(t), m, func(s *flow.Session) error { out = append(out, s); return nil }); err != nil {
		t.Fatalf("read: %v", err)
	}
	return out
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ids(ss []*flow.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.GetId())
	}
	slices.Sort(out)
	return out
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wrongKnownHosts writes a known_hosts file naming another key for addr.
func wrongKnownHosts(t *testing.T, addr string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, pk)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// endpointOf is the source address of s.
func endpointOf(t *testing.T, s *flow.Session) flow.Endpoint {
	t.Helper()
	a, err := netip.ParseAddr(s.GetOriginal().GetSourceAddress())
	if err != nil {
		t.Fatalf("test session %s: %v", s.GetId(), err)
	}
	return flow.Endpoint{Address: a}
}
