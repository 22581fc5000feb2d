package datastore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
)

// confirmedSetup is a store whose running holds sid1 (with nested data)
// and sid2, and whose candidate deletes sid1, replaces sid2 and adds sid3.
func confirmedSetup(t *testing.T, opts ...Option) (*Store, *recorder, *fakeTimers) {
	t.Helper()
	rec := &recorder{}
	ft := &fakeTimers{}
	init := mkDevice(
		mkSession(sid1, withMark(7), withStatus(seenReply, assured), withTCP, func(s *session) {
			s.GetOrCreateVendorParameter("acme", "x").Value = str("1")
		}),
		mkSession(sid2, withMark(1), func(s *session) { s.Protocol = u8(17) }),
	)
	opts = append([]Option{WithInitialRunning(init), WithApply(rec.apply), WithAfterFunc(ft.afterFunc)}, opts...)
	s := newStore(t, opts...)
	mustOK(t, editCand(s, 1, cfg(
		entry(sid1, ` nc:operation="delete"`, ""),
		entry(sid2, ` nc:operation="replace"`, full+`<label>5</label>`),
		entry(sid3, "", full),
	)))
	return s, rec, ft
}

func TestCommit(t *testing.T) {
	ctx := context.Background()
	t.Run("plain commit", func(t *testing.T) {
		s, rec, _ := confirmedSetup(t)
		want := s.Get(Candidate, false)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{}))
		if d := diff(want, s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
		if rec.n() != 1 {
			t.Errorf("apply called %d times, want 1", rec.n())
		}
		mustOK(t, s.Lock(2, Candidate)) // committed: no uncommitted changes left
	})
	t.Run("failing apply leaves running unchanged", func(t *testing.T) {
		s, rec, _ := confirmedSetup(t)
		before := s.Get(Running, false)
		rec.fail = errTest
		wantTag(t, s.Commit(ctx, 1, CommitOptions{}), "operation-failed")
		if d := diff(before, s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
	})
	t.Run("invalid candidate is not committed", func(t *testing.T) {
		s, rec, _ := confirmedSetup(t)
		before := s.Get(Running, false)
		mustOK(t, editCand(s, 1, cfg(entry(sid1, "", `<protocol>6</protocol>`))))
		re := wantTag(t, s.Commit(ctx, 1, CommitOptions{}), "data-missing")
		if want := p1 + "/address-family"; re.Path != want {
			t.Errorf("error-path %q, want %q", re.Path, want)
		}
		if d := diff(before, s.Get(Running, false)); d != "" || rec.n() != 0 {
			t.Errorf("running changed (%d apply calls) (-want +got):\n%s", rec.n(), d)
		}
	})
}

