package ietfnat

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
)

// benchSessions are n distinct source-NATed TCP flows, as a conntrack
// reader reports them (with reply).
func benchSessions(tb testing.TB, n int) []*flow.Session {
	out := make([]*flow.Session, n)
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := range n {
		a := base
		a[1], a[2], a[3] = byte(i>>16), byte(i>>8), byte(i)
		src := netip.AddrFrom4(a).String()
		s := &flow.Session{
			AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
			Protocol:      ygot.Uint8(6),
			Original: &origC{SourceAddress: ygot.String(src), DestinationAddress: ygot.String("198.51.100.20"),
				SourcePort: ygot.Uint16(uint16(1024 + i%60000)), DestinationPort: ygot.Uint16(443)},
			Nat: &natC{Source: &natSrc{InternalSrcAddress: ygot.String(src), ExternalSrcAddress: ygot.String("203.0.113.7"),
				InternalSrcPort: ygot.Uint16(uint16(1024 + i%60000)), ExternalSrcPort: ygot.Uint16(uint16(i % 65536))}},
			Timers: &timersC{Remaining: ygot.Uint32(300)},
		}
		s.Reply = deriveReply(s)
		if err := flow.SetKey(s); err != nil {
			tb.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func benchDoc(tb testing.TB, ss []*flow.Session) []byte {
	b := []byte(`<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">` + natOpen)
	for _, s := range ss {
		e, err := Mapping{}.Entry(s)
		if err != nil {
			tb.Fatal(err)
		}
		b = appendEntry(b, e, "", false)
	}
	return append(b, natClose+"</data>"...)
}

// BenchmarkDecodeSessions: XML of 100k mapping entries -> sessions, one at
// a time (the work of Read on the client).
func BenchmarkDecodeSessions(b *testing.B) {
	doc := benchDoc(b, benchSessions(b, 100_000))
	b.SetBytes(int64(len(doc)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		_, err := DecodeMappingTable(bytes.NewReader(doc), 1, func(e *Entry) error {
			if _, err := (Mapping{}).Session(e); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil || n != 100_000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkEntryStrict: session -> entry with the check that nothing is
// lost (what Stage does per session), against the lossy conversion.
func BenchmarkEntryStrict(b *testing.B) {
	ss := benchSessions(b, 10_000)
	for _, lossy := range []bool{false, true} {
		b.Run(fmt.Sprintf("lossy=%v", lossy), func(b *testing.B) {
			d := &Driver{opts: options{lossy: lossy}}
			for b.Loop() {
				for _, s := range ss {
					if _, _, err := d.convert(s); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(ss)*b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}

// BenchmarkReadFake: Read of 100k sessions streamed over NETCONF/SSH on
// loopback from a server that only replays the reply.
func BenchmarkReadFake(b *testing.B) {
	ss := benchSessions(b, 100_000)
	doc := benchDoc(b, ss)
	f := newFake()
	f.get = string(doc[len(`<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`) : len(doc)-len("</data>")])
	d := benchOpen(b, serveFake(b, f))
	b.SetBytes(int64(len(f.get)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := d.Read(b.Context(), nil, func(*flow.Session) error { n++; return nil }); err != nil || n != len(ss) {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(len(ss)*b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// BenchmarkNetconfd: Stage + Commit, then Read back, of 2k sessions on a
// real yuma123 netconfd (each iteration removes them again). netconfd's
// list handling is superlinear in the list size (stage + commit of 1k
// entries 0.3 s, 2k 0.9 s, 4k 10 s, 10k 171 s on a 2 vCPU machine, about
// the same with operation merge or create), so larger tables measure
// netconfd, not the driver.
func BenchmarkNetconfd(b *testing.B) {
	dir := vendorIETF(b)
	nd := startNetconfdB(b, dir)
	cfg := natConfig(b, nd)
	cfg.Logger = nil
	d := benchOpen(b, cfg)
	ss := benchSessions(b, 2_000)
	ctx := b.Context()
	var stage, read time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := d.Stage(ctx, slices.Values(ss)); err != nil {
			b.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		n := 0
		if err := d.Read(ctx, nil, func(*flow.Session) error { n++; return nil }); err != nil || n != len(ss) {
			b.Fatal(n, err)
		}
		t2 := time.Now()
		stage, read = stage+t1.Sub(t0), read+t2.Sub(t1)
		b.StopTimer()
		if err := d.Remove(ctx, idsOf(ss)); err != nil {
			b.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(len(ss)*b.N)/stage.Seconds(), "staged+committed/s")
	b.ReportMetric(float64(len(ss)*b.N)/read.Seconds(), "read/s")
}
