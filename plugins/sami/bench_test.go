package sami_test

import (
	"context"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/plugins/sami"
)

// sessionsFrom yields n test sessions starting at from, built as they are
// consumed.
func sessionsFrom(from, n int) iter.Seq[*flow.Session] {
	return func(yield func(*flow.Session) bool) {
		for i := from; i < from+n; i++ {
			if !yield(devicetest.Session(i)) {
				return
			}
		}
	}
}

var benchSizes = []int{10_000, 100_000}

// BenchmarkRead: the whole table of an agent on loopback, decoded session
// by session.
func BenchmarkRead(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			a, fw := agenttest.StartSim(b, "fw1", simfw.Vendors()["sami-sim"], agenttest.WithoutGNMI())
			batch := make([]*flow.Session, 0, n)
			for s := range sessionsFrom(0, n) {
				batch = append(batch, s)
			}
			if err := fw.Upsert(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = nil
			d, err := sami.Open(ctx, a.Config())
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			b.ResetTimer()
			for b.Loop() {
				got := 0
				if err := d.Read(ctx, nil, func(*flow.Session) error { got++; return nil }); err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("read %d sessions, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}

// BenchmarkStageCommit: the engine's write of n new sessions to an agent
// on loopback: lock, stage (streamed), confirmed commit, confirm, unlock.
// The device is emptied between iterations, off the clock.
func BenchmarkStageCommit(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			a, fw := agenttest.StartSim(b, "fw1", simfw.Vendors()["sami-sim"], agenttest.WithoutGNMI())
			d, err := sami.Open(ctx, a.Config())
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			b.ResetTimer()
			for b.Loop() {
				steps := []func() error{
					func() error { return d.Lock(ctx) },
					func() error { return d.Stage(ctx, sessionsFrom(0, n)) },
					func() error { return d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute}) },
					func() error { return d.Confirm(ctx, "") },
					func() error { return d.Unlock(ctx) },
				}
				for _, step := range steps {
					if err := step(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if fw.Len() != n {
					b.Fatalf("device holds %d sessions, want %d", fw.Len(), n)
				}
				if err := fw.Delete(ctx, fw.Snapshot()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}
