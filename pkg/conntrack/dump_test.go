package conntrack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"github.com/sami-netops/sami/pkg/flow"
)

// doneMessage is the NLMSG_DONE that ends a dump, with an error code.
func doneMessage(seq uint32, errno syscall.Errno) []byte {
	b := binary.NativeEndian.AppendUint32(nil, nlmsgHeaderLen+4)
	b = binary.NativeEndian.AppendUint16(b, nlmsgDone)
	b = binary.NativeEndian.AppendUint16(b, uint16(netlink.Multi))
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	return binary.NativeEndian.AppendUint32(b, uint32(-int32(errno)))
}

func TestDecodeDatagram(t *testing.T) {
	es := codecEntries(t)
	e1, e2 := es[0].e, es[len(es)-1].e
	var two []byte
	two = dumpMessage(two, e1, dumpSeq, netlink.Multi)
	two = dumpMessage(two, e2, dumpSeq, netlink.Multi)
	stop := errors.New("stop")
	tests := []struct {
		name    string
		b       []byte
		fnErr   error
		n       int  // sessions handed to fn
		done    bool // the decoder saw the end
		last    bool // the reader stops after this datagram
		wantErr error
	}{
		{"two entries", two, nil, 2, false, false, nil},
		{"two entries and done", append(append([]byte{}, two...), doneMessage(dumpSeq, 0)...), nil, 2, true, true, nil},
		{"done with an error", doneMessage(dumpSeq, syscall.ENOMEM), nil, 0, false, true, syscall.ENOMEM},
		{"error message", ackMessage(dumpSeq, syscall.EINVAL, true, "bad"), nil, 0, false, true, syscall.EINVAL},
		{"an acknowledgement", ackMessage(dumpSeq, 0, true, ""), nil, 0, false, false, nil},
		{"another request's answer", append(dumpMessage(nil, e1, dumpSeq+1, netlink.Multi), doneMessage(dumpSeq+1, 0)...), nil, 0, false, false, nil},
		{"interrupted", dumpMessage(nil, e1, dumpSeq, netlink.Multi|netlink.DumpInterrupted), nil, 0, false, false, errDumpInterrupted},
		{"fn fails", two, stop, 1, false, false, stop},
		{"truncated message", two[:len(two)-3], nil, 1, false, true, errBadMessage},
		{"entry without tuples", endRequest(beginRequest(nil, ipctnlMsgCtNew, netlink.Multi, dumpSeq, afINET)), nil, 0, false, false, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d entryDecoder
			var sb sessionBuilder
			n := 0
			done, err := decodeDatagram(tt.b, &d, &sb, func(*flow.Session) error { n++; return tt.fnErr })
			switch {
			case tt.wantErr == errAny && err == nil, tt.wantErr == nil && err != nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if n != tt.n || done != tt.done {
				t.Errorf("%d sessions, done %v; want %d, %v", n, done, tt.n, tt.done)
			}
			if last := lastOfDump(tt.b); last != tt.last {
				t.Errorf("lastOfDump = %v, want %v", last, tt.last)
			}
		})
	}
}

var errAny = errors.New("any error")

// FuzzDecodeEntry checks the in-place decoder and session conversion
// against the reference ones (netlink.AttributeDecoder, a ygot.* call per
// leaf): same success or failure, same entry, same session.
func FuzzDecodeEntry(f *testing.F) {
	for _, ne := range codecEntries(f) {
		f.Add(ne.e.family, ne.e.appendNew(nil))
	}
	withCounters := codecEntries(f)[0].e.appendNew(nil)
	var c int
	withCounters, c = beginNested(withCounters, ctaCountersOrig)
	withCounters = binary.BigEndian.AppendUint64(putAttrHeader(withCounters, ctaCountersPackets, 8), 5)
	withCounters = endNested(withCounters, c)
	var ts int
	withCounters, ts = beginNested(withCounters, ctaTimestamp)
	withCounters = binary.BigEndian.AppendUint64(putAttrHeader(withCounters, ctaTimestampStart, 8), uint64(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()))
	withCounters = endNested(withCounters, ts)
	f.Add(uint8(afINET), withCounters)
	f.Add(uint8(afINET6), []byte{})
	f.Fuzz(func(t *testing.T, family uint8, b []byte) {
		var d entryDecoder
		got, err := d.decode(family, b)
		want, wantErr := refDecodeEntry(family, b)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decode error %v, reference %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if diff := cmp.Diff(want, got, entryCmp...); diff != "" {
			t.Fatalf("entry differs from the reference (-ref +got):\n%s", diff)
		}
		var sb sessionBuilder
		s, err := sb.build(got)
		ws, wantErr := refToSession(want)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("session error %v, reference %v", err, wantErr)
		}
		if diff := cmp.Diff(ws, s); diff != "" {
			t.Fatalf("session differs from the reference (-ref +got):\n%s", diff)
		}
	})
}

