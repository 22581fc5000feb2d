package datastore

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
)

var errTest = errors.New("backend refused")

func TestLocks(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, WithInitialRunning(mkDevice(mkSession(sid1))))
	mustOK(t, s.Lock(1, Candidate))

	re := wantTag(t, s.Lock(2, Candidate), "lock-denied")
	if re.Info["session-id"] != "1" || re.Type != "protocol" {
		t.Errorf("lock-denied %v: want type protocol, session-id 1", re)
	}
	wantTag(t, s.Lock(1, Candidate), "lock-denied") // already held, by itself too
	wantTag(t, editCand(s, 2, cfg(entry(sid2, "", full))), "in-use")
	wantTag(t, s.DiscardChanges(2), "in-use")
	wantTag(t, s.Commit(ctx, 2, CommitOptions{}), "in-use")
	wantTag(t, s.Unlock(2, Candidate), "operation-failed")
	wantTag(t, s.Lock(1, "startup"), "invalid-value")

	// The holder edits; unlocking discards its uncommitted changes.
	mustOK(t, editCand(s, 1, cfg(entry(sid2, "", full))))
	mustOK(t, s.Unlock(1, Candidate))
	if d := diff(s.Get(Running, false), s.Get(Candidate, false)); d != "" {
		t.Errorf("candidate after unlock (-running +candidate):\n%s", d)
	}

	// Uncommitted changes of another session deny the candidate lock.
	mustOK(t, editCand(s, 2, cfg(entry(sid2, "", full))))
	re = wantTag(t, s.Lock(1, Candidate), "lock-denied")
	if re.Info["session-id"] != "2" {
		t.Errorf("lock-denied %v: want session-id 2", re)
	}
	mustOK(t, s.Lock(2, Candidate)) // its own changes do not
	mustOK(t, s.Unlock(2, Candidate))

	// discard-changes resets the candidate.
	mustOK(t, editCand(s, 2, cfg(entry(sid2, "", full))))
	mustOK(t, s.DiscardChanges(2))
	if d := diff(mkDevice(mkSession(sid1)), s.Get(Candidate, false)); d != "" {
		t.Errorf("candidate after discard-changes (-want +got):\n%s", d)
	}
	mustOK(t, s.Lock(1, Candidate))

	// Running locks are separate; closing a session releases its locks.
	mustOK(t, s.Lock(2, Running))
	wantTag(t, s.Lock(1, Running), "lock-denied")
	s.SessionClosed(ctx, 2)
	mustOK(t, s.Lock(1, Running))
	mustOK(t, editCand(s, 1, cfg(entry(sid2, "", full))))
	s.SessionClosed(ctx, 1)
	mustOK(t, s.Lock(3, Candidate))
	if d := diff(mkDevice(mkSession(sid1)), s.Get(Candidate, false)); d != "" {
		t.Errorf("candidate after its locker closed (-want +got):\n%s", d)
	}
}

func TestCopyDeleteValidate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, WithInitialRunning(mkDevice(mkSession(sid1))))
	wantTag(t, s.DeleteConfig(ctx, 1, Running), "invalid-value")
	mustOK(t, s.DeleteConfig(ctx, 1, Candidate))
	if d := diff(mkDevice(), s.Get(Candidate, false)); d != "" {
		t.Errorf("deleted candidate (-want +got):\n%s", d)
	}
	mustOK(t, s.CopyConfig(ctx, 1, Candidate, Source{Datastore: Running}))
	if d := diff(mkDevice(mkSession(sid1)), s.Get(Candidate, false)); d != "" {
		t.Errorf("copied candidate (-want +got):\n%s", d)
	}
	mustOK(t, s.CopyConfig(ctx, 1, Candidate, Source{Config: strings.NewReader(cfg(entry(sid2, "", `<protocol>6</protocol>`)))}))
	errs := s.Validate(Candidate)
	re := wantTag(t, errs, "data-missing")
	if want := "/sami-flow-state:flow-state/sessions/session[id='" + sid2 + "']/address-family"; re.Path != want {
		t.Errorf("error-path %q, want %q", re.Path, want)
	}
	mustOK(t, s.Validate(Running))
	wantTag(t, s.CopyConfig(ctx, 1, Running, Source{Datastore: Candidate}), "operation-not-supported")
	wantTag(t, s.CopyConfig(ctx, 1, Candidate, Source{Datastore: Candidate}), "invalid-value")

	rec := &recorder{}
	w := newStore(t, WithWritableRunning(), WithApply(rec.apply))
	wantTag(t, w.CopyConfig(ctx, 1, Running, Source{Config: strings.NewReader(cfg(entry(sid2, "", `<protocol>6</protocol>`)))}), "data-missing")
	mustOK(t, w.CopyConfig(ctx, 1, Running, Source{Config: strings.NewReader(cfg(entry(sid2, "", full)))}))
	if d := diff(mkDevice(mkSession(sid2)), w.Get(Running, true)); d != "" {
		t.Errorf("copied running (-want +got):\n%s", d)
	}
	if rec.n() != 1 {
		t.Errorf("apply called %d times, want 1", rec.n())
	}
}

