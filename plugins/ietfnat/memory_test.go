package ietfnat

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/sami-netops/sami/pkg/flow"
)

// TestReadMemoryBounded: Read decodes the reply one entry at a time, so
// reading 100k sessions (a 54 MB reply) grows the heap by a bounded amount
// (measured: +3 MB for 10k, +8 MB for 100k), not by the table.
func TestReadMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 54 MB reply")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(10)) // garbage would hide what is live
	f := newFake()
	f.chunked = true // the fake streams its reply: no copy of it in this process
	doc := benchDoc(t, benchSessions(t, 100_000))
	f.get = string(doc[len(`<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`) : len(doc)-len("</data>")])
	doc = nil
	d := fakeDriver(t, f, nil)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	n := 0
	err := d.Read(ctxT(t), nil, func(*flow.Session) error {
		if n++; n%1000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		return nil
	})
	if err != nil || n != 100_000 {
		t.Fatalf("Read: %d sessions, %v", n, err)
	}
	t.Logf("reply %d MB; heap in use %d MB before, %d MB at most during the read", len(f.get)>>20, base>>20, peak>>20)
	if grew := peak - base; grew > 32<<20 {
		t.Errorf("the heap grew by %d MB while reading a %d MB reply: the read is not streamed", grew>>20, len(f.get)>>20)
	}
}
