package sami

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// groupIdle is how long Watch waits for more leaves of a session before it
// delivers what it has: the server sends a changed session leaf by leaf.
const groupIdle = 10 * time.Millisecond

var schema = sync.OnceValues(flowstate.Schema)

// Watch streams changes of the device's session table to fn until ctx ends
// (it then returns ctx's error) or the stream fails (an error wrapping
// device.ErrUnreachable). Its first delta is device.Live, once the stream
// is in place. Sessions that exist when Watch starts are not delivered:
// Read them after Live. With a Matcher only the matching sessions are
// reported; a Removed delta names a session that matched.
//
// Over gNMI (cfg.GNMIAddress) the driver subscribes (STREAM, ON_CHANGE,
// updates_only) to /flow-state/sessions/session, then reads the matching
// sessions once over NETCONF to seed a mirror of them. A device reports a
// changed session leaf by leaf, and only the leaves that changed; the
// driver applies them to its mirror and delivers the whole new copy. So
// Watch holds every session it watches in memory: pass a Matcher. When
// leaves arrive that cannot be placed, or a session the driver never saw
// whole changes while no Matcher excludes it, a Resync delta is delivered
// instead: the receiver re-reads.
//
// Without a gNMI address the driver polls with Read every watch-interval
// and reports the sessions whose canonical form (flow.Digester: counters
// and timers left out) changed or that disappeared; it holds a digest per
// watched session.
func (d *Driver) Watch(ctx context.Context, m *flow.Matcher, fn func(device.Delta) error) error {
	if d.cfg.GNMIAddress == "" {
		return d.poll(ctx, m, fn)
	}
	return d.subscribe(ctx, m, fn)
}

// gnmiCreds are the transport credentials of cfg.
func (d *Driver) gnmiCreds() (credentials.TransportCredentials, error) {
	cr := d.cfg.Credentials
	if cr.InsecurePlaintext {
		return insecure.NewCredentials(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cr.CAFile != "" {
		pem, err := os.ReadFile(cr.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: ca-file: %w", device.ErrConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: ca-file %s: no PEM certificate in it", device.ErrConfig, cr.CAFile)
		}
	}
	if cr.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cr.CertFile, cr.CertKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: client certificate: %w", device.ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(tc), nil
}

var sessionsPath = &gpb.Path{Elem: []*gpb.PathElem{{Name: "flow-state"}, {Name: "sessions"}, {Name: "session"}}}

// subscribe watches over gNMI.
func (d *Driver) subscribe(ctx context.Context, m *flow.Matcher, fn func(device.Delta) error) error {
	creds, err := d.gnmiCreds()
	if err != nil {
		return d.fail("watch", err)
	}
	conn, err := grpc.NewClient(d.cfg.GNMIAddress, grpc.WithTransportCredentials(creds))
	if err != nil {
		return d.fail("watch", fmt.Errorf("%w: gNMI %s: %w", device.ErrConfig, d.cfg.GNMIAddress, err))
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := gpb.NewGNMIClient(conn).Subscribe(sctx)
	if err != nil {
		return d.watchErr(ctx, err)
	}
	err = stream.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
		Mode: gpb.SubscriptionList_STREAM, UpdatesOnly: true, Encoding: gpb.Encoding_JSON_IETF,
		Subscription: []*gpb.Subscription{{Path: sessionsPath, Mode: gpb.SubscriptionMode_ON_CHANGE}},
	}}})
	if err != nil {
		return d.watchErr(ctx, err)
	}
	msgs := make(chan *gpb.SubscribeResponse, 256)
	errc := make(chan error, 1)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- r:
			case <-sctx.Done():
				errc <- sctx.Err()
				return
			}
		}
	}()
	a, err := newMirror(m, fn)
	if err != nil {
		return d.fail("watch", err)
	}
	// Seed the mirror once the subscription is in place: changes from now
	// on are queued on the stream, and applying them on top of the read
	// converges (each leaf update is absolute).
	select {
	case r := <-msgs:
		if n := r.GetUpdate(); n != nil {
			a.pending = append(a.pending, n)
		}
	case err := <-errc:
		return d.watchErr(ctx, err)
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := d.seedRead(ctx, m, func(s *flow.Session) { a.known[s.GetId()] = s }); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	d.log.Debug("sami: watching over gNMI", "device", d.cfg.Name, "address", d.cfg.GNMIAddress, "sessions", len(a.known))
	for _, n := range a.pending {
		if err := a.add(n); err != nil {
			return err
		}
	}
	a.pending = nil
	// Subscribed and seeded: every change from here on reaches the mirror.
	if err := fn(device.Delta{Type: device.Live, Time: time.Now()}); err != nil {
		return err
	}
	idle := time.NewTimer(groupIdle)
	defer idle.Stop()
	for {
		select {
		case r := <-msgs:
			if n := r.GetUpdate(); n != nil {
				if err := a.add(n); err != nil {
					return err
				}
				idle.Reset(groupIdle)
			}
		case <-idle.C:
			if err := a.flush(); err != nil {
				return err
			}
		case err := <-errc:
			if ferr := a.flush(); ferr != nil {
				return ferr
			}
			return d.watchErr(ctx, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// seedDrain bounds how long a seeding read that was no longer wanted may
// take to finish.
const seedDrain = 30 * time.Second

// seedRead reads the sessions that seed the mirror. The read shares the
// connection with the caller's transaction, and a call cancelled on it
// closes the connection (the lock and staged changes go with it): when ctx
// ends during the read, the rest of the reply is read and dropped instead
// (within seedDrain), and ctx's error returned.
func (d *Driver) seedRead(ctx context.Context, m *flow.Matcher, fn func(*flow.Session)) error {
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer rcancel()
	var mu sync.Mutex
	var drain *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		drain = time.AfterFunc(seedDrain, rcancel)
		mu.Unlock()
	})
	defer func() {
		stop()
		mu.Lock()
		if drain != nil {
			drain.Stop()
		}
		mu.Unlock()
	}()
	return d.Read(rctx, m, func(s *flow.Session) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		fn(s)
		return nil
	})
}

func (d *Driver) watchErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return d.fail("watch", fmt.Errorf("%w: gNMI stream: %w", device.ErrUnreachable, err))
}

