package ietfnat

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
)

// TestNetconfd drives a real yuma123 netconfd loaded with the vendor's
// ietf-nat through the whole transaction: every subtest leaves the device
// empty for the next.
func TestNetconfd(t *testing.T) {
	nd, cfg := startNAT(t)
	want := loadSessions(t, "sessions.xml")
	ids := func(ss []*flow.Session) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.GetId())
		}
		return out
	}
	empty := func(t *testing.T, d *Driver) {
		t.Helper()
		if got := readAll(t, d); len(got) > 0 {
			t.Fatalf("device not empty: %v", ids(got))
		}
	}

	t.Run("capabilities", func(t *testing.T) {
		d := open(t, cfg)
		c, err := d.Capabilities(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if !c.Writable || !c.ConfirmedCommit || c.MaxSessions != 0 || c.Active != 0 {
			t.Errorf("capabilities %+v", c)
		}
		if !slices.Equal(c.Features, []string{"nat", "ipv6", "confirmed-commit"}) {
			t.Errorf("features %v (the hello announces nptv6, and no nat-flavor is reported)", c.Features)
		}
		if c.Has(flow.Feature(0)) || c.Model != "ietf-nat@2019-01-10" {
			t.Errorf("model %q", c.Model)
		}
	})

	t.Run("refused before anything is written", func(t *testing.T) {
		d := open(t, cfg)
		ctx := ctxT(t)
		bad := sess(func(s *flow.Session) { s.Mark = ygotU32(16) })
		err := d.Stage(ctx, slices.Values(append(slices.Clone(want), bad, nil)))
		if !errors.Is(err, device.ErrRefused) || !errors.Is(err, ErrInexpressible) || !errors.Is(err, flow.ErrNilSession) {
			t.Fatalf("Stage: %v", err)
		}
		var de *device.Error
		if !errors.As(err, &de) || de.Device != "nat-b" || de.Op != "stage" {
			t.Errorf("error %T %v", err, err)
		}
		if !strings.Contains(err.Error(), "2 of 11 sessions refused") || !strings.Contains(err.Error(), "mark (16)") {
			t.Errorf("error does not say what was refused: %v", err)
		}
		if got := rawEntries(t, nd, netconf.Candidate); len(got) > 0 {
			t.Errorf("the candidate holds %d entries", len(got))
		}
	})

	t.Run("confirmed commit, cancel restores", func(t *testing.T) {
		d := open(t, cfg)
		ctx := ctxT(t)
		if err := d.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Stage(ctx, slices.Values(want)); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		sameSessions(t, "after the confirmed commit", want, readAll(t, d))
		// the instance was created with its name
		if e := rawEntries(t, nd, netconf.Running); len(e) != len(want) {
			t.Errorf("running holds %d entries, want %d", len(e), len(want))
		}
		if err := d.Cancel(ctx, ""); err != nil {
			t.Fatal(err)
		}
		empty(t, d)
		if err := d.Cancel(ctx, ""); !errors.Is(err, device.ErrNoPendingCommit) {
			t.Errorf("second Cancel: %v", err)
		}
		if err := d.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("confirm keeps, replace, remove", func(t *testing.T) {
		d := open(t, cfg)
		ctx := ctxT(t)
		if err := d.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		defer d.Unlock(ctx)
		if err := d.Stage(ctx, slices.Values(want)); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: 3 * time.Second}); err != nil {
			t.Fatal(err)
		}
		if err := d.Confirm(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if err := d.Confirm(ctx, ""); !errors.Is(err, device.ErrNoPendingCommit) {
			t.Errorf("second Confirm: %v", err)
		}
		time.Sleep(5 * time.Second) // past the timeout: confirmed, so it stays
		sameSessions(t, "after confirm and the timeout", want, readAll(t, d))

		// Replace one session as a whole: another external port, no lifetime.
		changed := sess(func(s *flow.Session) { s.Nat.Source.ExternalSrcPort = ygotU16(62000); s.Timers = nil })
		if err := flow.SetKey(changed); err != nil {
			t.Fatal(err)
		}
		if err := d.Stage(ctx, slices.Values([]*flow.Session{changed})); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		next := slices.Clone(want)
		for i, s := range next {
			if s.GetId() == changed.GetId() {
				p, _ := Mapping{}.Project(changed)
				next[i] = p
			}
		}
		sameSessions(t, "after replacing one session", next, readAll(t, d))

		// Remove two, and an id that is not there.
		gone := []string{want[0].GetId(), want[1].GetId(), "0/6/192.0.2.1/1/192.0.2.2/2"}
		if err := d.Remove(ctx, gone); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		sameSessions(t, "after removing two", next[2:], readAll(t, d))
		if err := d.Remove(ctx, []string{"0/6/192.0.2.1/1/192.0.2.2/2"}); err != nil {
			t.Errorf("Remove of an absent id: %v", err)
		}
		if err := d.Remove(ctx, ids(want)); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		empty(t, d)
	})
}

// TestNetconfdPersist: a persistent confirmed commit survives the driver
// that made it; a second driver confirms or cancels it with the persist id.
func TestNetconfdPersist(t *testing.T) {
	nd, cfg := startNAT(t)
	want := loadSessions(t, "sessions.xml")
	ctx := ctxT(t)

	d1 := open(t, cfg)
	if err := d1.Stage(ctx, slices.Values(want[:4])); err != nil {
		t.Fatal(err)
	}
	if err := d1.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute, Persist: "mig-1"}); err != nil {
		t.Fatal(err)
	}
	d1.Close()
	d2 := open(t, cfg)
	sameSessions(t, "persistent commit after its driver closed", want[:4], readAll(t, d2))
	if err := d2.Confirm(ctx, "no-such-id"); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("Confirm of an unknown persist id: %v", err)
	}
	if err := d2.Confirm(ctx, "mig-1"); err != nil {
		t.Fatal(err)
	}
	if err := d2.Confirm(ctx, "mig-1"); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("second Confirm: %v", err)
	}

	// Extend a persistent commit with more changes, then cancel it all
	// from another driver: the first four stay.
	if err := d2.Stage(ctx, slices.Values(want[4:6])); err != nil {
		t.Fatal(err)
	}
	if err := d2.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute, Persist: "mig-2"}); err != nil {
		t.Fatal(err)
	}
	if err := d2.Stage(ctx, slices.Values(want[6:])); err != nil {
		t.Fatal(err)
	}
	if err := d2.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute, Persist: "mig-2", PersistID: "mig-2"}); err != nil {
		t.Fatal(err)
	}
	sameSessions(t, "extended persistent commit", want, readAll(t, d2))
	d3 := open(t, cfg)
	if err := d3.Cancel(ctx, "mig-2"); err != nil {
		t.Fatal(err)
	}
	sameSessions(t, "cancelled from another driver", want[:4], readAll(t, d3))
	if err := d3.Cancel(ctx, "mig-2"); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("second Cancel: %v", err)
	}
	_ = nd
}