func TestConfirmedCommit(t *testing.T) {
	ctx := context.Background()
	t.Run("timeout restores running exactly", func(t *testing.T) {
		s, rec, ft := confirmedSetup(t)
		before := s.Get(Running, false)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true, Timeout: 30 * time.Second}))
		if ft.last().d != 30*time.Second {
			t.Errorf("timer %v, want 30s", ft.last().d)
		}
		if d := diff(before, s.Get(Running, false)); d == "" {
			t.Fatal("confirmed commit did not change running")
		}
		ft.last().fire()
		if d := diff(before, s.Get(Running, false)); d != "" {
			t.Errorf("running after rollback (-want +got):\n%s", d)
		}
		if d := diff(before, s.Get(Candidate, false)); d != "" {
			t.Errorf("candidate after rollback (-want +got):\n%s", d)
		}
		if rec.n() != 2 {
			t.Fatalf("apply called %d times, want 2", rec.n())
		}
		if d := diff(before, rec.calls[1]); d != "" {
			t.Errorf("rollback applied (-want +got):\n%s", d)
		}
		wantTag(t, s.CancelCommit(ctx, 1, ""), "operation-failed") // nothing pending
	})
	t.Run("default timeout", func(t *testing.T) {
		s, _, ft := confirmedSetup(t)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
		if ft.last().d != DefaultConfirmTimeout {
			t.Errorf("timer %v, want %v", ft.last().d, DefaultConfirmTimeout)
		}
	})
	t.Run("confirming commit", func(t *testing.T) {
		s, _, ft := confirmedSetup(t)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
		after := s.Get(Running, false)
		wantTag(t, s.Commit(ctx, 2, CommitOptions{}), "in-use") // not the issuing session
		mustOK(t, s.Commit(ctx, 1, CommitOptions{}))
		ft.timers[0].fire() // stopped: no effect
		if d := diff(after, s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
		mustOK(t, s.Lock(2, Running)) // no confirmed commit pending any more
	})
	t.Run("running lock denied while another session's confirmed commit is pending", func(t *testing.T) {
		s, _, _ := confirmedSetup(t)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
		re := wantTag(t, s.Lock(2, Running), "lock-denied")
		if re.Info["session-id"] != "1" {
			t.Errorf("session-id %q, want 1", re.Info["session-id"])
		}
	})
	t.Run("extension keeps the first rollback point", func(t *testing.T) {
		s, _, ft := confirmedSetup(t)
		before := s.Get(Running, false)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
		mustOK(t, editCand(s, 1, cfg(entry(sid3, "", `<mark>3</mark>`))))
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true, Timeout: time.Minute}))
		ft.timers[0].fire() // the first timer was replaced
		if got := s.Get(Running, false).(*device).FlowState.Sessions.Session[sid3].GetMark(); got != 3 {
			t.Errorf("the extended confirmed commit was rolled back by the old timer")
		}
		ft.last().fire()
		if d := diff(before, s.Get(Running, false)); d != "" {
			t.Errorf("running after rollback (-want +got):\n%s", d)
		}
	})
	t.Run("cancel-commit", func(t *testing.T) {
		s, _, _ := confirmedSetup(t)
		before := s.Get(Running, false)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
		wantTag(t, s.CancelCommit(ctx, 2, ""), "in-use")
		mustOK(t, s.CancelCommit(ctx, 1, ""))
		if d := diff(before, s.Get(Running, false)); d != "" {
			t.Errorf("running after cancel (-want +got):\n%s", d)
		}
	})
	t.Run("failed rollback keeps the commit pending", func(t *testing.T) {
		s, rec, _ := confirmedSetup(t)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
		after := s.Get(Running, false)
		rec.fail = errTest
		wantTag(t, s.CancelCommit(ctx, 1, ""), "rollback-failed")
		if d := diff(after, s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
		rec.fail = nil
		mustOK(t, s.CancelCommit(ctx, 1, ""))
	})
	t.Run("persist survives the session and is confirmed by persist-id", func(t *testing.T) {
		s, _, _ := confirmedSetup(t)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true, Persist: "p-42"}))
		after := s.Get(Running, false)
		s.SessionClosed(ctx, 1)
		if d := diff(after, s.Get(Running, false)); d != "" {
			t.Errorf("persistent confirmed commit rolled back on session close (-want +got):\n%s", d)
		}
		wantTag(t, s.Commit(ctx, 2, CommitOptions{}), "missing-element")
		re := wantTag(t, s.Commit(ctx, 2, CommitOptions{PersistID: "p-41"}), "invalid-value")
		if re.Info["bad-element"] != "persist-id" {
			t.Errorf("error-info %v, want bad-element persist-id", re.Info)
		}
		mustOK(t, s.Commit(ctx, 2, CommitOptions{PersistID: "p-42"}))
		if d := diff(after, s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
		wantTag(t, s.Commit(ctx, 2, CommitOptions{PersistID: "p-42"}), "invalid-value") // nothing pending
	})
	t.Run("persist cancelled from another session", func(t *testing.T) {
		s, _, _ := confirmedSetup(t)
		before := s.Get(Running, false)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true, Persist: "p"}))
		wantTag(t, s.CancelCommit(ctx, 2, ""), "missing-element")
		mustOK(t, s.CancelCommit(ctx, 2, "p"))
		if d := diff(before, s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
	})
	t.Run("session close rolls back a non-persist confirmed commit", func(t *testing.T) {
		s, _, _ := confirmedSetup(t)
		before := s.Get(Running, false)
		mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
		s.SessionClosed(ctx, 2) // another session: no effect
		if d := diff(before, s.Get(Running, false)); d == "" {
			t.Fatal("rolled back by the close of another session")
		}
		s.SessionClosed(ctx, 1)
		if d := diff(before, s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
	})
	t.Run("bad parameters", func(t *testing.T) {
		s, _, _ := confirmedSetup(t)
		wantTag(t, s.Commit(ctx, 1, CommitOptions{Persist: "p"}), "invalid-value")
		wantTag(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true, Timeout: -time.Second}), "invalid-value")
	})
}

// TestConcurrent runs sessions editing, committing and reading at once
// (for the race detector).
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	var s *Store
	s = newStore(t, WithApply(func(ctx context.Context, from, to ygot.GoStruct) error {
		_ = s.Get(Candidate, false) // the hook may read the store
		return rec.apply(ctx, from, to)
	}))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := Session(i + 1)
			for range 10 {
				_ = editCand(s, sess, cfg(entry(sid1, "", full+`<mark>1</mark>`)))
				_ = s.Commit(ctx, sess, CommitOptions{})
				_ = s.Get(Running, true)
				_ = s.Validate(Candidate)
			}
		}()
	}
	wg.Wait()
	mustOK(t, s.Validate(Running))
}
