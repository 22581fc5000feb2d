package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Latency of one Append, acknowledged only once on disk. The durable case is
// the production setting: its floor is the disk's fsync, which
// BenchmarkFsync measures on the same file system for comparison. NoSync is
// what tests may use; it is not an option for a real journal.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	data := json.RawMessage(`{"persist_id":"sami-0123456789","digest":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","sessions":100000}`)
	for _, mode := range []struct {
		name string
		opts []Option
	}{{"durable", nil}, {"nosync", []Option{WithNoSync()}}} {
		b.Run(mode.name, func(b *testing.B) {
			j, _ := open(b, mode.opts...)
			mustCreate(b, j, &Record{ID: "bench"})
			for b.Loop() {
				if _, err := j.Append(ctx, "bench", Entry{Phase: "commit", Device: "fwB", Data: data}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// 50 migrations appending at once, each to its own record: group commit
// shares fsyncs between them. ns/op is per append (the inverse of
// throughput); us/append-latency is what each writer waits.
func BenchmarkAppendParallel(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []Option
	}{{"durable", nil}, {"nosync", []Option{WithNoSync()}}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			j, _ := open(b, mode.opts...)
			var n, waited atomic.Int64
			b.SetParallelism(25) // x GOMAXPROCS (2 here): 50 writers
			b.RunParallel(func(pb *testing.PB) {
				id := fmt.Sprintf("m%d", n.Add(1))
				if err := j.Create(ctx, &Record{ID: id}); err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					start := time.Now()
					if _, err := j.Append(ctx, id, Entry{Phase: "commit", Device: "fwB"}); err != nil {
						b.Error(err)
						return
					}
					waited.Add(int64(time.Since(start)))
				}
			})
			st := j.Stats()
			b.ReportMetric(float64(waited.Load())/float64(b.N)/1e3, "us/append-latency")
			b.ReportMetric(float64(st.Writes)/float64(st.Commits), "writes/commit")
		})
	}
}

// The floor under BenchmarkAppend/durable: write 200 bytes and fdatasync.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte("x"), 200)
	for b.Loop() {
		if _, err := f.WriteAt(buf, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

// A 32 MiB checkpoint (about 100k sessions), written durably over the
// previous one, and read back.
func BenchmarkCheckpoint(b *testing.B) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("<session><id>x</id></session>\n"), 32<<20/30)
	b.Run("put-32MiB", func(b *testing.B) {
		j, _ := open(b)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := j.PutCheckpoint(ctx, "fwA", t0, data); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if st, err := os.Stat(j.Path()); err == nil {
			b.ReportMetric(float64(st.Size())/(1<<20), "MiB-file")
		}
	})
	b.Run("get-32MiB", func(b *testing.B) {
		j, _ := open(b)
		if err := j.PutCheckpoint(ctx, "fwA", t0, data); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, _, err := j.Checkpoint(ctx, "fwA"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
