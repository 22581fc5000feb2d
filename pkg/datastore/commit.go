package datastore

import (
	"context"
	"errors"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/netconf"
)

// DefaultConfirmTimeout is the confirm-timeout when none is given (RFC
// 6241 8.4.5.1).
const DefaultConfirmTimeout = 600 * time.Second

// CommitOptions are the parameters of <commit>.
type CommitOptions struct {
	// Confirmed makes this a confirmed commit: running reverts unless a
	// confirming commit arrives within Timeout (default 600s).
	Confirmed bool
	Timeout   time.Duration
	// Persist (with Confirmed) makes the confirmed commit survive its
	// session; any session may then confirm or cancel it with PersistID.
	Persist string
	// PersistID confirms (or, with Confirmed, extends) a confirmed commit
	// that was given Persist.
	PersistID string
}

// pending is a confirmed commit waiting for its confirming commit.
type pending struct {
	id       uint64
	owner    Session
	persist  string
	rollback ygot.GoStruct // running before the first confirmed commit
	timer    Timer
}

// authorize checks that sess may confirm, extend or cancel p.
func authorize(p *pending, sess Session, persistID string) *netconf.RPCError {
	switch {
	case persistID != "":
		if p.persist == "" || persistID != p.persist {
			return withInfo(invalidValue(typeProtocol, "persist-id %q does not match the pending confirmed commit", persistID), "bad-element", "persist-id")
		}
	case p.persist != "":
		return withInfo(rpcError(typeProtocol, "missing-element", "", "a confirmed commit with persist is pending: give its persist-id"), "bad-element", "persist-id")
	case p.owner != sess:
		return rpcError(typeProtocol, "in-use", "", "the confirmed commit of session %d is pending; only that session can confirm or cancel it", p.owner)
	}
	return nil
}

