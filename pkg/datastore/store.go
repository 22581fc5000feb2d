package datastore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// Session is the NETCONF session-id of the caller (RFC 6241 section 3.1:
// a non-zero 32-bit value; 0 is reported as the holder of a lock that is
// held by something other than a NETCONF session).
type Session uint64

// Datastore names a configuration datastore; the same type the client
// side of package netconf uses.
type Datastore = netconf.Datastore

// The datastores a Store serves.
const (
	Running   = netconf.Running
	Candidate = netconf.Candidate
)

// ApplyFunc applies the difference between two configurations of running
// to a device backend. from and to are immutable snapshots: the hook must
// not modify them (it may keep them).
type ApplyFunc func(ctx context.Context, from, to ygot.GoStruct) error

// Timer is a pending confirmed-commit timeout; *time.Timer implements it.
type Timer interface{ Stop() bool }

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithApply sets the hook called on every change of running: commit,
// confirmed-commit rollback, cancel-commit, and edit-config or copy-config
// of running when it is writable. If the hook fails, running is left
// unchanged and the operation fails with operation-failed (rollback-failed
// for a rollback). The hook runs without the Store's mutex held, so it may
// call Get; it must not change running itself (Commit, EditConfig of
// running, ...), which would deadlock.
func WithApply(fn ApplyFunc) Option { return func(s *Store) { s.apply = fn } }

// WithAfterFunc replaces time.AfterFunc for confirmed-commit timeouts, so
// tests can fire a timeout at will. fn may be called from any goroutine.
func WithAfterFunc(f func(d time.Duration, fn func()) Timer) Option {
	return func(s *Store) { s.afterFunc = f }
}

// WithWritableRunning allows edit-config and copy-config with running as
// the target (the :writable-running capability).
func WithWritableRunning() Option { return func(s *Store) { s.writableRunning = true } }

// WithMapClone gives the Store a fast shallow copy of list maps of the
// types clone knows (maps.Clone of the concrete type), reporting false for
// the others: an edit copies the map of every list it changes, and a copy
// through reflection rehashes every key (20 times slower for 100k
// entries).
func WithMapClone(clone func(m any) (any, bool)) Option { return func(s *Store) { s.mapClone = clone } }

// WithInitialRunning sets the initial content of running (and candidate),
// e.g. what the backend holds at start-up. The tree is copied.
func WithInitialRunning(root ygot.GoStruct) Option { return func(s *Store) { s.initial = root } }

// Store holds the running and candidate configuration datastores.
//
// Locking: mu guards every field below it and is only held for short,
// non-blocking sections (never while decoding, validating or calling the
// apply hook). The trees in running and candidate are immutable once
// stored: every change builds a new tree and swaps the pointer, so a
// snapshot taken under mu stays valid after it is released. change is a
// one-slot semaphore, acquired with the caller's context, that serializes
// the operations that change running (and so call the apply hook) and the
// confirmed-commit state; it is always taken before mu. Candidate edits do
// not take it: they work on a snapshot and swap it in only if the
// candidate did not change meanwhile (else they start over).
type Store struct {
	codec           *yangxml.Codec
	newRoot         func() ygot.GoStruct
	rootInfo        *structInfo
	log             *slog.Logger
	apply           ApplyFunc
	afterFunc       func(time.Duration, func()) Timer
	writableRunning bool
	initial         ygot.GoStruct
	mapClone        func(any) (any, bool)

	change chan struct{}

	mu        sync.Mutex
	running   ygot.GoStruct
	candidate ygot.GoStruct
	editors   map[Session]bool // sessions with uncommitted candidate changes
	locks     map[Datastore]Session
	pending   *pending // confirmed commit waiting for confirmation
	nextID    uint64
	validated ygot.GoStruct // the last tree that passed validation (see validate)
	lin       lineages      // how list maps were made from others (lineage.go)
}

