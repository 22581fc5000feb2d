package ietfnat

import (
	"context"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func fakeDriver(t *testing.T, f *fakeNAT, opts map[string]string) *Driver {
	t.Helper()
	cfg := serveFake(t, f)
	cfg.Options = opts
	return open(t, cfg)
}

func TestReadFake(t *testing.T) {
	f := newFake()
	f.get = fixtureData(t, "entries.xml")
	d := fakeDriver(t, f, nil)
	ctx := ctxT(t)
	sameSessions(t, "Read", loadSessions(t, "sessions.xml"), readAll(t, d))

	t.Run("matcher", func(t *testing.T) {
		m := flow.NewMatcher(flow.Endpoint{Address: netip.MustParseAddr("203.0.113.9")}) // a translated address
		var got []string
		if err := d.Read(ctx, m, func(s *flow.Session) error { got = append(got, s.GetId()); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := []string{"0/47/10.0.0.9/0/198.51.100.60/0"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("an error of fn stops the read and keeps the session", func(t *testing.T) {
		stop := errors.New("enough")
		n := 0
		s := d.s
		err := d.Read(ctx, nil, func(*flow.Session) error { n++; return stop })
		if err != stop || n != 1 {
			t.Fatalf("Read: %v after %d sessions, want the fn's error as it is after 1", err, n)
		}
		if _, err := d.Capabilities(ctx); err != nil || d.s != s {
			t.Errorf("session not kept: %v", err)
		}
	})

	t.Run("a malformed entry fails the read, naming it", func(t *testing.T) {
		f.mu.Lock()
		f.get = strings.Replace(fixtureData(t, "entries.xml"), "<start-port-number>1024<", "<start-port-number>70000<", 1)
		f.mu.Unlock()
		s := d.s
		err := d.Read(ctx, nil, func(*flow.Session) error { return nil })
		var ee *EntryError
		if !errors.Is(err, device.ErrUnsupported) || !errors.Is(err, ErrMalformed) || !errors.As(err, &ee) ||
			ee.Index != "1798678123" || ee.Path != "external-src-port/start-port-number" {
			t.Fatalf("Read: %v", err)
		}
		if _, err := d.Capabilities(ctx); err != nil || d.s != s {
			t.Errorf("session not kept: %v", err)
		}
	})
}

func TestCapabilitiesFake(t *testing.T) {
	f := newFake()
	f.get = fixtureData(t, "entries.xml")
	d := fakeDriver(t, f, map[string]string{OptVendor: "acme", OptDomain: "tenant-a", OptZoneID: "7"})
	c, err := d.Capabilities(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	want := &device.Capabilities{
		Vendor: "acme", Model: "ietf-nat@2019-01-10", Domain: "tenant-a",
		MaxSessions: 262144, Active: 14, Protocols: []uint8{6, 17, 1},
		Features: []string{"nat", "zones", "confirmed-commit"}, // nat-flavor napt44: no IPv6
		Writable: true, ConfirmedCommit: true, Watch: true,
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	// ipv6 can be forced.
	d6 := fakeDriver(t, f, map[string]string{OptIPv6: "true"})
	if c, err := d6.Capabilities(ctxT(t)); err != nil || !slices.Contains(c.Features, "ipv6") {
		t.Errorf("ipv6=true: %v %v", c, err)
	}
}

// Stage and Remove send the edits in testdata/*.golden.xml (go test
// -update rewrites them).
func TestWriteGolden(t *testing.T) {
	f := newFake()
	d := fakeDriver(t, f, map[string]string{OptInstanceID: "3", OptInstanceName: "cgn-<3>"})
	ctx := ctxT(t)
	want := loadSessions(t, "sessions.xml")
	// Locked, the driver keeps the index table it read before the first
	// Stage: Remove finds the staged entries in it.
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Stage(ctx, slices.Values(want)); err != nil {
		t.Fatal(err)
	}
	// The instance exists now: its name is not written again.
	if err := d.Remove(ctx, []string{want[2].GetId(), want[0].GetId(), "0/6/192.0.2.1/1/192.0.2.2/2"}); err != nil {
		t.Fatal(err)
	}
	if len(f.edits) != 2 {
		t.Fatalf("%d edits", len(f.edits))
	}
	golden(t, "stage.golden.xml", f.edits[0])
	golden(t, "remove.golden.xml", f.edits[1])
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	got = strings.ReplaceAll(got, "><mapping-entry", ">\n<mapping-entry") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s: -want +got:\n%s", name, d)
	}
}

// Without a lock the driver re-reads the candidate's indexes on every
// Stage; a collision with a native entry moves the session to its next
// probe.
func TestStageIndexesFake(t *testing.T) {
	f := newFake()
	want := loadSessions(t, "sessions.xml")
	// The candidate holds another flow at want[0]'s first index.
	f.config = `<nat xmlns="` + Namespace + `"><instances><instance><id>1</id><mapping-table>` +
		string(withIndex(t, want[1], IndexFor(want[0].GetId(), 0))) + `</mapping-table></instance></instances></nat>`
	d := fakeDriver(t, f, nil)
	ctx := ctxT(t)
	if err := d.Stage(ctx, slices.Values(want[:2])); err != nil {
		t.Fatal(err)
	}
	var got []uint32
	if _, err := DecodeMappingTable(strings.NewReader(f.edits[0]), 1, func(e *Entry) error { got = append(got, e.Index); return nil }); err != nil {
		t.Fatal(err)
	}
	// want[0] moves to its second probe; want[1] keeps its native index.
	if w := []uint32{IndexFor(want[0].GetId(), 1), IndexFor(want[0].GetId(), 0)}; !slices.Equal(got, w) {
		t.Errorf("indexes %v, want %v", got, w)
	}
	if strings.Contains(f.edits[0], "<name>") {
		t.Errorf("the existing instance is renamed: %s", f.edits[0])
	}
}

// NETCONF errors come back as the device sentinels, with the rpc-error in
// the chain.
func TestErrorsFake(t *testing.T) {
	rpc := func(tag string) error {
		return &netconf.RPCError{Type: "protocol", Tag: tag, Severity: "error", Message: tag}
	}
	want := loadSessions(t, "sessions.xml")
	for _, tc := range []struct {
		name   string
		op     string // the fake's operation that fails
		err    error
		call   func(ctx context.Context, d *Driver) error
		expect error
	}{
		{"lock denied", "lock", rpc("lock-denied"), func(ctx context.Context, d *Driver) error { return d.Lock(ctx) }, device.ErrLocked},
		{"edit in use", "edit-config", rpc("in-use"), func(ctx context.Context, d *Driver) error { return d.Stage(ctx, slices.Values(want)) }, device.ErrLocked},
		{"edit refused", "edit-config", rpc("invalid-value"), func(ctx context.Context, d *Driver) error { return d.Stage(ctx, slices.Values(want)) }, device.ErrRefused},
		{"edit not allowed", "edit-config", rpc("access-denied"), func(ctx context.Context, d *Driver) error { return d.Stage(ctx, slices.Values(want)) }, device.ErrAuth},
		{"commit refused", "commit", rpc("operation-failed"), func(ctx context.Context, d *Driver) error { return d.Commit(ctx, device.CommitOptions{}) }, device.ErrRefused},
		{"confirm of an unknown persist id", "commit", rpc("invalid-value"), func(ctx context.Context, d *Driver) error { return d.Confirm(ctx, "p1") }, device.ErrNoPendingCommit},
		{"cancel without pending commit", "cancel-commit", rpc("invalid-value"), func(ctx context.Context, d *Driver) error { return d.Cancel(ctx, "") }, device.ErrNoPendingCommit},
		{"read of a device without the module", "get", rpc("unknown-namespace"), func(ctx context.Context, d *Driver) error {
			return d.Read(ctx, nil, func(*flow.Session) error { return nil })
		}, device.ErrUnsupported},
		{"remove with a malformed id", "", nil, func(ctx context.Context, d *Driver) error { return d.Remove(ctx, []string{"0/6/x"}) }, device.ErrRefused},
		{"confirm with nothing pending", "", nil, func(ctx context.Context, d *Driver) error { return d.Confirm(ctx, "") }, device.ErrNoPendingCommit},
		{"persist without confirmed", "", nil, func(ctx context.Context, d *Driver) error {
			return d.Commit(ctx, device.CommitOptions{Persist: "p"})
		}, device.ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.op != "" {
				f.setErr(tc.op, tc.err)
			}
			d := fakeDriver(t, f, nil)
			err := tc.call(ctxT(t), d)
			if !errors.Is(err, tc.expect) {
				t.Fatalf("%v, want %v", err, tc.expect)
			}
			var de *device.Error
			if !errors.As(err, &de) || de.Device != "fake-nat" {
				t.Errorf("not a *device.Error of fake-nat: %T %v", err, err)
			}
			var re *netconf.RPCError
			if tc.err != nil && !errors.As(err, &re) {
				t.Errorf("the rpc-error is not in the chain: %v", err)
			}
			if tc.op == "" && (len(f.edits) > 0 || len(f.commits) > 0) {
				t.Errorf("sent %d edits and %d commits", len(f.edits), len(f.commits))
			}
		})
	}
}

// The driver keeps track of its own confirmed commit.
func TestConfirmOwnFake(t *testing.T) {
	f := newFake()
	d := fakeDriver(t, f, nil)
	ctx := ctxT(t)
	if err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := d.Confirm(ctx, ""); !errors.Is(err, device.ErrNoPendingCommit) || !strings.Contains(err.Error(), "confirm-timeout expired") {
		t.Errorf("Confirm after the timeout: %v", err)
	}
	if err := d.Commit(ctx, device.CommitOptions{Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.Confirm(ctx, ""); err != nil {
		t.Fatal(err)
	}
	want := []netconf.CommitRequest{{Confirmed: true, Timeout: time.Second}, {Confirmed: true}, {}}
	if d := cmp.Diff(want, f.commits); d != "" {
		t.Errorf("commits -want +got:\n%s", d)
	}
}

func TestOpenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  device.Config
		want string
	}{
		{"no address", device.Config{Name: "x"}, "no address"},
		{"gnmi", device.Config{Name: "x", Address: "a:1", Protocol: "gnmi"}, `protocol "gnmi"`},
		{"unknown option", device.Config{Name: "x", Address: "a:1", Options: map[string]string{"instance": "1"}}, `unknown option "instance"`},
		{"instance 0", device.Config{Name: "x", Address: "a:1", Options: map[string]string{OptInstanceID: "0"}}, "instance-id=\"0\""},
		{"zone", device.Config{Name: "x", Address: "a:1", Options: map[string]string{OptZoneID: "70000"}}, "zone-id=\"70000\""},
		{"read", device.Config{Name: "x", Address: "a:1", Options: map[string]string{OptRead: "candidate"}}, `read="candidate"`},
		{"reply", device.Config{Name: "x", Address: "a:1", Options: map[string]string{OptReply: "keep"}}, `reply="keep"`},
		{"lossy", device.Config{Name: "x", Address: "a:1", Options: map[string]string{OptLossy: "maybe"}}, `lossy="maybe"`},
		{"watch", device.Config{Name: "x", Address: "a:1", Options: map[string]string{OptWatchInterval: "-1s"}}, `watch-interval="-1s"`},
		{"key file", device.Config{Name: "x", Address: "a:1", Credentials: device.Credentials{KeyFile: "/nonexistent/key"}}, "key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.cfg)
			if !errors.Is(err, device.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want ErrConfig saying %q", err, tc.want)
			}
		})
	}
}

func TestOpenDeviceWithoutModule(t *testing.T) {
	f := newFake()
	f.caps = []string{netconf.CapBase10, netconf.CapCandidate}
	_, err := Open(ctxT(t), serveFake(t, f))
	if !errors.Is(err, device.ErrUnsupported) || !strings.Contains(err.Error(), "ietf-nat") {
		t.Errorf("Open: %v", err)
	}
}

func TestRegister(t *testing.T) {
	r := device.NewRegistry()
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	if err := Register(r); !errors.Is(err, device.ErrConfig) {
		t.Errorf("second Register: %v", err)
	}
	f := newFake()
	d, err := r.Open(ctxT(t), serveFake(t, f))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "fake-nat" {
		t.Errorf("name %q", d.Name())
	}
	cfg := serveFake(t, f)
	cfg.Options = map[string]string{"bogus": "1"}
	if d, err := r.Open(ctxT(t), cfg); err == nil || d != nil {
		t.Errorf("Open with a bad option: %v %v (a failed Open must return a nil interface)", d, err)
	}
}

// Options read=running and reply=omit: <get-config> of running, sessions
// without the derived reply.
func TestReadOptionsFake(t *testing.T) {
	f := newFake()
	f.config = fixtureData(t, "entries.xml") // <get> answers nothing
	d := fakeDriver(t, f, map[string]string{OptRead: "running", OptReply: "omit"})
	want := loadSessions(t, "sessions.xml")
	for _, s := range want {
		s.Reply = nil
	}
	sameSessions(t, "Read running without reply", want, readAll(t, d))
}
