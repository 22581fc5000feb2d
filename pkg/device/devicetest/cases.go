package devicetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
)

func (s *suite) capabilities(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	if d.Name() != dev.Config().Name {
		t.Errorf("Name() = %q, want the inventory name %q", d.Name(), dev.Config().Name)
	}
	c, err := d.Capabilities(ctxFor(t))
	must(t, "capabilities", err)
	if !c.Writable || !c.ConfirmedCommit {
		t.Errorf("capabilities: writable %v, confirmed commit %v; the suite is for writable drivers with confirmed commit", c.Writable, c.ConfirmedCommit)
	}
	if c.Active != 0 {
		t.Errorf("capabilities of an empty device: %d active sessions", c.Active)
	}
	dev.Seed(t, s.sessions(0, 3)...)
	c, err = d.Capabilities(ctxFor(t))
	must(t, "capabilities", err)
	if c.Active != 3 {
		t.Errorf("capabilities after seeding 3 sessions: %d active", c.Active)
	}
	if free, known := c.Free(); known && free+c.Active != c.MaxSessions {
		t.Errorf("capabilities: %d free + %d active != %d max", free, c.Active, c.MaxSessions)
	}
	for _, f := range c.Features {
		if f == "" {
			t.Errorf("capabilities: empty feature name in %q", c.Features)
		}
	}
	if !c.HasProtocol(6) {
		t.Errorf("capabilities: no TCP in %v; the test sessions are TCP", c.Protocols)
	}
}

func (s *suite) readAll(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	if got := readAll(t, d, nil); len(got) != 0 {
		t.Fatalf("read of an empty device: %d sessions", len(got))
	}
	dev.Seed(t, s.sessions(0, 20)...)
	same(t, "read", readAll(t, d, nil), dev.Sessions(t))
}

func (s *suite) readByEndpoint(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	all := s.sessions(0, 20)
	dev.Seed(t, all...)
	m := flow.NewMatcher(endpointOf(t, all[3]), endpointOf(t, all[17]))
	want := slices.Collect(m.Filter(slices.Values(dev.Sessions(t))))
	if len(want) == 0 {
		t.Fatal("test sessions: the endpoints match nothing")
	}
	got := readAll(t, d, m)
	same(t, "read by endpoint", got, want)
	if got := readAll(t, d, flow.NewMatcher(flow.Endpoint{})); len(got) != 0 {
		t.Errorf("read with a matcher that matches nothing: %v", ids(got))
	}
}

func (s *suite) readStopped(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	dev.Seed(t, s.sessions(0, 50)...)
	stop := errors.New("enough")
	n := 0
	err := d.Read(ctxFor(t), nil, func(*flow.Session) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("read stopped by fn: %v, want fn's error as is", err)
	}
	if n != 5 {
		t.Errorf("fn called %d times after it failed at 5", n)
	}
	if got := readAll(t, d, nil); len(got) != 50 {
		t.Errorf("read after a stopped read: %d sessions, want 50", len(got))
	}
}

func (s *suite) stageCommit(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	ctx := ctxFor(t)
	dev.Seed(t, s.sessions(0, 2)...)
	must(t, "lock", d.Lock(ctx))
	// Session 0 is replaced as a whole, 2..4 are new, 1 is left alone.
	staged := append([]*flow.Session{s.modified(0)}, s.sessions(2, 5)...)
	must(t, "stage", d.Stage(ctx, slices.Values(staged)))
	same(t, "before commit", dev.Sessions(t), s.sessions(0, 2))
	must(t, "commit", d.Commit(ctx, device.CommitOptions{}))
	must(t, "unlock", d.Unlock(ctx))
	same(t, "after commit", dev.Sessions(t), append(staged, s.h.Session(1)))
	same(t, "read back", readAll(t, d, nil), append(staged, s.h.Session(1)))
	// Nothing staged: a commit changes nothing.
	must(t, "empty commit", d.Commit(ctx, device.CommitOptions{}))
	same(t, "after an empty commit", dev.Sessions(t), append(staged, s.h.Session(1)))
}