// New returns a Store whose datastores are empty trees made by newRoot
// (e.g. func() ygot.GoStruct { return &flowstate.Device{} }), decoded and
// validated with codec.
func New(codec *yangxml.Codec, newRoot func() ygot.GoStruct, opts ...Option) (*Store, error) {
	if codec == nil || newRoot == nil {
		return nil, fmt.Errorf("datastore: New needs a codec and a root constructor")
	}
	s := &Store{
		codec:     codec,
		newRoot:   newRoot,
		log:       slog.New(slog.DiscardHandler),
		afterFunc: func(d time.Duration, fn func()) Timer { return time.AfterFunc(d, fn) },
		change:    make(chan struct{}, 1),
		editors:   map[Session]bool{},
		locks:     map[Datastore]Session{},
	}
	for _, o := range opts {
		o(s)
	}
	rt := reflect.TypeOf(newRoot())
	if rt == nil || rt.Kind() != reflect.Ptr || rt.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("datastore: newRoot must return a pointer to a generated struct, got %v", rt)
	}
	si, err := infoOf(rt.Elem())
	if err != nil {
		return nil, err
	}
	s.rootInfo = si
	s.running = newRoot()
	if s.initial != nil {
		if reflect.TypeOf(s.initial) != rt {
			return nil, fmt.Errorf("datastore: initial running is a %T, want %v", s.initial, rt)
		}
		c, err := ygot.DeepCopy(s.initial)
		if err != nil {
			return nil, fmt.Errorf("datastore: copy initial running: %w", err)
		}
		prune(si, reflect.ValueOf(c).Elem())
		s.running = c
		s.initial = nil
	}
	s.candidate = s.running
	return s, nil
}

func (s *Store) acquire(ctx context.Context) error {
	select {
	case s.change <- struct{}{}:
		return nil
	case <-ctx.Done():
		return operationFailed("waiting for another change of running: %v", ctx.Err())
	}
}

func (s *Store) release() { <-s.change }

func (s *Store) deepCopy(t ygot.GoStruct) ygot.GoStruct {
	c, err := ygot.DeepCopy(t)
	if err != nil {
		// DeepCopy fails only for values that are not generated structs.
		panic(fmt.Sprintf("datastore: deep copy: %v", err))
	}
	return c
}

// tree returns the current tree of ds (mu held).
func (s *Store) tree(ds Datastore) ygot.GoStruct {
	switch ds {
	case Running:
		return s.running
	case Candidate:
		return s.candidate
	}
	return nil
}

func checkDatastore(ds Datastore) error {
	if ds == Running || ds == Candidate {
		return nil
	}
	e := rpcError(typeProtocol, "invalid-value", "", "datastore %q is not supported (running and candidate are)", ds)
	return e
}

// Snapshot returns the current tree of ds without copying it: stored trees
// are replaced, never changed in place, so the snapshot stays consistent.
// The caller must not modify it (use Get for a private copy). This is what
// serving a <get> of 100k sessions needs: no copy, encoding straight out.
func (s *Store) Snapshot(ds Datastore) ygot.GoStruct {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tree(ds)
}

// Get returns a deep copy of the datastore ds, or nil for a datastore the
// Store does not have. configOnly leaves out config false nodes (a
// configuration datastore normally has none: edits cannot create them).
func (s *Store) Get(ds Datastore, configOnly bool) ygot.GoStruct {
	s.mu.Lock()
	t := s.tree(ds)
	s.mu.Unlock()
	if t == nil {
		return nil
	}
	c := s.deepCopy(t)
	if configOnly {
		raw, err := s.codec.Marshal(c, yangxml.ConfigOnly())
		if err == nil {
			cfg := s.newRoot()
			if err = s.codec.Unmarshal(raw, cfg); err == nil {
				return cfg
			}
		}
		s.log.Error("datastore: stripping config false nodes", "datastore", ds, "err", err)
	}
	return c
}

// Lock locks ds for sess (RFC 6241 7.5). It fails with lock-denied, the
// holder's session-id in error-info, when the lock is held (by sess too),
// when ds is candidate and another session has uncommitted changes in it,
// and when ds is running and another session has a confirmed commit
// pending.
func (s *Store) Lock(sess Session, ds Datastore) error {
	if err := checkDatastore(ds); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if holder, ok := s.locks[ds]; ok {
		return lockDenied(ds, holder, fmt.Sprintf("the lock is held by session %d", holder))
	}
	if ds == Candidate {
		for _, ed := range s.sortedEditors() {
			if ed != sess {
				return lockDenied(ds, ed, fmt.Sprintf("the candidate has uncommitted changes of session %d", ed))
			}
		}
	}
	if ds == Running && s.pending != nil && s.pending.owner != sess {
		return lockDenied(ds, s.pending.owner, fmt.Sprintf("session %d has a confirmed commit pending", s.pending.owner))
	}
	s.locks[ds] = sess
	s.log.Info("datastore locked", "datastore", ds, "session", sess)
	return nil
}

