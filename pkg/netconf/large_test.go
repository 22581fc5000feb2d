package netconf_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/xmltok"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// getDigest streams running's sessions from the server, one at a time,
// into a digest.
func getDigest(ctx context.Context, tb testing.TB, codec *yangxml.Codec, s *netconf.Session) (flow.Digest, int) {
	tb.Helper()
	var d flow.Digester
	_, err := s.Get(ctx, sessionsFilter, netconf.WithData(func(tk *xmltok.Tokenizer, ns map[string]string) error {
		return codec.DecodeElement(tk, &flowstate.Device{}, yangxml.WithNamespaces(ns), yangxml.SkipUnknownModules(),
			yangxml.WithListHandler(flow.SessionsPath, func(e ygot.GoStruct) error { return d.Add(e.(*flow.Session)) }))
	}))
	if err != nil {
		tb.Fatalf("get: %v", err)
	}
	return d.Sum(), d.Count()
}

// TestLargeOwnServer moves 100k sessions (20k under -race) through our
// client and server: streamed edit-config, commit, streamed get verified by
// digest, then a keys-only remove of them all.
func TestLargeOwnServer(t *testing.T) {
	n := 100_000
	if raceEnabled {
		n = 20_000
	}
	srv := startOwnServer(t, nil)
	s := dialTarget(t, &srv.target)
	codec, _ := flow.NewCodec()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ss := bigSessions(n)
	want, _ := flow.DigestSessions(ss)

	start := time.Now()
	if err := editSessions(ctx, t, codec, s, "", ss...); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("edit-config + commit of %d sessions: %v", n, time.Since(start))
	start = time.Now()
	got, count := getDigest(ctx, t, codec, s)
	t.Logf("get of %d sessions: %v", count, time.Since(start))
	if count != n || got != want {
		t.Fatalf("read back %d sessions, digest %s; want %d, %s", count, got, n, want)
	}
	if err := editSessions(ctx, t, codec, s, yangxml.OpRemove, ss...); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, count := getDigest(ctx, t, codec, s); count != 0 {
		t.Fatalf("%d sessions left after removing all", count)
	}
}

// TestConcurrentClientsOwnServer: many goroutines on one session and on
// several sessions at once, under -race.
func TestConcurrentClientsOwnServer(t *testing.T) {
	srv := startOwnServer(t, withSessions(t, bigSessions(200)))
	codec, _ := flow.NewCodec()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shared := dialTarget(t, &srv.target)
	want, _ := flow.DigestSessions(bigSessions(200))
	var wg sync.WaitGroup
	for w := range 6 {
		s := shared
		if w%2 == 1 {
			s = dialTarget(t, &srv.target)
		}
		wg.Go(func() {
			for range 10 {
				if d, n := getDigest(ctx, t, codec, s); n != 200 || d != want {
					t.Errorf("worker %d: %d sessions", w, n)
					return
				}
				if err := s.Validate(ctx, netconf.Running); err != nil {
					t.Errorf("worker %d: validate: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkGet100k: one <get> of 100k sessions over SSH on loopback, our
// client and our server, decoded session by session into a digest.
func BenchmarkGet100k(b *testing.B) {
	const n = 100_000
	srv := startOwnServer(b, withSessions(b, bigSessions(n)))
	s := dialTarget(b, &srv.target)
	codec, _ := flow.NewCodec()
	ctx := context.Background()
	raw, _ := codec.Marshal(srv.Store.Snapshot(netconf.Running))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, count := getDigest(ctx, b, codec, s); count != n {
			b.Fatalf("%d sessions", count)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkEditConfig100k: <edit-config> of 100k sessions into the
// candidate, streamed from our client to our server, then discard-changes.
func BenchmarkEditConfig100k(b *testing.B) {
	const n = 100_000
	srv := startOwnServer(b, nil)
	s := dialTarget(b, &srv.target)
	codec, _ := flow.NewCodec()
	ctx := context.Background()
	ss := bigSessions(n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := editSessions(ctx, b, codec, s, "", ss...); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.DiscardChanges(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
