package flow_test

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/sami-netops/sami/pkg/flow"
)

const benchSessions = 100_000

// benchPopulation is built once: constructing 100k sessions takes longer than
// digesting them.
var benchPopulation = sync.OnceValue(func() []*flow.Session { return population(benchSessions) })

// settle collects the garbage of a benchmark's setup, so the measured loop
// does not pay for it; b.Loop starts the timer afterwards.
func settle() { runtime.GC() }

// reportRate reports sessions per second over all iterations.
func reportRate(b *testing.B, perOp int, iterations int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(perOp*iterations)/s, "sessions/s")
	}
}

// BenchmarkDigest digests 100k realistic sessions per operation.
func BenchmarkDigest(b *testing.B) {
	sessions := benchPopulation()
	settle()
	b.ReportAllocs()
	n := 0
	var d flow.Digester
	for b.Loop() {
		d.Reset()
		for _, s := range sessions {
			if err := d.Add(s); err != nil {
				b.Fatal(err)
			}
		}
		_ = d.Sum()
		n++
	}
	reportRate(b, len(sessions), n)
}

func BenchmarkKey(b *testing.B) {
	sessions := benchPopulation()
	settle()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, s := range sessions {
			if _, err := flow.Key(s); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	reportRate(b, len(sessions), n)
}

func BenchmarkMatcher(b *testing.B) {
	sessions := benchPopulation()
	m := flow.NewMatcher(
		flow.Endpoint{Address: netip.MustParseAddr("10.0.1.2")},
		flow.Endpoint{ID: "vm-000777"},
	)
	settle()
	b.ReportAllocs()
	n, matched := 0, 0
	for b.Loop() {
		matched = 0
		for _, s := range sessions {
			if m.Match(s) {
				matched++
			}
		}
		n++
	}
	if matched == 0 {
		b.Fatal("nothing matched")
	}
	reportRate(b, len(sessions), n)
}

// BenchmarkDiff compares two equal copies of 100k sessions, the expected
// outcome of a successful migration.
func BenchmarkDiff(b *testing.B) {
	a := benchPopulation()
	c := make([]*flow.Session, len(a))
	for i, s := range a {
		c[i] = clone(s)
		*c[i].Timers.Remaining--
	}
	settle()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if r := flow.Diff(a, c); !r.Empty() {
			b.Fatalf("copies differ: %d changed", len(r.Changed))
		}
		n++
	}
	reportRate(b, len(a), n)
}