func (s *Store) sortedEditors() []Session {
	out := make([]Session, 0, len(s.editors))
	for e := range s.editors {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// Unlock releases the lock sess holds on ds; operation-failed if sess does
// not hold it. Unlocking the candidate discards its uncommitted changes.
func (s *Store) Unlock(sess Session, ds Datastore) error {
	if err := checkDatastore(ds); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	holder, ok := s.locks[ds]
	if !ok || holder != sess {
		e := operationFailed("the %s datastore is not locked by session %d", ds, sess)
		e.Type = typeProtocol
		return e
	}
	delete(s.locks, ds)
	if ds == Candidate {
		s.discardLocked()
	}
	s.log.Info("datastore unlocked", "datastore", ds, "session", sess)
	return nil
}

// SyncRunning replaces running with root, a tree read from the device,
// without calling the apply hook: a device's session table changes on its
// own (traffic creates flows, timers expire them), and the agent refreshes
// running from it before edits and reads. It does nothing and returns false
// while a confirmed commit is pending, so that a rollback restores exactly
// what that commit changed and never touches flows created since, and while
// another change of running is in progress. A candidate without uncommitted
// changes follows running. root must not be modified afterwards.
func (s *Store) SyncRunning(root ygot.GoStruct) bool {
	select {
	case s.change <- struct{}{}:
	default:
		return false
	}
	defer s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		return false
	}
	if len(s.editors) == 0 {
		s.candidate = root
	}
	s.running = root
	s.tidyLocked()
	return true
}

// RefreshRunning is SyncRunning for a tree that is costly to read (a dump
// of a device's table): read is called only when running can be refreshed
// (no confirmed commit pending, no other change of running in progress),
// and with the change of running reserved, so no commit can land between
// the read and the swap. It reports whether running was refreshed; an
// error of read is returned as it is and leaves running unchanged.
func (s *Store) RefreshRunning(ctx context.Context, read func(context.Context) (ygot.GoStruct, error)) (bool, error) {
	select {
	case s.change <- struct{}{}:
	default:
		return false, nil
	}
	defer s.release()
	s.mu.Lock()
	pending := s.pending != nil
	s.mu.Unlock()
	if pending {
		return false, nil
	}
	root, err := read(ctx)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.editors) == 0 {
		s.candidate = root
	}
	s.running = root
	s.tidyLocked()
	return true, nil
}

// discardLocked resets the candidate to running (mu held).
func (s *Store) discardLocked() {
	s.candidate = s.running
	clear(s.editors)
	s.tidyLocked()
}

// DiscardChanges resets the candidate to the content of running (RFC 6241
// 8.3.4.2); in-use if another session holds the candidate lock.
func (s *Store) DiscardChanges(sess Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if holder, ok := s.locks[Candidate]; ok && holder != sess {
		return inUse(Candidate, holder)
	}
	s.discardLocked()
	return nil
}

// Validate checks the datastore ds: mandatory nodes and value
// constraints (RFC 6241 8.6). Each problem is an rpc-error with its path.
func (s *Store) Validate(ds Datastore) error {
	if err := checkDatastore(ds); err != nil {
		return err
	}
	s.mu.Lock()
	t := s.tree(ds)
	s.mu.Unlock()
	return s.validate(t)
}

// validate checks t. Trees are immutable and share what did not change, so
// after a tree passed, the next one only needs the nodes it does not share
// with it (unshared): a commit of 10 sessions into a table of 100k checks
// 10, and the confirming commit of a tree that passed checks nothing.
func (s *Store) validate(t ygot.GoStruct) error {
	s.mu.Lock()
	base := s.validated
	s.mu.Unlock()
	if t == base {
		return nil
	}
	target := t
	if base != nil && reflect.TypeOf(base) == reflect.TypeOf(t) && !reflect.ValueOf(t).IsNil() {
		target = unshared(s.rootInfo, reflect.ValueOf(t), reflect.ValueOf(base), &s.lin).Interface().(ygot.GoStruct)
	}
	if err := validationErrors(s.codec.Validate(target, yangxml.ConfigData())); err != nil {
		return err
	}
	s.mu.Lock()
	s.validated = t
	s.mu.Unlock()
	return nil
}

