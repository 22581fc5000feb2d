package migrate_test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
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
// migration of an endpoint with 10k sessions (target: under 50 ms, not
// growing with the table), alone in the table and next to 40k sessions of
// other endpoints. The endpoint's flows carry traffic until the cutover
// (one of its sessions touched at the source every 2 ms), so every round,
// the last one in the freeze included, has changes to write.
func BenchmarkPreCopyBlackout(b *testing.B) {
	for _, others := range []int{0, 40_000} {
		b.Run(fmt.Sprintf("table=%dk", (10_000+others)/1000), func(b *testing.B) {
			ctx := context.Background()
			l := newLab(b, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
			moving := vmSessions(vm, 10_000)
			l.seed("fwA", moving...)
			if others > 0 {
				l.seed("fwA", vmSessions("10.7.7.7", others)...)
			}
			e := l.engine(migrate.WithConfirmTimeout(benchConfirmTimeout))
			src, dst := "fwA", "fwB"
			var blackout time.Duration
			var late, rounds, frozen int
			phases := map[migrate.Phase]time.Duration{}
			settle(b)
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				stop := traffic(l.fws[src], moving)
				rep, err := e.Migrate(ctx, migrate.Request{Kind: migrate.PreCopy, Endpoints: endpoint(vm), Sources: []string{src}, Destinations: []string{dst},
					Cutover: func(context.Context) error { stop(); return nil }})
				stop()
				if err != nil {
					b.Fatal(err)
				}
				blackout += rep.Blackout
				late += rep.Late
				rounds += rep.Rounds
				frozen += rep.FreezeDelta
				for _, p := range rep.Phases {
					phases[p.Phase] += p.Duration
				}
				src, dst = dst, src
			}
			b.StopTimer()
			b.ReportMetric(float64(blackout.Microseconds())/1000/float64(b.N), "blackout-ms")
			b.ReportMetric(float64(late)/float64(b.N), "late/op")
			b.ReportMetric(float64(rounds)/float64(b.N), "rounds/op")
			b.ReportMetric(float64(frozen)/float64(b.N), "freeze-delta/op")
			b.ReportMetric(float64((cpuTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			for p, d := range phases {
				b.ReportMetric(float64(d.Milliseconds())/float64(b.N), string(p)+"-ms")
			}
		})
	}
}

// traffic touches the sessions ss at fw, one every 2 ms in turn, until the
// returned stop is called (it may be called more than once).
func traffic(fw *simfw.Firewall, ss []*flow.Session) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-t.C:
				fw.Touch(ss[i%len(ss)].GetId(), 1, 100)
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
