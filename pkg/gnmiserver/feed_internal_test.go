package gnmiserver

import (
	"context"
	"log/slog"
	"testing"

	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device/devicetest"
)

type nopSource struct{}

func (nopSource) Current(context.Context) (ygot.GoStruct, error) { return &flowstate.Device{}, nil }
func (nopSource) Replace(context.Context, ygot.GoStruct) error   { return nil }
func (nopSource) Updates(ctx context.Context, _ func([]*gpb.Notification) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// sessionNotification is a session's leaves under its path, as the agent
// reports a change.
func sessionNotification(tb testing.TB, i int) *gpb.Notification {
	s := devicetest.Session(i)
	prefix := []*gpb.PathElem{{Name: "flow-state"}, {Name: "sessions"}, {Name: "session", Key: map[string]string{"id": s.GetId()}}}
	ns, err := ygot.TogNMINotifications(s, 1, ygot.GNMINotificationsConfig{UsePathElem: true, PathElemPrefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	return ns[0]
}

// BenchmarkApply: one session's change into the subscription cache (the
// per-session cost of seeding and of a bulk commit while subscribed).
func BenchmarkApply(b *testing.B) {
	schema, err := flowstate.Schema()
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(nopSource{}, schema, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	ns := make([]*gpb.Notification, n)
	for i := range ns {
		ns[i] = sessionNotification(b, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.apply(ns[i%n : i%n+1])
	}
}

// The leaves of a notification split by apply are all in the cache, and a
// delete of the session removes them all.
func TestApplySplitsIntoLeaves(t *testing.T) {
	schema, err := flowstate.Schema()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(nopSource{}, schema, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		if err := s.cache.Query(s.target, []string{"*"}, func(_ []string, _ *ctree.Leaf, v any) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var ns []*gpb.Notification
	leaves := 0
	for i := range 3 {
		n := sessionNotification(t, i)
		leaves += len(n.Update)
		ns = append(ns, n)
	}
	s.apply(ns)
	if got := count(); got != leaves {
		t.Fatalf("%d leaves in the cache, want %d", got, leaves)
	}
	del := &gpb.Notification{Delete: []*gpb.Path{{Elem: ns[1].Prefix.Elem}}}
	s.apply([]*gpb.Notification{del})
	if got, want := count(), leaves-len(ns[1].Update); got != want {
		t.Fatalf("%d leaves after deleting a session, want %d", got, want)
	}
}