// mirror holds the watched sessions and applies the leaf updates of
// consecutive notifications about one session (a group) to them.
type mirror struct {
	m       *flow.Matcher
	fn      func(device.Delta) error
	schema  *ytypes.Schema
	known   map[string]*flow.Session
	pending []*gpb.Notification // received before the seeding read

	// the group being assembled
	id      string
	root    *flowstate.Device // holds the working copy of the session
	removed bool
	broken  bool // a leaf could not be applied
}

func newMirror(m *flow.Matcher, fn func(device.Delta) error) (*mirror, error) {
	s, err := schema()
	if err != nil {
		return nil, err
	}
	return &mirror{m: m, fn: fn, schema: s, known: map[string]*flow.Session{}}, nil
}

// sessionID is the id of the session a full path is in, and the index of
// the session element, or "" and -1.
func sessionID(elems []*gpb.PathElem) (string, int) {
	if len(elems) < 3 || elems[0].GetName() != "flow-state" || elems[1].GetName() != "sessions" || elems[2].GetName() != "session" {
		return "", -1
	}
	return elems[2].GetKey()["id"], 2
}

func join(prefix, p *gpb.Path) []*gpb.PathElem {
	return append(append([]*gpb.PathElem(nil), prefix.GetElem()...), p.GetElem()...)
}

// start makes id the group being assembled, delivering the previous one.
func (a *mirror) start(id string) error {
	if a.id == id {
		return nil
	}
	if err := a.flush(); err != nil {
		return err
	}
	a.id, a.root = id, &flowstate.Device{}
	if s := a.known[id]; s != nil {
		c, err := ygot.DeepCopy(s)
		if err != nil {
			return err
		}
		if err := a.root.GetOrCreateFlowState().GetOrCreateSessions().AppendSession(c.(*flow.Session)); err != nil {
			a.broken = true
		}
	}
	return nil
}