func (s *suite) stageBad(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	ctx := ctxFor(t)
	must(t, "lock", d.Lock(ctx))
	bad := s.h.Session(9)
	bad.Id = s.h.Session(8).Id // the id of another flow
	err := d.Stage(ctx, slices.Values([]*flow.Session{s.h.Session(1), bad, s.h.Session(2)}))
	if err == nil {
		t.Fatal("stage of a session whose id names another flow: no error")
	}
	var de *device.Error
	if !errors.As(err, &de) {
		t.Errorf("stage error %v is not a *device.Error", err)
	}
	// The driver is still usable, and nothing of the bad stage remains.
	must(t, "stage", d.Stage(ctx, slices.Values(s.sessions(3, 4))))
	must(t, "commit", d.Commit(ctx, device.CommitOptions{}))
	must(t, "unlock", d.Unlock(ctx))
	same(t, "after commit", dev.Sessions(t), s.sessions(3, 4))
}

// transaction stages {0'} + {2}, removes 1, from a device holding {0, 1}.
func (s *suite) transaction(t *testing.T, d device.Driver, o device.CommitOptions) (before, after []*flow.Session) {
	t.Helper()
	ctx := ctxFor(t)
	must(t, "lock", d.Lock(ctx))
	must(t, "stage", d.Stage(ctx, slices.Values([]*flow.Session{s.modified(0), s.h.Session(2)})))
	must(t, "remove", d.Remove(ctx, []string{s.h.Session(1).GetId()}))
	must(t, "commit", d.Commit(ctx, o))
	return s.sessions(0, 2), []*flow.Session{s.modified(0), s.h.Session(2)}
}

func (s *suite) confirmedCancel(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	dev.Seed(t, s.sessions(0, 2)...)
	before, after := s.transaction(t, d, device.CommitOptions{Confirmed: true, Timeout: time.Minute})
	same(t, "after the confirmed commit", dev.Sessions(t), after)
	must(t, "cancel", d.Cancel(ctxFor(t), ""))
	same(t, "after cancel", dev.Sessions(t), before)
	if err := d.Cancel(ctxFor(t), ""); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("second cancel: %v, want ErrNoPendingCommit", err)
	}
	must(t, "unlock", d.Unlock(ctxFor(t)))
}

func (s *suite) confirmedConfirm(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	ctx := ctxFor(t)
	if err := d.Confirm(ctx, ""); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("confirm with nothing pending: %v, want ErrNoPendingCommit", err)
	}
	dev.Seed(t, s.sessions(0, 2)...)
	_, after := s.transaction(t, d, device.CommitOptions{Confirmed: true, Timeout: time.Minute})
	must(t, "confirm", d.Confirm(ctx, ""))
	must(t, "unlock", d.Unlock(ctx))
	same(t, "after confirm", dev.Sessions(t), after)
	if err := d.Confirm(ctx, ""); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("second confirm: %v, want ErrNoPendingCommit", err)
	}
	if err := d.Cancel(ctx, ""); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("cancel after confirm: %v, want ErrNoPendingCommit", err)
	}
	// Closing the driver does not undo a confirmed commit.
	must(t, "close", d.Close())
	same(t, "after close", dev.Sessions(t), after)
}

func (s *suite) persist(t *testing.T, confirm bool) {
	dev := s.h.NewDevice(t)
	dev.Seed(t, s.sessions(0, 2)...)
	d1, err := s.h.Open(ctxFor(t), dev.Config())
	must(t, "open", err)
	id := fmt.Sprintf("devicetest-%d", time.Now().UnixNano())
	before, after := s.transaction(t, d1, device.CommitOptions{Confirmed: true, Timeout: time.Minute, Persist: id})
	must(t, "close the committing driver", d1.Close())
	time.Sleep(200 * time.Millisecond) // a rollback on close would have happened by now
	same(t, "after the committing driver closed", dev.Sessions(t), after)
	d2 := s.open(t, dev)
	if err := d2.Confirm(ctxFor(t), id+"-wrong"); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("confirm with a wrong persist id: %v, want ErrNoPendingCommit", err)
	}
	if confirm {
		must(t, "confirm with the persist id", d2.Confirm(ctxFor(t), id))
		same(t, "after confirm", dev.Sessions(t), after)
	} else {
		must(t, "cancel with the persist id", d2.Cancel(ctxFor(t), id))
		same(t, "after cancel", dev.Sessions(t), before)
	}
	if err := d2.Confirm(ctxFor(t), id); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("confirm after it was settled: %v, want ErrNoPendingCommit", err)
	}
	if err := d2.Cancel(ctxFor(t), id); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("cancel after it was settled: %v, want ErrNoPendingCommit", err)
	}
}