// BenchmarkDecodeDatagrams measures the user-space side of a dump alone:
// parsing and converting 100k entries from datagrams of about 32 KiB.
func BenchmarkDecodeDatagrams(b *testing.B) {
	ss := genSessions(benchN)
	var grams [][]byte
	var cur []byte
	for _, s := range withReplies(b, ss) {
		e, err := fromSession(s, false)
		if err != nil {
			b.Fatal(err)
		}
		cur = dumpMessage(cur, e, dumpSeq, netlink.Multi)
		if len(cur) > 32<<10-256 {
			grams = append(grams, cur)
			cur = nil
		}
	}
	grams = append(grams, append(cur, doneMessage(dumpSeq, 0)...))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var d entryDecoder
		var sb sessionBuilder
		n := 0
		for _, g := range grams {
			if _, err := decodeDatagram(g, &d, &sb, func(*flow.Session) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if n != benchN {
			b.Fatalf("%d sessions", n)
		}
	}
	b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkDecodeDatagramsReference is BenchmarkDecodeDatagrams with the
// decoder and conversion this package had before (for comparison).
func BenchmarkDecodeDatagramsReference(b *testing.B) {
	var msgs [][]byte
	for _, s := range withReplies(b, genSessions(benchN)) {
		e, err := fromSession(s, false)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, e.appendNew(nil))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, m := range msgs {
			e, err := refDecodeEntry(afINET, m)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := refToSession(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkEncodeRequests measures the user-space side of an install:
// checking and encoding 100k sessions.
func BenchmarkEncodeRequests(b *testing.B) {
	ss := withReplies(b, genSessions(benchN))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		reqs := requests{off: make([]int, 1, len(ss)+1), buf: make([]byte, 0, len(ss)*requestSizeHint)}
		var eb entryBuilder
		for _, s := range ss {
			e, err := eb.build(s, false)
			if err != nil {
				b.Fatal(err)
			}
			reqs.add(ipctnlMsgCtNew, netlink.Request|netlink.Create, e.family, e.appendNew)
		}
	}
	b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// withReplies gives generated sessions the reply tuple a dump reports.
func withReplies(tb testing.TB, ss []*flow.Session) []*flow.Session {
	tb.Helper()
	for _, s := range ss {
		withReply(s)
	}
	return ss
}

// goroutines waits briefly for the count to fall to at most n and returns it.
func goroutines(n int) int {
	for range 100 {
		if g := runtime.NumGoroutine(); g <= n {
			return g
		}
		time.Sleep(10 * time.Millisecond)
	}
	return runtime.NumGoroutine()
}

// TestDumpLarge dumps a table of many datagrams (IPv4 and IPv6, several
// zones) and compares it with what was written.
func TestDumpLarge(t *testing.T) {
	_, path := newNetNS(t)
	b := openNS(t, path)
	ctx := context.Background()
	const n = 5000
	ss := genSessions(n)
	for i := 0; i < n; i += 3 {
		s := established(sb(uint16(i%5), 6, fmt.Sprintf("2001:db8::%x", i+1), uint16(1000+i), "2001:db8:1::1", 443, 600), 7, 8)
		ss[i] = s
	}
	ss = withReplies(t, ss)
	if err := b.Upsert(ctx, ss); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	got := dumpAll(t, b)
	stripVolatile(got)
	if r := flow.Diff(ss, got, flow.WithTimeoutTolerance(5*time.Second)); !r.Empty() {
		t.Errorf("dump of %d entries differs from what was written: %d missing, %d extra, %d changed, errors %v", n, len(r.Removed), len(r.Added), len(r.Changed), r.Errors)
	}
	if g := goroutines(before); g > before {
		t.Errorf("%d goroutines after the dump, %d before", g, before)
	}
}

// TestDumpStops: an error from fn or the end of ctx stops the dump at once
// (the reading goroutine included), and the backend stays usable.
func TestDumpStops(t *testing.T) {
	_, path := newNetNS(t)
	b := openNS(t, path)
	if err := b.Upsert(context.Background(), withReplies(t, genSessions(3000))); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		fn   func(n int) error
		want error
	}{
		{"fn fails", context.Background(), func(n int) error {
			if n == 100 {
				return stop
			}
			return nil
		}, stop},
		{"cancelled", ctx, func(n int) error {
			if n == 100 {
				cancel()
			}
			// At most the rest of the datagram being decoded (32 KiB)
			// after the cancellation.
			if n > 100+32<<10/150 {
				return fmt.Errorf("%d sessions after the cancellation", n-100)
			}
			return nil
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			n := 0
			err := b.Dump(tt.ctx, func(*flow.Session) error { n++; return tt.fn(n) })
			if !errors.Is(err, tt.want) {
				t.Errorf("Dump = %v after %d sessions, want %v", err, n, tt.want)
			}
			if g := goroutines(before); g > before {
				t.Errorf("%d goroutines after the dump, %d before", g, before)
			}
		})
	}
	if got := dumpAll(t, b); len(got) != 3000 {
		t.Errorf("dump after the stopped ones: %d sessions, want 3000", len(got))
	}
}
