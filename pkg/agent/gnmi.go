package agent

import (
	"context"
	"fmt"
	"reflect"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/datastore"
	"github.com/sami-netops/sami/pkg/flow"
)

// gnmiSession is the datastore session gNMI writes act as; NETCONF session
// ids count up from 1, so it never collides with one.
const gnmiSession datastore.Session = 1 << 62

// GNMI returns the source a gNMI server serves: the live tree, Set as a
// transactional replacement of running, and the device's changes as
// notifications for subscriptions.
func (a *Agent) GNMI() *GNMISource { return &GNMISource{a: a} }

// GNMISource adapts the agent to a gNMI server (see package gnmiserver).
type GNMISource struct{ a *Agent }

// Current is the live tree: every session with its counters and the
// capabilities (see Agent.Live: read-only below the sessions).
func (g *GNMISource) Current(ctx context.Context) (ygot.GoStruct, error) {
	return g.a.Live(ctx)
}

// Replace commits a new configuration (a gNMI Set's result): running is
// refreshed from the device, the difference is written, and locks and
// pending confirmed commits taken through NETCONF are respected.
func (g *GNMISource) Replace(ctx context.Context, root ygot.GoStruct) error {
	if err := g.a.Sync(ctx); err != nil {
		return err
	}
	// Counters and capabilities are state: a Set result carries them from
	// the live tree, the configuration does not.
	c, err := ygot.DeepCopy(root)
	if err != nil {
		return err
	}
	for _, s := range sessionsOf(c) {
		s.Counters = nil
	}
	if fs := sessionsOfRoot(c); fs != nil {
		fs.Capabilities = nil
	}
	return g.a.store.ReplaceRunning(ctx, gnmiSession, c)
}

// Updates streams the device's changes as gNMI notifications: an update of
// the whole session for created and updated ones, a delete of its path for
// destroyed ones.
func (g *GNMISource) Updates(ctx context.Context, fn func([]*gpb.Notification) error) error {
	watch := g.a.b.Watch
	if sw, ok := g.a.b.(SharedWatcher); ok {
		watch = sw.WatchShared // the notification only reads the session
	}
	return watch(ctx, func(ev backend.Event) error {
		n, err := notification(ev)
		if err != nil {
			return err
		}
		return fn([]*gpb.Notification{n})
	})
}

// SharedWatcher is a backend whose change stream can carry sessions that
// share their parts with the table (simfw.Firewall; see SharedDumper): the
// gNMI feed only reads them.
type SharedWatcher interface {
	WatchShared(ctx context.Context, fn func(backend.Event) error) error
}

// snapshotBatch is how many sessions Snapshot hands over at once.
const snapshotBatch = 256

// Snapshot streams the live table as gNMI notifications (one per session,
// with its counters, and the capabilities), so the gNMI server seeds its
// subscription cache without building the whole table as one tree.
func (g *GNMISource) Snapshot(ctx context.Context, fn func([]*gpb.Notification) error) error {
	caps, err := g.a.b.Capabilities(ctx)
	if err != nil {
		return err
	}
	d := &flowstate.Device{FlowState: &flowstate.SamiFlowState_FlowState{Capabilities: caps}}
	ns, err := ygot.TogNMINotifications(d, time.Now().UnixNano(), ygot.GNMINotificationsConfig{UsePathElem: true})
	if err != nil {
		return fmt.Errorf("agent: capabilities as gNMI: %w", err)
	}
	if err := fn(ns); err != nil {
		return err
	}
	batch := make([]*gpb.Notification, 0, snapshotBatch)
	err = g.a.dump(ctx, func(s *flow.Session) error {
		n, err := notification(backend.Event{Type: backend.Updated, Session: s})
		if err != nil {
			return err
		}
		if batch = append(batch, n); len(batch) == snapshotBatch {
			err = fn(batch)
			batch = make([]*gpb.Notification, 0, snapshotBatch)
		}
		return err
	})
	if err != nil || len(batch) == 0 {
		return err
	}
	return fn(batch)
}

func sessionPath(id string) []*gpb.PathElem {
	return []*gpb.PathElem{{Name: "flow-state"}, {Name: "sessions"}, {Name: "session", Key: map[string]string{"id": id}}}
}

func notification(ev backend.Event) (*gpb.Notification, error) {
	s := ev.Session
	if s.GetId() == "" {
		if err := flow.SetKey(s); err != nil {
			return nil, err
		}
	}
	now := time.Now().UnixNano()
	if ev.Type == backend.Destroyed {
		return &gpb.Notification{Timestamp: now, Delete: []*gpb.Path{{Elem: sessionPath(s.GetId())}}}, nil
	}
	us, err := gnmiUpdates(make([]*gpb.Update, 0, 32), reflect.ValueOf(s), nil)
	if err != nil {
		return nil, fmt.Errorf("agent: session %s as gNMI: %w", s.GetId(), err)
	}
	return &gpb.Notification{Timestamp: now, Prefix: &gpb.Path{Elem: sessionPath(s.GetId())}, Update: us}, nil
}