func (s *suite) confirmTimeout(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	dev.Seed(t, s.sessions(0, 2)...)
	before, after := s.transaction(t, d, device.CommitOptions{Confirmed: true, Timeout: s.h.ConfirmTimeout})
	same(t, "after the confirmed commit", dev.Sessions(t), after)
	eventually(t, "rollback at the confirm-timeout", func() bool { return flow.Diff(before, dev.Sessions(t)).Empty() })
	same(t, "after the timeout", dev.Sessions(t), before)
	if err := d.Confirm(ctxFor(t), ""); !errors.Is(err, device.ErrNoPendingCommit) {
		t.Errorf("confirm after the timeout: %v, want ErrNoPendingCommit", err)
	}
	same(t, "after a late confirm", dev.Sessions(t), before)
}

func (s *suite) removeAbsent(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	ctx := ctxFor(t)
	dev.Seed(t, s.sessions(0, 2)...)
	must(t, "lock", d.Lock(ctx))
	must(t, "remove absent ids", d.Remove(ctx, []string{s.h.Session(5).GetId(), s.h.Session(6).GetId()}))
	must(t, "remove nothing", d.Remove(ctx, nil))
	must(t, "remove present and absent", d.Remove(ctx, []string{s.h.Session(0).GetId(), s.h.Session(7).GetId()}))
	must(t, "commit", d.Commit(ctx, device.CommitOptions{}))
	same(t, "after commit", dev.Sessions(t), s.sessions(1, 2))
	// Replayed: the same removal again is harmless.
	must(t, "replayed remove", d.Remove(ctx, []string{s.h.Session(0).GetId()}))
	must(t, "commit", d.Commit(ctx, device.CommitOptions{}))
	must(t, "unlock", d.Unlock(ctx))
	same(t, "after the replay", dev.Sessions(t), s.sessions(1, 2))
	if err := d.Remove(ctx, []string{"not a session id"}); err == nil {
		t.Error("remove of a malformed id: no error")
	}
}

func (s *suite) locked(t *testing.T) {
	dev := s.h.NewDevice(t)
	d1, d2 := s.open(t, dev), s.open(t, dev)
	ctx := ctxFor(t)
	must(t, "lock", d1.Lock(ctx))
	if err := d2.Lock(ctx); !errors.Is(err, device.ErrLocked) {
		t.Errorf("lock held by another driver: %v, want ErrLocked", err)
	}
	if err := d2.Stage(ctx, slices.Values(s.sessions(0, 1))); !errors.Is(err, device.ErrLocked) {
		t.Errorf("stage while another driver holds the lock: %v, want ErrLocked", err)
	}
	must(t, "unlock", d1.Unlock(ctx))
	must(t, "lock after the other unlocked", d2.Lock(ctx))
	must(t, "unlock", d2.Unlock(ctx))
	// Closing a driver releases its lock.
	must(t, "lock", d1.Lock(ctx))
	must(t, "close", d1.Close())
	eventually(t, "lock released by close", func() bool {
		err := d2.Lock(ctx)
		return err == nil
	})
	must(t, "unlock", d2.Unlock(ctx))
}