// SessionClosed is called when a NETCONF session ends: its locks are
// released (uncommitted candidate changes are discarded with the
// candidate lock) and its confirmed commit, unless it was given persist,
// is rolled back at once.
func (s *Store) SessionClosed(ctx context.Context, sess Session) {
	s.mu.Lock()
	for ds, holder := range s.locks {
		if holder == sess {
			delete(s.locks, ds)
			if ds == Candidate {
				s.discardLocked()
			}
		}
	}
	delete(s.editors, sess)
	p := s.pending
	s.mu.Unlock()
	if p != nil && p.owner == sess && p.persist == "" {
		err := s.rollback(ctx, "session closed", func(p *pending) error {
			if p.owner != sess || p.persist != "" {
				return operationFailed("the confirmed commit changed")
			}
			return nil
		})
		if err != nil {
			s.log.Error("datastore: rollback of confirmed commit on session close", "session", sess, "err", err)
		}
	}
}

// EditOptions are the parameters of <edit-config> besides target and config.
type EditOptions struct {
	// DefaultOperation is merge (the default, also for ""), replace or none.
	DefaultOperation string
	// ErrorOption is stop-on-error (default), rollback-on-error or
	// continue-on-error. The first two leave the target unchanged on any
	// error; continue-on-error applies what did not fail and returns all
	// errors.
	ErrorOption string
	// TestOption is test-then-set, set or test-only; see the package doc
	// for when validation runs.
	TestOption string
}

// The EditOptions values (RFC 6241 7.2).
const (
	DefaultMerge   = "merge"
	DefaultReplace = "replace"
	DefaultNone    = "none"

	StopOnError     = "stop-on-error"
	ContinueOnError = "continue-on-error"
	RollbackOnError = "rollback-on-error"

	TestThenSet = "test-then-set"
	Set         = "set"
	TestOnly    = "test-only"
)

func badParam(name, value string) error {
	e := rpcError(typeProtocol, "invalid-value", "", "%s %q is not supported", name, value)
	return withInfo(e, "bad-element", name)
}

// EditConfig applies <edit-config> content (a <config> element or bare
// top-level data nodes) to target: candidate, or running when the Store
// has WithWritableRunning. See the package doc for the semantics.
func (s *Store) EditConfig(ctx context.Context, sess Session, target Datastore, config io.Reader, o EditOptions) error {
	op := yangxml.OpMerge
	switch o.DefaultOperation {
	case "", DefaultMerge:
	case DefaultReplace:
		op = yangxml.OpReplace
	case DefaultNone:
		op = opNone
	default:
		return badParam("default-operation", o.DefaultOperation)
	}
	switch o.ErrorOption {
	case "", StopOnError, RollbackOnError, ContinueOnError:
	default:
		return badParam("error-option", o.ErrorOption)
	}
	switch o.TestOption {
	case "", TestThenSet, Set, TestOnly:
	default:
		return badParam("test-option", o.TestOption)
	}
	if err := s.checkWritable(target); err != nil {
		return err
	}
	data, err := io.ReadAll(config)
	if err != nil {
		return rpcError(typeRPC, "malformed-message", "", "reading the configuration: %v", err)
	}
	ed, err := s.decodeEdit(data)
	if err != nil {
		return err
	}
	if target == Running {
		if err := s.acquire(ctx); err != nil {
			return err
		}
		defer s.release()
	}
	for {
		if err := ctx.Err(); err != nil {
			return operationFailed("edit-config: %v", err)
		}
		s.mu.Lock()
		holder, locked := s.locks[target]
		orig := s.tree(target)
		s.mu.Unlock()
		if locked && holder != sess {
			return inUse(target, holder)
		}
		work, lists, errs := s.applyEdit(orig, ed, op, o.ErrorOption == ContinueOnError)
		if len(errs) > 0 && o.ErrorOption != ContinueOnError {
			return joinRPC(errs)
		}
		if o.TestOption == TestOnly {
			if err := s.validate(work); err != nil {
				return err
			}
			return joinRPC(errs)
		}
		if o.TestOption == TestThenSet || (target == Running && o.TestOption != Set) {
			if err := s.validate(work); err != nil {
				return err
			}
		}
		changed := !s.equalTrees(orig, work)
		if target == Running && changed && s.apply != nil {
			if err := s.apply(ctx, orig, work); err != nil {
				return operationFailed("applying the configuration failed, running is unchanged: %v", err)
			}
		}
		s.mu.Lock()
		if s.tree(target) != orig {
			s.mu.Unlock()
			continue // a concurrent candidate change: redo on the new content
		}
		if holder, locked := s.locks[target]; locked && holder != sess {
			s.mu.Unlock()
			return inUse(target, holder)
		}
		if changed {
			if target == Running {
				s.running = work
			} else {
				s.candidate = work
				s.editors[sess] = true
			}
			s.lin.add(lists)
			s.tidyLocked()
		}
		s.mu.Unlock()
		s.log.Info("edit-config", "session", sess, "target", target, "changed", changed, "errors", len(errs))
		return joinRPC(errs)
	}
}

