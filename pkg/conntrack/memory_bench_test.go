package conntrack

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
)

// BenchmarkDumpMemory dumps tables of 100k and 1M entries and reports the
// peak of the heap in use during the dump above what it was before: the
// dump is streamed through fixed buffers, so the peak must not grow with
// the table (the design's "1M sessions streamed within a fixed budget").
// The 1M table needs nf_conntrack_max raised (a global setting): it is set
// for the run and restored after.
func BenchmarkDumpMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			raiseConntrackMax(b, n+n/10)
			_, path := newNetNS(b)
			be := openNS(b, path)
			ctx := context.Background()
			// Fill in chunks: 1M session structs at once would be the
			// test's own memory, not the dump's.
			const chunk = 50_000
			for i := 0; i < n; i += chunk {
				if err := be.Upsert(ctx, genSessionsFrom(i, min(chunk, n-i))); err != nil {
					b.Fatal(err)
				}
			}
			var peak, allocs uint64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				runtime.GC()
				base := heapInUse()
				stop := sampleHeap(&peak, base)
				a0 := heapAllocs()
				b.StartTimer()
				got := 0
				if err := be.Dump(ctx, func(*flow.Session) error { got++; return nil }); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				stop()
				allocs += heapAllocs() - a0
				if got != n {
					b.Fatalf("dumped %d, want %d", got, n)
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(allocs)/float64(b.N)/float64(n), "alloc-B/session")
		})
	}
}

// raiseConntrackMax sets nf_conntrack_max to at least n for the benchmark.
func raiseConntrackMax(tb testing.TB, n int) {
	tb.Helper()
	requireRoot(tb)
	const p = "/proc/sys/net/netfilter/nf_conntrack_max"
	raw, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	was, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		tb.Fatal(err)
	}
	if was >= n {
		return
	}
	if err := os.WriteFile(p, []byte(strconv.Itoa(n)), 0o644); err != nil {
		tb.Fatalf("raising nf_conntrack_max to %d: %v", n, err)
	}
	tb.Cleanup(func() {
		if err := os.WriteFile(p, []byte(strconv.Itoa(was)), 0o644); err != nil {
			tb.Errorf("restoring nf_conntrack_max to %d: %v", was, err)
		}
	})
}

// sampleHeap records, every millisecond until the returned stop is
// called, the largest heap in use above base into *peak.
func sampleHeap(peak *uint64, base uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if h := heapInUse(); h > base && h-base > *peak {
				*peak = h - base
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func heapInUse() uint64  { return readMetric("/memory/classes/heap/objects:bytes") }
func heapAllocs() uint64 { return readMetric("/gc/heap/allocs:bytes") }

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