func (s *suite) watch(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	c, err := d.Capabilities(ctxFor(t))
	must(t, "capabilities", err)
	if !c.Watch {
		if err := d.Watch(ctxFor(t), nil, func(device.Delta) error { return nil }); !errors.Is(err, device.ErrUnsupported) {
			t.Errorf("watch on a driver without watch: %v, want ErrUnsupported", err)
		}
		t.Skip("the driver does not watch")
	}
	watched, other := s.h.Session(1), s.h.Session(2)
	ctx, cancel := context.WithCancel(ctxFor(t))
	var mu sync.Mutex
	var got []device.Delta
	done := make(chan error, 1)
	go func() {
		done <- d.Watch(ctx, flow.NewMatcher(endpointOf(t, watched)), func(dl device.Delta) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, dl)
			return nil
		})
	}()
	seen := func(from int, typ device.DeltaType, id string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, dl := range got[min(from, len(got)):] {
			if dl.Type == typ && dl.ID == id {
				return true
			}
		}
		return false
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	// The stream says when it is in place: a session created after that
	// must be reported.
	eventually(t, "the stream live", func() bool { return seen(0, device.Live, "") })
	mu.Lock()
	if got[0].Type != device.Live {
		t.Errorf("the first delta is %v, want live", got[0].Type)
	}
	mu.Unlock()
	last := s.h.Session(1)
	dev.Seed(t, other, last)
	eventually(t, "a session created after live seen", func() bool { return seen(0, device.Upserted, watched.GetId()) })
	n := count()
	dev.Destroy(t, other.GetId(), watched.GetId())
	eventually(t, "a destroyed session seen", func() bool { return seen(n, device.Removed, watched.GetId()) })
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("watch ended with %v after its context was cancelled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var upserted *flow.Session
	for i, dl := range got[:n] {
		if dl.Type == device.Live && i > 0 {
			t.Errorf("delta %d is live again: Watch says it once", i)
		}
		if dl.ID == other.GetId() {
			t.Errorf("watch with a matcher delivered %v of a session it does not match", dl.Type)
		}
		if dl.Type == device.Upserted && dl.ID == watched.GetId() {
			upserted = dl.Session
		}
	}
	if upserted == nil {
		t.Fatal("upserted delta without session")
	}
	if r := flow.Diff([]*flow.Session{last}, []*flow.Session{upserted}); !r.Empty() {
		t.Errorf("the last upserted delta differs from the session created: %+v", r)
	}
}

func (s *suite) refused(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	ctx := ctxFor(t)
	dev.Seed(t, s.sessions(0, 2)...)
	before := dev.Sessions(t)
	must(t, "lock", d.Lock(ctx))
	must(t, "stage", d.Stage(ctx, slices.Values(append([]*flow.Session{s.modified(0)}, s.sessions(2, 6)...))))
	must(t, "remove", d.Remove(ctx, []string{s.h.Session(1).GetId()}))
	if !dev.RefuseNextWrite(t) {
		t.Skip("the device cannot refuse a write on demand")
	}
	err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute})
	if !errors.Is(err, device.ErrRefused) {
		t.Fatalf("commit the device refused: %v, want ErrRefused", err)
	}
	same(t, "after the refused commit", dev.Sessions(t), before)
	must(t, "discard", d.Discard(ctx))
	must(t, "commit after discard", d.Commit(ctx, device.CommitOptions{}))
	must(t, "unlock", d.Unlock(ctx))
	same(t, "after discard and commit", dev.Sessions(t), before)
}

func (s *suite) unreachable(t *testing.T) {
	dev := s.h.NewDevice(t)
	d := s.open(t, dev)
	ctx := ctxFor(t)
	must(t, "lock", d.Lock(ctx))
	dev.Stop(t)
	if _, err := d.Capabilities(ctx); !errors.Is(err, device.ErrUnreachable) {
		t.Errorf("capabilities of a stopped device: %v, want ErrUnreachable", err)
	}
	if err := d.Stage(ctx, slices.Values(s.sessions(0, 1))); !errors.Is(err, device.ErrUnreachable) {
		t.Errorf("stage to a stopped device: %v, want ErrUnreachable", err)
	}
	if err := d.Read(ctx, nil, func(*flow.Session) error { return nil }); !errors.Is(err, device.ErrUnreachable) {
		t.Errorf("read of a stopped device: %v, want ErrUnreachable", err)
	}
	var de *device.Error
	if _, err := s.h.Open(ctx, dev.Config()); !errors.Is(err, device.ErrUnreachable) || !errors.As(err, &de) {
		t.Errorf("open a stopped device: %v, want a *device.Error with ErrUnreachable", err)
	} else if de.Device != dev.Config().Name {
		t.Errorf("error names device %q, want %q", de.Device, dev.Config().Name)
	}
}

func (s *suite) wrongHostKey(t *testing.T) {
	dev := s.h.NewDevice(t)
	cfg := dev.Config()
	if cfg.Credentials.InsecureIgnoreHostKey {
		t.Fatal("the harness's devices skip host key verification")
	}
	cfg.Credentials.KnownHosts = []string{wrongKnownHosts(t, cfg.Address)}
	d, err := s.h.Open(ctxFor(t), cfg)
	if err == nil {
		d.Close()
		t.Fatal("open with a wrong host key succeeded")
	}
	if !errors.Is(err, device.ErrAuth) {
		t.Errorf("open with a wrong host key: %v, want ErrAuth", err)
	}
}
