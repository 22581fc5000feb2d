// Package agent is the core of sami-agent: it serves a device's session
// table (a backend.Backend: Linux conntrack, a simulated firewall) through
// NETCONF datastores, and writes what those datastores commit back to the
// device.
//
// The table changes on its own (traffic creates flows, timers expire them),
// so the datastores cannot own it the way they own configuration:
//
//   - <get> is served live: a dump of the table plus the device's
//     capabilities, never a cached copy;
//   - running is a snapshot of the table, refreshed (datastore.SyncRunning)
//     before a candidate lock, an edit and a get-config of running;
//   - a commit writes only the difference between the running it started
//     from and the new configuration: sessions added or changed are
//     upserted, sessions removed are deleted; flows the edit did not touch
//     are left alone;
//   - no refresh happens while a confirmed commit is pending, so its
//     rollback (timeout, cancel-commit, session loss) restores exactly what
//     it changed: deleted entries re-created, replaced ones restored, and
//     flows created meanwhile by traffic untouched;
//   - a device that refuses a session part-way through a write gets the
//     applied part undone before the commit fails, so nothing is left
//     half-installed.
//
// A bulk change costs what it changes: the commit of a few sessions into a
// table of 100k writes and compares those few (the datastore shares what
// an edit did not touch and knows which sessions an edit touched), the
// table is read without deep copies when the backend can (SharedDumper,
// SharedWatcher), and running is not read at all while it cannot be
// refreshed. The gNMI feed turns each change into notifications with a
// plan per generated type, and seeds the subscription cache session by
// session (Snapshot).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/datastore"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// Option configures an Agent.
type Option func(*Agent)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(a *Agent) { a.log = l } }

// Agent serves one backend.
type Agent struct {
	b     backend.Backend
	codec *yangxml.Codec
	store *datastore.Store
	log   *slog.Logger
}

// New builds an agent over b and loads running from the device.
func New(ctx context.Context, b backend.Backend, opts ...Option) (*Agent, error) {
	a := &Agent{b: b, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(a)
	}
	codec, err := flow.NewCodec()
	if err != nil {
		return nil, err
	}
	a.codec = codec
	a.store, err = datastore.New(codec, func() ygot.GoStruct { return &flowstate.Device{} },
		datastore.WithApply(a.apply), datastore.WithLogger(a.log), datastore.WithMapClone(cloneSessions))
	if err != nil {
		return nil, err
	}
	if err := a.Sync(ctx); err != nil {
		return nil, fmt.Errorf("agent: reading the %s table: %w", b.Name(), err)
	}
	return a, nil
}

// SharedDumper is a backend that can read its table without deep copies
// (simfw.Firewall): the sessions it hands out share their parts with the
// table, which never changes them, so the caller may keep them and set the
// sessions' own fields but must not change what they point to. The agent
// reads the table this way when the backend offers it: its datastores
// never change a tree in place (edits copy what they change) and its
// replies only read.
type SharedDumper interface {
	DumpShared(ctx context.Context, fn func(*flow.Session) error) error
}

// dump reads the table, shared when the backend can.
func (a *Agent) dump(ctx context.Context, fn func(*flow.Session) error) error {
	if sd, ok := a.b.(SharedDumper); ok {
		return sd.DumpShared(ctx, fn)
	}
	return a.b.Dump(ctx, fn)
}

// Store is the agent's datastores.
func (a *Agent) Store() *datastore.Store { return a.store }

// Codec is the XML codec of the model.
func (a *Agent) Codec() *yangxml.Codec { return a.codec }

// Backend is the device the agent serves.
func (a *Agent) Backend() backend.Backend { return a.b }

// Sync refreshes running from the device's table. When running cannot be
// refreshed (a confirmed commit is pending, or another change of running is
// in progress; see the package doc) the table is not read at all. Counters
// are state, so they are left out.
func (a *Agent) Sync(ctx context.Context) error {
	_, err := a.store.RefreshRunning(ctx, func(ctx context.Context) (ygot.GoStruct, error) {
		d := &flowstate.Device{}
		sessions := d.GetOrCreateFlowState().GetOrCreateSessions()
		err := a.dump(ctx, func(s *flow.Session) error {
			s.Counters = nil
			return sessions.AppendSession(s)
		})
		return d, err
	})
	return err
}

// Live reads the device as <get> shows it: every session with its counters,
// and the capabilities. The tree is the caller's, but with a SharedDumper
// backend its sessions share their parts with the device's table: read
// them, or copy before changing anything below a session's own fields.
func (a *Agent) Live(ctx context.Context) (*flowstate.Device, error) {
	d := &flowstate.Device{}
	sessions := d.GetOrCreateFlowState().GetOrCreateSessions()
	if err := a.dump(ctx, func(s *flow.Session) error { return sessions.AppendSession(s) }); err != nil {
		return nil, err
	}
	caps, err := a.b.Capabilities(ctx)
	if err != nil {
		return nil, err
	}
	d.FlowState.Capabilities = caps
	return d, nil
}

