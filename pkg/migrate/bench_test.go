package migrate_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/simfw"
)

// benchConfirmTimeout is generous: a benchmark measures speed, and a slow
// (loaded) machine must not turn into a confirm timeout.
const benchConfirmTimeout = 10 * time.Minute

// cpuTime is the CPU time (user + system) this process has used: the
// agents, their servers and the engine all run in it, so it measures the
// work of a migration independently of how loaded the machine is.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle waits until the process is idle (under 10% of a CPU for 200 ms,
// at most 2 minutes): seeding the tables keeps the agents busy for a while
// (their gNMI feeds), and that work must not be timed as the migration's.
func settle(b *testing.B) {
	const step = 200 * time.Millisecond
	deadline := time.Now().Add(2 * time.Minute)
	prev := cpuTime(b)
	for time.Now().Before(deadline) {
		time.Sleep(step)
		now := cpuTime(b)
		if now-prev < step/10 {
			return
		}
		prev = now
	}
	b.Log("settle: the process did not become idle")
}

// BenchmarkMigrate moves one endpoint's n sessions agent -> agent over
// NETCONF on loopback (simulated backends), back and forth, and reports the
// phases (ms per migration) next to the total, and the CPU time the
// process used per migration (agents, servers and engine together).
func BenchmarkMigrate(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			ctx := context.Background()
			l := newLab(b, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
			l.seed("fwA", vmSessions(vm, n)...)
			e := l.engine(migrate.WithConfirmTimeout(benchConfirmTimeout))
			phases := map[migrate.Phase]time.Duration{}
			src, dst := "fwA", "fwB"
			settle(b)
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				rep, err := e.Migrate(ctx, migrate.Request{Endpoints: endpoint(vm), Sources: []string{src}, Destinations: []string{dst}})
				if err != nil {
					b.Fatal(err)
				}
				if rep.Sessions != n {
					b.Fatalf("moved %d sessions, want %d", rep.Sessions, n)
				}
				for _, p := range rep.Phases {
					phases[p.Phase] += p.Duration
				}
				src, dst = dst, src
			}
			b.StopTimer()
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
			b.ReportMetric(float64((cpuTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			for p, d := range phases {
				b.ReportMetric(float64(d.Milliseconds())/float64(b.N), string(p)+"-ms")
			}
		})
	}
}

// BenchmarkPreCopyBlackout measures the freeze window of a pre-copy
// migration of an endpoint with 10k sessions (target: under 50 ms), with
// the rest of the table (40k sessions of other endpoints) in place.
func BenchmarkPreCopyBlackout(b *testing.B) {
	ctx := context.Background()
	l := newLab(b, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	l.seed("fwA", vmSessions(vm, 10_000)...)
	l.seed("fwA", vmSessions("10.7.7.7", 40_000)...)
	e := l.engine(migrate.WithConfirmTimeout(benchConfirmTimeout))
	src, dst := "fwA", "fwB"
	var blackout time.Duration
	phases := map[migrate.Phase]time.Duration{}
	settle(b)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for range b.N {
		rep, err := e.Migrate(ctx, migrate.Request{Kind: migrate.PreCopy, Endpoints: endpoint(vm), Sources: []string{src}, Destinations: []string{dst},
			Cutover: func(context.Context) error { return nil }})
		if err != nil {
			b.Fatal(err)
		}
		blackout += rep.Blackout
		for _, p := range rep.Phases {
			phases[p.Phase] += p.Duration
		}
		src, dst = dst, src
	}
	b.StopTimer()
	b.ReportMetric(float64(blackout.Microseconds())/1000/float64(b.N), "blackout-ms")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	for p, d := range phases {
		b.ReportMetric(float64(d.Milliseconds())/float64(b.N), string(p)+"-ms")
	}
}