// Commit commits the candidate to running (RFC 6241 8.3.4.1 and 8.4):
// a plain commit, a confirmed commit, a confirming commit or an extension
// of a pending confirmed commit. The candidate is validated first; the
// apply hook then moves the backend, and running changes only if it
// succeeds.
func (s *Store) Commit(ctx context.Context, sess Session, o CommitOptions) error {
	if o.Timeout < 0 {
		return withInfo(invalidValue(typeProtocol, "confirm-timeout must be positive"), "bad-element", "confirm-timeout")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultConfirmTimeout
	}
	if !o.Confirmed && o.Persist != "" {
		return withInfo(invalidValue(typeProtocol, "persist is only valid with confirmed"), "bad-element", "persist")
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()

	s.mu.Lock()
	for _, ds := range []Datastore{Running, Candidate} {
		if holder, ok := s.locks[ds]; ok && holder != sess {
			s.mu.Unlock()
			return inUse(ds, holder)
		}
	}
	p := s.pending
	if p != nil {
		if err := authorize(p, sess, o.PersistID); err != nil {
			s.mu.Unlock()
			return err
		}
	} else if o.PersistID != "" {
		s.mu.Unlock()
		return withInfo(invalidValue(typeProtocol, "persist-id %q: no confirmed commit is pending", o.PersistID), "bad-element", "persist-id")
	}
	from, to := s.running, s.candidate
	s.mu.Unlock()

	if err := s.validate(to); err != nil {
		return err
	}
	if err := s.applyChange(ctx, from, to, "the commit"); err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = to
	if s.candidate == to {
		clear(s.editors)
	}
	switch {
	case o.Confirmed:
		rb := from
		if p != nil {
			p.timer.Stop()
			rb = p.rollback // an extension keeps the original rollback point
		}
		s.nextID++
		id := s.nextID
		s.pending = &pending{id: id, owner: sess, persist: o.Persist, rollback: rb}
		s.pending.timer = s.afterFunc(o.Timeout, func() { s.expire(id) })
		s.log.Info("confirmed commit", "session", sess, "timeout", o.Timeout, "persist", o.Persist != "", "extended", p != nil)
	case p != nil:
		p.timer.Stop()
		s.pending = nil
		s.log.Info("confirming commit", "session", sess)
	default:
		s.log.Info("commit", "session", sess)
	}
	s.tidyLocked()
	return nil
}

// CancelCommit cancels the pending confirmed commit and restores running
// to what it was before it (RFC 6241 8.4.4.1). persistID is required if
// the confirmed commit was given persist; otherwise only its session may
// cancel it.
func (s *Store) CancelCommit(ctx context.Context, sess Session, persistID string) error {
	return s.rollback(ctx, "cancel-commit", func(p *pending) error {
		if err := authorize(p, sess, persistID); err != nil {
			return err
		}
		return nil
	})
}

// expire is the confirm timeout of the confirmed commit id.
func (s *Store) expire(id uint64) {
	err := s.rollback(context.Background(), "confirm timeout", func(p *pending) error {
		if p.id != id {
			return operationFailed("superseded")
		}
		return nil
	})
	if err != nil {
		s.log.Debug("datastore: confirm timeout", "id", id, "err", err)
	}
}

// rollback restores the running of before the pending confirmed commit,
// if check accepts it. The candidate follows running unless it has
// uncommitted changes.
func (s *Store) rollback(ctx context.Context, reason string, check func(*pending) error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	s.mu.Lock()
	p := s.pending
	if p == nil {
		s.mu.Unlock()
		return operationFailed("no confirmed commit is pending")
	}
	if err := check(p); err != nil {
		s.mu.Unlock()
		return err
	}
	from, to := s.running, p.rollback
	s.mu.Unlock()
	if s.apply != nil && !s.equalTrees(from, to) {
		if err := s.apply(ctx, from, to); err != nil {
			s.log.Error("datastore: confirmed-commit rollback failed, running keeps the confirmed configuration", "reason", reason, "err", err)
			return rpcError(typeApplication, "rollback-failed", "", "restoring the configuration of before the confirmed commit failed: %v", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p.timer.Stop()
	s.pending = nil
	s.running = to
	if len(s.editors) == 0 {
		s.candidate = to
	}
	s.tidyLocked()
	s.log.Info("confirmed commit rolled back", "reason", reason, "session", p.owner)
	return nil
}

// ReplaceRunning makes root (a complete configuration) the new running, as a
// management protocol without a candidate does (gNMI Set): root is
// validated, written to the device through the apply hook and, when that
// succeeds, swapped in; a candidate without uncommitted changes follows.
// It is refused with in-use while another session holds a lock on running
// or the candidate, or while a confirmed commit is pending.
func (s *Store) ReplaceRunning(ctx context.Context, sess Session, root ygot.GoStruct) error {
	if err := s.validate(root); err != nil {
		return err
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	s.mu.Lock()
	for _, ds := range []Datastore{Running, Candidate} {
		if holder, ok := s.locks[ds]; ok && holder != sess {
			s.mu.Unlock()
			return inUse(ds, holder)
		}
	}
	if s.pending != nil {
		s.mu.Unlock()
		return rpcError(typeProtocol, "in-use", "", "a confirmed commit is pending; confirm or cancel it first")
	}
	from := s.running
	s.mu.Unlock()
	if err := s.applyChange(ctx, from, root, "the new configuration"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.editors) == 0 {
		s.candidate = root
	}
	s.running = root
	s.tidyLocked()
	return nil
}

// applyChange runs the apply hook for a change of running from -> to. A
// hook that knows the right rpc-error (resource-denied when the device is
// full) gets it through unchanged; any other failure is operation-failed.
func (s *Store) applyChange(ctx context.Context, from, to ygot.GoStruct, what string) error {
	if s.apply == nil || s.equalTrees(from, to) {
		return nil
	}
	if err := s.apply(ctx, from, to); err != nil {
		var re *netconf.RPCError
		if errors.As(err, &re) {
			return re
		}
		return operationFailed("applying %s failed, running is unchanged: %v", what, err)
	}
	return nil
}