func (a *mirror) add(n *gpb.Notification) error {
	for _, p := range n.GetDelete() {
		elems := join(n.GetPrefix(), p)
		id, i := sessionID(elems)
		if id == "" {
			continue
		}
		if err := a.start(id); err != nil {
			return err
		}
		rest := elems[i+1:]
		switch {
		case len(rest) == 0 || (len(rest) == 1 && rest[0].GetName() == "id"):
			a.removed = true
		case !a.removed:
			if err := ytypes.DeleteNode(a.schema.RootSchema(), a.root, &gpb.Path{Elem: elems}); err != nil {
				a.broken = true
			}
		}
	}
	for _, u := range n.GetUpdate() {
		elems := join(n.GetPrefix(), u.GetPath())
		id, _ := sessionID(elems)
		if id == "" {
			continue
		}
		if a.id == id && a.removed { // destroyed and created again
			if err := a.flush(); err != nil {
				return err
			}
		}
		if err := a.start(id); err != nil {
			return err
		}
		if err := ytypes.SetNode(a.schema.RootSchema(), a.root, &gpb.Path{Elem: elems}, u.GetVal(), &ytypes.InitMissingElements{}); err != nil {
			a.broken = true
		}
	}
	return nil
}

// flush delivers the group being assembled.
func (a *mirror) flush() error {
	id, root, removed, broken := a.id, a.root, a.removed, a.broken
	a.id, a.root, a.removed, a.broken = "", nil, false, false
	if id == "" {
		return nil
	}
	_, had := a.known[id]
	now := time.Now()
	if removed {
		delete(a.known, id)
		if !had && a.m != nil {
			return nil
		}
		return a.fn(device.Delta{Type: device.Removed, ID: id, Time: now})
	}
	s := root.GetFlowState().GetSessions().GetSession(id)
	if broken || s == nil || s.GetId() != id || flow.CheckKey(s) != nil {
		if !had && a.m != nil {
			return nil // only changes of a session that did not match
		}
		delete(a.known, id)
		return a.fn(device.Delta{Type: device.Resync, Time: now})
	}
	if !had && a.m != nil && !a.m.Match(s) {
		return nil
	}
	a.known[id] = s
	c, err := ygot.DeepCopy(s)
	if err != nil {
		return err
	}
	return a.fn(device.Delta{Type: device.Upserted, ID: id, Session: c.(*flow.Session), Time: now})
}

// poll watches by reading the table every watch-interval.
func (d *Driver) poll(ctx context.Context, m *flow.Matcher, fn func(device.Delta) error) error {
	d.log.Debug("sami: watching by polling", "device", d.cfg.Name, "interval", d.watchInterval)
	var prev map[string]flow.Digest
	var dg flow.Digester
	t := time.NewTicker(d.watchInterval)
	defer t.Stop()
	for {
		cur := make(map[string]flow.Digest, len(prev))
		var changed []*flow.Session
		err := d.Read(ctx, m, func(s *flow.Session) error {
			dg.Reset()
			if err := dg.Add(s); err != nil {
				return err
			}
			sum := dg.Sum()
			cur[s.GetId()] = sum
			if old, ok := prev[s.GetId()]; prev != nil && (!ok || old != sum) {
				changed = append(changed, s)
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return d.fail("watch", err)
		}
		for _, s := range changed {
			if err := fn(device.Delta{Type: device.Upserted, ID: s.GetId(), Session: s, Time: time.Now()}); err != nil {
				return err
			}
		}
		for id := range prev {
			if _, ok := cur[id]; !ok {
				if err := fn(device.Delta{Type: device.Removed, ID: id, Time: time.Now()}); err != nil {
					return err
				}
			}
		}
		if prev == nil {
			// The baseline is read: a change from now on shows at the
			// next poll.
			if err := fn(device.Delta{Type: device.Live, Time: time.Now()}); err != nil {
				return err
			}
		}
		prev = cur
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