func sessionsOf(t ygot.GoStruct) map[string]*flow.Session {
	d, ok := t.(*flowstate.Device)
	if !ok || d == nil {
		return nil
	}
	if ss := d.GetFlowState().GetSessions(); ss != nil {
		return ss.Session
	}
	return nil // no sessions container (an edit that removed the last one)
}

// cloneSessions is the datastore's fast copy of the sessions list.
func cloneSessions(m any) (any, bool) {
	s, ok := m.(map[string]*flow.Session)
	if !ok {
		return nil, false
	}
	return maps.Clone(s), true
}

// apply writes the difference between two configurations to the device
// (the datastore's apply hook). On failure what was applied is undone and
// running stays as it was. The datastore's trees share the sessions an
// edit did not touch, so most sessions are told apart by their pointer,
// and when the datastore knows which ones an edit touched only those are
// looked at (a commit of a few sessions into a table of 100k).
func (a *Agent) apply(ctx context.Context, from, to ygot.GoStruct) error {
	old, nw := sessionsOf(from), sessionsOf(to)
	var upsert, removed []*flow.Session
	diff := func(id string) {
		prev, inOld := old[id]
		s, inNew := nw[id]
		switch {
		case !inNew:
			if inOld {
				removed = append(removed, prev)
			}
		case inOld && prev == s:
		case !inOld, !reflect.DeepEqual(prev, s):
			upsert = append(upsert, s)
		}
	}
	if keys, ok := a.store.ListChanges(old, nw); ok {
		for _, k := range keys {
			diff(k.(string))
		}
	} else {
		for id := range nw {
			diff(id)
		}
		for id, s := range old {
			if _, ok := nw[id]; !ok {
				removed = append(removed, s)
			}
		}
	}
	a.log.Info("applying a commit to the device", "backend", a.b.Name(), "upsert", len(upsert), "delete", len(removed))
	if len(upsert) > 0 {
		if err := a.b.Upsert(ctx, upsert); err != nil {
			// Undo the whole write, not just ss[:Applied]: a device without
			// transactional batches (ctnetlink) goes on with the requests
			// after a refused one. Deleting what is absent and restoring
			// what is unchanged are both harmless.
			var be *backend.BatchError
			if errors.As(err, &be) {
				a.undo(ctx, upsert, old)
			}
			return deviceError(err)
		}
	}
	if len(removed) > 0 {
		if err := a.b.Delete(ctx, removed); err != nil {
			// Which ones went is unknown: put them all back (upsert is
			// idempotent), and undo the upserts.
			if rerr := a.b.Upsert(ctx, removed); rerr != nil {
				a.log.Error("agent: restoring sessions after a failed delete", "err", rerr)
			}
			a.undo(ctx, upsert, old)
			return deviceError(err)
		}
	}
	return nil
}

// undo reverts upserted sessions: new ones are deleted, replaced ones get
// their previous content back.
func (a *Agent) undo(ctx context.Context, done []*flow.Session, old map[string]*flow.Session) {
	var del, restore []*flow.Session
	for _, s := range done {
		if prev, ok := old[s.GetId()]; ok {
			restore = append(restore, prev)
		} else {
			del = append(del, s)
		}
	}
	if len(del) > 0 {
		if err := a.b.Delete(ctx, del); err != nil {
			a.log.Error("agent: undoing a partial write (delete)", "err", err)
		}
	}
	if len(restore) > 0 {
		if err := a.b.Upsert(ctx, restore); err != nil {
			a.log.Error("agent: undoing a partial write (restore)", "err", err)
		}
	}
}

// deviceError turns a backend error into the rpc-error a client should see.
func deviceError(err error) error {
	var ce *backend.CapacityError
	var be *backend.BatchError
	switch {
	case errors.As(err, &ce):
		return &netconf.RPCError{Type: "application", Tag: "resource-denied", Severity: "error",
			Message: fmt.Sprintf("the device has room for %d more sessions, the commit needs %d; nothing was written", ce.Free, ce.Need)}
	case errors.Is(err, backend.ErrUnsupported):
		return &netconf.RPCError{Type: "application", Tag: "operation-not-supported", Severity: "error",
			Message: fmt.Sprintf("the device cannot hold this state: %v; nothing was written", err)}
	case errors.As(err, &be):
		return &netconf.RPCError{Type: "application", Tag: "operation-failed", Severity: "error",
			Message: fmt.Sprintf("the device refused session %s; everything this commit wrote was undone, running is unchanged: %v", be.ID, be.Err)}
	}
	return &netconf.RPCError{Type: "application", Tag: "operation-failed", Severity: "error", Message: "device: " + err.Error()}
}

func sessionsOfRoot(t ygot.GoStruct) *flowstate.SamiFlowState_FlowState {
	d, ok := t.(*flowstate.Device)
	if !ok || d == nil {
		return nil
	}
	return d.FlowState
}