// TestSyncRunning: refreshing running from the device keeps a clean
// candidate in step, leaves uncommitted edits alone, and is refused while a
// confirmed commit is pending, so that the rollback restores exactly what
// the commit changed (a flow the device created meanwhile survives it).
func TestSyncRunning(t *testing.T) {
	ctx := context.Background()
	var applied []string
	timers := &fakeTimers{}
	s := newStore(t, WithAfterFunc(timers.afterFunc), WithApply(func(_ context.Context, from, to ygot.GoStruct) error {
		var ids []string
		for id := range to.(*device).GetFlowState().GetSessions().Session {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		applied = append(applied, strings.Join(ids, ","))
		return nil
	}))
	if !s.SyncRunning(mkDevice(mkSession(sid1))) {
		t.Fatal("sync refused with nothing pending")
	}
	if d := diff(mkDevice(mkSession(sid1)), s.Get(Candidate, true)); d != "" {
		t.Errorf("clean candidate did not follow running: %s", d)
	}
	// Uncommitted edits are kept.
	mustOK(t, editCand(s, 1, cfg(entry(sid2, "", full))))
	s.SyncRunning(mkDevice(mkSession(sid1), mkSession(sid3)))
	cand := s.Get(Candidate, true).(*device).GetFlowState().GetSessions().Session
	if _, ok := cand[sid2]; !ok {
		t.Fatal("sync dropped an uncommitted edit")
	}
	// Confirmed commit pending: no sync; rollback restores only its change.
	mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true, Timeout: time.Minute}))
	if s.SyncRunning(mkDevice(mkSession(sid1), mkSession(sid2), mkSession(sid3))) {
		t.Fatal("sync accepted while a confirmed commit is pending")
	}
	timers.last().fire()
	if got := s.Get(Running, true).(*device).GetFlowState().GetSessions().Session; len(got) != 2 || got[sid2] != nil {
		t.Fatalf("after rollback running has %v", keys(got))
	}
	if s.SyncRunning(mkDevice(mkSession(sid1))) != true {
		t.Fatal("sync refused after the rollback")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestReplaceRunning(t *testing.T) {
	ctx := context.Background()
	var calls int
	s := newStore(t, WithInitialRunning(mkDevice(mkSession(sid1))), WithApply(func(context.Context, ygot.GoStruct, ygot.GoStruct) error {
		calls++
		return nil
	}))
	mustOK(t, s.ReplaceRunning(ctx, 9, mkDevice(mkSession(sid1), mkSession(sid2))))
	if d := diff(mkDevice(mkSession(sid1), mkSession(sid2)), s.Get(Running, true)); d != "" || calls != 1 {
		t.Fatalf("running after replace (apply calls %d): %s", calls, d)
	}
	if d := diff(mkDevice(mkSession(sid1), mkSession(sid2)), s.Get(Candidate, true)); d != "" {
		t.Errorf("clean candidate did not follow: %s", d)
	}
	// Invalid trees are refused before the device sees them.
	bad := mkSession(sid3)
	bad.Original = nil
	wantTag(t, s.ReplaceRunning(ctx, 9, mkDevice(bad)), "data-missing")
	// Locks of other sessions and pending confirmed commits are respected.
	mustOK(t, s.Lock(1, Running))
	wantTag(t, s.ReplaceRunning(ctx, 9, mkDevice()), "in-use")
	mustOK(t, s.Unlock(1, Running))
	mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
	wantTag(t, s.ReplaceRunning(ctx, 9, mkDevice()), "in-use")
	if calls != 1 {
		t.Errorf("apply called %d times, want 1", calls)
	}
}
