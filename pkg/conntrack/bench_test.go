package conntrack

import (
	"context"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
)

// genSessions returns n distinct established TCP sessions with window
// scale and flags.
func genSessions(n int) []*flow.Session { return genSessionsFrom(0, n) }

// genSessionsFrom returns sessions from..from+n-1 of the sequence of
// genSessions (distinct for up to 2^24 sessions).
func genSessionsFrom(from, n int) []*flow.Session {
	ss := make([]*flow.Session, n)
	base := netip.MustParseAddr("10.64.0.0").As4()
	for j := range n {
		i := from + j
		a := base
		a[2], a[3] = byte(i>>16), byte(i>>8)
		src := netip.AddrFrom4(a).String()
		ss[j] = established(sb(0, 6, src, uint16(1024+i%60000), "10.128.0.1", 443, 3600), 7, 7)
		if err := flow.SetKey(ss[j]); err != nil {
			panic(err)
		}
	}
	return ss
}

const benchN = 100_000

func BenchmarkUpsert100k(b *testing.B) {
	_, path := newNetNS(b)
	be := openNS(b, path)
	ctx := context.Background()
	ss := genSessions(benchN)
	b.ResetTimer()
	for range b.N {
		if err := be.Upsert(ctx, ss); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := be.Delete(ctx, ss); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkDump100k times Dump of benchN entries against `conntrack -L -o
// extended` of the same table, alternated in every iteration so that both
// see the same load (the machine is shared); conntrack's time includes
// starting it through ip netns exec (a few ms).
func BenchmarkDump100k(b *testing.B) {
	ns, path := newNetNS(b)
	be := openNS(b, path)
	ctx := context.Background()
	if err := be.Upsert(ctx, genSessions(benchN)); err != nil {
		b.Fatal(err)
	}
	_, err := exec.LookPath("conntrack")
	withCT := err == nil
	var samiD, ctD time.Duration
	b.ResetTimer()
	for i := range b.N {
		runSami := func() {
			b.StartTimer()
			t0 := time.Now()
			n := 0
			if err := be.Dump(ctx, func(*flow.Session) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			samiD += time.Since(t0)
			b.StopTimer()
			if n != benchN {
				b.Fatalf("dumped %d, want %d", n, benchN)
			}
		}
		runCT := func() {
			if !withCT {
				return
			}
			t0 := time.Now()
			if err := exec.Command("ip", "netns", "exec", ns, "conntrack", "-L", "-o", "extended").Run(); err != nil {
				b.Fatal(err)
			}
			ctD += time.Since(t0)
		}
		b.StopTimer()
		if i%2 == 0 {
			runSami()
			runCT()
		} else {
			runCT()
			runSami()
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(benchN)*n/samiD.Seconds(), "sessions/s")
	if withCT {
		b.ReportMetric(ctD.Seconds()*1000/n, "conntrack-L-ms")
		b.ReportMetric(float64(benchN)*n/ctD.Seconds(), "conntrack-L-sessions/s")
		b.ReportMetric(samiD.Seconds()/ctD.Seconds(), "sami/conntrack-L")
	}
}
