package gnmiserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/gnmiserver"
)

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// onceSees subscribes ONCE to the sessions and reports whether the initial
// data mentions id.
func onceSees(t *testing.T, e *env, id string) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	st, err := e.client.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(subscribeReq(gpb.SubscriptionList_ONCE, sessionsPath())); err != nil {
		t.Fatal(err)
	}
	for _, r := range until(t, collect(st), "sync_response", isSync) {
		if mentions(r, id, false) {
			return true
		}
	}
	return false
}

// With WithLazyFeed the source is read only while someone subscribes;
// changes made meanwhile are in the data of the next subscriber.
func TestFeedOnlyWhileSubscribed(t *testing.T) {
	e := start(t, gnmiserver.WithLazyFeed(0))
	time.Sleep(50 * time.Millisecond)
	if n := e.src.listening(); n != 0 {
		t.Fatalf("Updates runs %d times without subscribers", n)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	st, err := e.client.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(subscribeReq(gpb.SubscriptionList_STREAM, sessionsPath())); err != nil {
		t.Fatal(err)
	}
	until(t, collect(st), "sync_response", isSync)
	if n := e.src.listening(); n != 1 {
		t.Errorf("Updates runs %d times with a subscriber, want 1", n)
	}
	cancel()
	waitUntil(t, "the feed to stop", func() bool { return e.src.listening() == 0 })

	e.src.add(t, session(t, 17, "10.0.0.9", 1234, "192.0.2.1", 53)) // nobody listens
	if !onceSees(t, e, newID) {
		t.Error("a session added while nobody subscribed is missing from the next subscription")
	}
}

// A lazy feed outlives its last subscriber by the linger time.
func TestFeedLinger(t *testing.T) {
	e := start(t, gnmiserver.WithLazyFeed(time.Hour))
	if !onceSees(t, e, tcpID) {
		t.Fatal("fixture session missing")
	}
	time.Sleep(50 * time.Millisecond)
	if n := e.src.listening(); n != 1 {
		t.Errorf("Updates runs %d times after the subscriber left, want the feed kept (1)", n)
	}
	e.src.add(t, session(t, 17, "10.0.0.9", 1234, "192.0.2.1", 53))
	waitUntil(t, "the new session in the cache", func() bool { return onceSees(t, e, newID) })
}

// snapshotSource seeds through Snapshot.
type snapshotSource struct {
	*fakeSource
	snapshots atomic.Int32
}

func (s *snapshotSource) Snapshot(ctx context.Context, fn func([]*gpb.Notification) error) error {
	s.snapshots.Add(1)
	s.mu.Lock()
	var ns []*gpb.Notification
	for id, sess := range s.dev.GetFlowState().GetSessions().Session {
		n, err := ygot.TogNMINotifications(sess, time.Now().UnixNano(), ygot.GNMINotificationsConfig{UsePathElem: true, PathElemPrefix: sessionPath(id).Elem})
		if err != nil {
			s.mu.Unlock()
			return err
		}
		ns = append(ns, n...)
	}
	s.mu.Unlock()
	for _, n := range ns {
		if err := fn([]*gpb.Notification{n}); err != nil {
			return err
		}
	}
	return nil
}

var _ gnmiserver.SnapshotSource = (*snapshotSource)(nil)

func TestFeedSeedsFromSnapshot(t *testing.T) {
	src := &snapshotSource{fakeSource: newFakeSource(t)}
	e := startWith(t, src, src.fakeSource, gnmiserver.WithLazyFeed(time.Hour))
	for _, id := range []string{tcpID, udp6ID, natID} {
		if !onceSees(t, e, id) {
			t.Errorf("session %s missing", id)
		}
	}
	if n := src.snapshots.Load(); n != 1 {
		t.Errorf("Snapshot called %d times, want 1", n)
	}
	src.mu.Lock()
	currents := src.currents
	src.mu.Unlock()
	if currents != 0 {
		t.Errorf("Current called %d times: the seeding should stream", currents)
	}
}

// A source that cannot be read fails the subscription (Unavailable); the
// next subscriber tries again.
func TestFeedSeedFailure(t *testing.T) {
	e := start(t, gnmiserver.WithLazyFeed(0))
	e.src.mu.Lock()
	e.src.currentErr = errors.New("device gone")
	e.src.mu.Unlock()
	st, err := e.client.Subscribe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// The server fails the stream without reading the request, so the
	// request may find it ended already (io.EOF); Recv has the status.
	if err := st.Send(subscribeReq(gpb.SubscriptionList_ONCE, sessionsPath())); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if _, err := st.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("Recv = %v, want Unavailable", err)
	}
	e.src.mu.Lock()
	e.src.currentErr = nil
	e.src.mu.Unlock()
	if !onceSees(t, e, tcpID) {
		t.Error("no data after the source came back")
	}
}

// By default the cache is fed from Serve on, whether anyone subscribes or
// not, and a source that cannot be read fails Serve.
func TestFeedEager(t *testing.T) {
	e := start(t)
	waitUntil(t, "the feed to start", func() bool { return e.src.listening() == 1 })
	// The feed takes the change and applies it to the cache on its own
	// goroutine: it is there soon after, not necessarily at once.
	e.src.add(t, session(t, 17, "10.0.0.9", 1234, "192.0.2.1", 53))
	waitUntil(t, "the change made while nobody subscribed in the cache", func() bool { return onceSees(t, e, newID) })
	if n := e.src.listening(); n != 1 {
		t.Errorf("Updates runs %d times after the subscriber left, want 1", n)
	}

	src := newFakeSource(t)
	src.currentErr = errors.New("device gone")
	schema, err := flowstate.Schema()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gnmiserver.New(src, schema, gnmiserver.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Serve(ctxT(t), ln, insecure.NewCredentials())
	if err == nil || !strings.Contains(err.Error(), "initial sync") || !strings.Contains(err.Error(), "device gone") {
		t.Errorf("Serve over a source that cannot be read = %v", err)
	}
}