func (s *Store) checkWritable(target Datastore) error {
	if err := checkDatastore(target); err != nil {
		return err
	}
	if target == Running && !s.writableRunning {
		return rpcError(typeProtocol, "operation-not-supported", "", "running is not writable (no :writable-running); edit the candidate and commit")
	}
	return nil
}

// applyEdit applies ed to a copy of orig that shares what the edit does
// not touch with it, and reports how it made its large lists.
func (s *Store) applyEdit(orig ygot.GoStruct, ed *edit, op yangxml.Operation, keepGoing bool) (ygot.GoStruct, []listEdit, []*netconf.RPCError) {
	var work reflect.Value
	if op == yangxml.OpReplace {
		work = reflect.ValueOf(s.newRoot())
	} else {
		work = shallow(reflect.ValueOf(orig))
	}
	a := &applier{ed: ed, keepGoing: keepGoing, mapClone: s.mapClone}
	a.node(s.rootInfo, work.Elem(), reflect.ValueOf(orig).Elem(), reflect.ValueOf(ed.root), op, nil, "")
	return work.Interface().(ygot.GoStruct), a.lists, a.errs
}

// Source is the source of <copy-config>: a datastore, or inline
// configuration (a <config> element or bare top-level data nodes).
type Source struct {
	Datastore Datastore
	Config    io.Reader
}

// CopyConfig replaces target (candidate, or running with
// WithWritableRunning) with the source. Copying to running validates and
// goes through the apply hook.
func (s *Store) CopyConfig(ctx context.Context, sess Session, target Datastore, src Source) error {
	if err := s.checkWritable(target); err != nil {
		return err
	}
	var from ygot.GoStruct
	switch {
	case src.Config != nil:
		data, err := io.ReadAll(src.Config)
		if err != nil {
			return rpcError(typeRPC, "malformed-message", "", "reading the configuration: %v", err)
		}
		t := s.newRoot()
		if err := s.codec.Unmarshal(data, t, yangxml.RejectConfigFalse()); err != nil {
			return decodeError(err)
		}
		prune(s.rootInfo, reflect.ValueOf(t).Elem())
		from = t
	case src.Datastore == target:
		return rpcError(typeProtocol, "invalid-value", "", "source and target are the same datastore")
	default:
		if err := checkDatastore(src.Datastore); err != nil {
			return err
		}
	}
	if target == Running {
		if err := s.acquire(ctx); err != nil {
			return err
		}
		defer s.release()
	}
	s.mu.Lock()
	holder, locked := s.locks[target]
	orig := s.tree(target)
	if from == nil {
		from = s.tree(src.Datastore)
	}
	if locked && holder != sess {
		s.mu.Unlock()
		return inUse(target, holder)
	}
	if target == Candidate {
		s.candidate = from
		if from == s.running {
			clear(s.editors)
		} else {
			s.editors[sess] = true
		}
		s.tidyLocked()
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if err := s.validate(from); err != nil {
		return err
	}
	if s.apply != nil && !s.equalTrees(orig, from) {
		if err := s.apply(ctx, orig, from); err != nil {
			return operationFailed("applying the configuration failed, running is unchanged: %v", err)
		}
	}
	s.mu.Lock()
	s.running = from
	s.tidyLocked()
	s.mu.Unlock()
	s.log.Info("copy-config", "session", sess, "target", target)
	return nil
}

// DeleteConfig deletes (empties) the candidate. Deleting running is
// refused (RFC 6241 7.4).
func (s *Store) DeleteConfig(ctx context.Context, sess Session, target Datastore) error {
	if err := checkDatastore(target); err != nil {
		return err
	}
	if target == Running {
		return rpcError(typeProtocol, "invalid-value", "", "the running datastore cannot be deleted")
	}
	if err := ctx.Err(); err != nil {
		return operationFailed("delete-config: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if holder, ok := s.locks[target]; ok && holder != sess {
		return inUse(target, holder)
	}
	s.candidate = s.newRoot()
	s.editors[sess] = true
	s.tidyLocked()
	return nil
}
