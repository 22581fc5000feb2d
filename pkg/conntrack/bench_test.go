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
func genSessions(n int) []*flow.Session {
	ss := make([]*flow.Session, n)
	base := netip.MustParseAddr("10.64.0.0").As4()
	for i := range n {
		a := base
		a[2], a[3] = byte(i>>16), byte(i>>8)
		src := netip.AddrFrom4(a).String()
		ss[i] = established(sb(0, 6, src, uint16(1024+i%60000), "10.128.0.1", 443, 3600), 7, 7)
		if err := flow.SetKey(ss[i]); err != nil {
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

func BenchmarkDump100k(b *testing.B) {
	ns, path := newNetNS(b)
	be := openNS(b, path)
	ctx := context.Background()
	if err := be.Upsert(ctx, genSessions(benchN)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := be.Dump(ctx, func(*flow.Session) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != benchN {
			b.Fatalf("dumped %d, want %d", n, benchN)
		}
	}
	b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "sessions/s")
	b.StopTimer()
	if _, err := exec.LookPath("conntrack"); err == nil {
		start := time.Now()
		if err := exec.Command("ip", "netns", "exec", ns, "conntrack", "-L", "-o", "extended").Run(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds()*1000, "conntrack-L-ms")
		b.ReportMetric(float64(benchN)/time.Since(start).Seconds(), "conntrack-L-sessions/s")
	}
}
