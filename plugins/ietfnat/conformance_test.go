package ietfnat

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/peertest"
)

// TestConformance runs the device conformance suite against the driver
// and real yuma123 netconfds loaded with the vendor's ietf-nat (a fresh one
// per subtest). The device side (Sessions, Seed, Destroy) goes through
// the NETCONF client, not the driver. A refused write is netconfd turning
// down a commit while another session holds the running lock.
func TestConformance(t *testing.T) {
	dir := vendorIETF(t)
	devicetest.Run(t, devicetest.Harness{
		Open: func(ctx context.Context, cfg device.Config) (device.Driver, error) {
			d, err := Open(ctx, cfg)
			if err != nil {
				return nil, err
			}
			return d, nil
		},
		NewDevice: func(t *testing.T) devicetest.Device {
			nd := peertest.StartNetconfd(t, peertest.WithModulePath(dir), peertest.WithModule(yumaModule(t, dir)))
			cfg := natConfig(t, nd)
			cfg.Logger = nil
			return &natDevice{nd: nd, cfg: cfg}
		},
		Session: confSession,
		Modify:  confModify,
	})
}

// confSession is devicetest's session i as an entry can hold it: source
// NAT instead of TCP state and idle-timeout, the reply derived.
func confSession(i int) *flow.Session {
	s := devicetest.Session(i)
	s.Tcp, s.Timers.IdleTimeout = nil, nil
	s.Nat = &natC{Source: &natSrc{
		InternalSrcAddress: ygot.String(s.Original.GetSourceAddress()), InternalSrcPort: ygot.Uint16(s.Original.GetSourcePort()),
		ExternalSrcAddress: ygot.String("203.0.113.7"), ExternalSrcPort: ygot.Uint16(uint16(20000 + i)),
	}}
	s.Reply = deriveReply(s)
	return s
}

// confModify changes the translation and drops the lifetime.
func confModify(s *flow.Session) {
	s.Nat.Source.ExternalSrcPort = ygot.Uint16(s.Nat.Source.GetExternalSrcPort() + 1)
	s.Timers = nil
	s.Reply = deriveReply(s)
}

type natDevice struct {
	nd   *peertest.Netconfd
	cfg  device.Config
	last time.Time // of the last read
	// holder locks running from a session of its own, so the device refuses
	// the next commit (RFC 6241 8.3.4.1: a commit fails while another
	// session holds the running lock); released by the next read.
	holder *netconf.Session
}

func (n *natDevice) Config() device.Config { return n.cfg }

func (n *natDevice) Sessions(t testing.TB) []*flow.Session {
	t.Helper()
	n.release(t)
	var out []*flow.Session
	for _, e := range n.entries(t) {
		s, err := Mapping{}.Session(e)
		if err != nil {
			t.Fatalf("entry %d on the device: %v", e.Index, err)
		}
		out = append(out, s)
	}
	return out
}

func (n *natDevice) entries(t testing.TB) []*Entry {
	t.Helper()
	// netconfd services its confirmed-commit timer only when requests do
	// not come faster than about one a second (docs/netconf.md): the suite
	// polls every 50 ms, so reads are spaced out here.
	if wait := time.Second - time.Since(n.last); wait > 0 {
		time.Sleep(wait)
	}
	defer func() { n.last = time.Now() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := n.session(t)
	defer s.Close()
	r, err := s.GetConfig(ctx, netconf.Running, instanceFilter(1, true))
	if err != nil {
		t.Fatalf("get-config: %v", err)
	}
	var out []*Entry
	if _, err := DecodeMappingTable(strings.NewReader("<data>"+string(r.Data)+"</data>"), 1, func(e *Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (n *natDevice) session(t testing.TB) *netconf.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := netconf.Dial(ctx, n.nd.Addr, netconf.WithUser(n.nd.User), netconf.WithKeyFile(n.nd.KeyFile, ""), netconf.WithKnownHosts(n.nd.KnownHosts))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return s
}

// edit writes entries (replaced) and removals into running, as traffic and
// expiry would.
func (n *natDevice) edit(t testing.TB, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := n.session(t)
	defer s.Close()
	cfg := `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nat xmlns="` + Namespace + `" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">` +
		`<instances><instance><id>1</id><mapping-table>` + body + `</mapping-table></instance></instances></nat></config>`
	if err := s.EditConfig(ctx, netconf.Candidate, netconf.ConfigXML(cfg)); err != nil {
		t.Fatalf("edit-config: %v", err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func (n *natDevice) Seed(t testing.TB, ss ...*flow.Session) {
	t.Helper()
	var b []byte
	for _, s := range ss {
		e, err := Mapping{}.Entry(s)
		if err != nil {
			t.Fatal(err)
		}
		b = appendEntry(b, e, "replace", false)
	}
	n.edit(t, string(b))
}

func (n *natDevice) Destroy(t testing.TB, ids ...string) {
	t.Helper()
	gone := map[string]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	var b strings.Builder
	for _, e := range n.entries(t) {
		if s, err := (Mapping{}).Session(e); err == nil && gone[s.GetId()] {
			b.WriteString(`<mapping-entry nc:operation="delete"><index>` + strconv.FormatUint(uint64(e.Index), 10) + `</index></mapping-entry>`)
		}
	}
	if b.Len() > 0 {
		n.edit(t, b.String())
	}
}

// RefuseNextWrite makes netconfd refuse the next commit: another session
// holds the running datastore's lock until the suite reads the device again.
func (n *natDevice) RefuseNextWrite(t testing.TB) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := n.session(t)
	if err := s.Lock(ctx, netconf.Running); err != nil {
		s.Close()
		t.Fatalf("lock running from a second session: %v", err)
	}
	n.holder = s
	t.Cleanup(func() { n.release(t) })
	return true
}

func (n *natDevice) release(t testing.TB) {
	if n.holder == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.holder.Unlock(ctx, netconf.Running); err != nil {
		t.Errorf("unlock running: %v", err)
	}
	n.holder.Close()
	n.holder = nil
}

func (n *natDevice) Stop(t testing.TB) { n.nd.Stop(t) }