// TestNetconfdTimeout: an unconfirmed commit is rolled back by the device
// at its confirm-timeout (netconfd services the timer about once a second,
// so the test polls at 1 s), and Confirm afterwards says so.
func TestNetconfdTimeout(t *testing.T) {
	_, cfg := startNAT(t)
	want := loadSessions(t, "sessions.xml")
	ctx := ctxT(t)
	d := open(t, cfg)
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Stage(ctx, slices.Values(want)); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	sameSessions(t, "before the timeout", want, readAll(t, d))
	deadline := time.Now().Add(15 * time.Second)
	for len(readAll(t, d)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("not rolled back 15 s after a 2 s confirm-timeout")
		}
		time.Sleep(time.Second)
	}
	if err := d.Confirm(ctx, ""); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("Confirm after the timeout: %v", err)
	}
	// The rollback freed the indexes the table still holds: staging again
	// works (and reuses them).
	if err := d.Stage(ctx, slices.Values(want[:2])); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	sameSessions(t, "staged again after the rollback", want[:2], readAll(t, d))
}

// TestNetconfdTable: indexes taken by native entries and rules move a
// session to its next probe; rules are skipped by Read but counted;
// mapping-limits give MaxSessions; Remove finds native entries by flow.
func TestNetconfdTable(t *testing.T) {
	nd, cfg := startNAT(t)
	ctx := ctxT(t)
	want := loadSessions(t, "sessions.xml")
	mine := want[0]
	native := want[1] // a flow the device created itself, at another index
	// The device's own entries: native at mine's first index, a rule at
	// IndexFor(want[2], 0), and the limits.
	rawEdit(t, nd, `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat">
<instances><instance><id>1</id><name>cgn-1</name>
<mapping-limits><limit-port-mappings>1000</limit-port-mappings></mapping-limits>
<mapping-table>`+string(withIndex(t, native, IndexFor(mine.GetId(), 0)))+`
<mapping-entry><index>`+u32(IndexFor(want[2].GetId(), 0))+`</index><type>static</type><transport-protocol>6</transport-protocol>
<internal-src-address>10.0.1.0/24</internal-src-address><external-src-address>203.0.113.0/24</external-src-address></mapping-entry>
</mapping-table></instance></instances></nat></config>`)

	d := open(t, cfg)
	c, err := d.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxSessions != 1000 || c.Active != 2 {
		t.Errorf("MaxSessions %d Active %d, want 1000 and 2", c.MaxSessions, c.Active)
	}
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Stage(ctx, slices.Values([]*flow.Session{mine, want[2]})); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	got := map[uint32]bool{}
	for _, e := range rawEntries(t, nd, netconf.Running) {
		got[e.Index] = true
	}
	for _, i := range []uint32{IndexFor(mine.GetId(), 1), IndexFor(want[2].GetId(), 1), IndexFor(mine.GetId(), 0), IndexFor(want[2].GetId(), 0)} {
		if !got[i] {
			t.Errorf("no entry at index %d: %v", i, got)
		}
	}
	sameSessions(t, "native and staged", []*flow.Session{mine, native, want[2]}, readAll(t, d))

	// Staging mine again replaces its entry where it is.
	if err := d.Stage(ctx, slices.Values([]*flow.Session{mine})); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(ctx, []string{native.GetId(), mine.GetId()}); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	sameSessions(t, "after removing the native flow and mine", []*flow.Session{want[2]}, readAll(t, d))
	if n := len(rawEntries(t, nd, netconf.Running)); n != 2 {
		t.Errorf("%d entries left, want 2 (the rule and want[2])", n)
	}
	if err := d.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func withIndex(t *testing.T, s *flow.Session, index uint32) []byte {
	t.Helper()
	e, err := Mapping{}.Entry(s)
	if err != nil {
		t.Fatal(err)
	}
	e.Index = index
	return appendEntry(nil, e, "", false)
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func ygotU16(v uint16) *uint16 { return &v }
func ygotU32(v uint32) *uint32 { return &v }
