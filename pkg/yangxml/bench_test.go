package yangxml_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"sync"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/yangxml"
)

const benchSessions = 100_000

var (
	benchOnce sync.Once
	benchDev  *device
	benchXML  []byte
)

// benchData builds 100k realistic sessions (TCP with SNAT, per-direction TCP
// tracking, timers, labels, owner, 64-bit counters) and their XML.
func benchData(b *testing.B) (*device, []byte) {
	benchOnce.Do(func() {
		benchDev = &device{}
		ss := benchDev.GetOrCreateFlowState().GetOrCreateSessions()
		for i := range benchSessions {
			s := sampleSession(i)
			s.Original.SourceAddress = ygot.String(ipv4(i))
			s.Owner.EndpointAddress = s.Original.SourceAddress
			s.Nat.Source.InternalSrcAddress = s.Original.SourceAddress
			s.Id = ygot.String(sessionID(s))
			if err := ss.AppendSession(s); err != nil {
				panic(err)
			}
		}
		c := newCodec(b)
		var err error
		benchXML, err = c.Marshal(benchDev, yangxml.Wrapper("data"))
		if err != nil {
			panic(err)
		}
	})
	return benchDev, benchXML
}

func ipv4(i int) string {
	return "10." + itoa(i>>16&255) + "." + itoa(i>>8&255) + "." + itoa(i&255)
}

func itoa(v int) string { return u16(uint16(v)) }

func report(b *testing.B, n int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

func BenchmarkDecode100k(b *testing.B) {
	_, doc := benchData(b)
	c := newCodec(b)
	b.Run("tree", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			d := &device{}
			if err := c.Unmarshal(doc, d); err != nil {
				b.Fatal(err)
			}
		}
		report(b, benchSessions)
	})
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			err := c.NewDecoder(bytes.NewReader(doc), yangxml.WithListHandler("/flow-state/sessions/session", func(ygot.GoStruct) error {
				n++
				return nil
			})).Decode(&device{})
			if err != nil || n != benchSessions {
				b.Fatal(err, n)
			}
		}
		report(b, benchSessions)
	})
}

func BenchmarkEncode100k(b *testing.B) {
	d, doc := benchData(b)
	c := newCodec(b)
	b.Run("marshal", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Encode(io.Discard, d, yangxml.Wrapper("config"), yangxml.ConfigOnly()); err != nil {
				b.Fatal(err)
			}
		}
		report(b, benchSessions)
	})
	entries := make([]*session, 0, benchSessions)
	for _, s := range d.FlowState.Sessions.Session {
		entries = append(entries, s)
	}
	b.Run("list-encoder", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			le, err := c.NewListEncoder(io.Discard, "/flow-state/sessions/session", yangxml.Wrapper("config"), yangxml.ConfigOnly())
			if err != nil {
				b.Fatal(err)
			}
			for _, s := range entries {
				if err := le.Encode(s); err != nil {
					b.Fatal(err)
				}
			}
			if err := le.Close(); err != nil {
				b.Fatal(err)
			}
		}
		report(b, benchSessions)
	})
}

// flatSession is what encoding/xml can do without a schema: fixed fields,
// no types beyond strings and numbers, no validation. It is the floor.
type flatSession struct {
	ID       string `xml:"id"`
	Family   string `xml:"address-family"`
	Protocol uint8  `xml:"protocol"`
	Original struct {
		Src   string `xml:"source-address"`
		Dst   string `xml:"destination-address"`
		SPort uint16 `xml:"source-port"`
		DPort uint16 `xml:"destination-port"`
	} `xml:"original"`
	Reply struct {
		Src   string `xml:"source-address"`
		Dst   string `xml:"destination-address"`
		SPort uint16 `xml:"source-port"`
		DPort uint16 `xml:"destination-port"`
	} `xml:"reply"`
	Mark     uint32   `xml:"mark"`
	Labels   []uint8  `xml:"label"`
	Status   []string `xml:"status"`
	TCPState string   `xml:"tcp>state"`
	Flags    []string `xml:"tcp>original>flags"`
	Wscale   uint8    `xml:"tcp>original>window-scale"`
	Remain   uint32   `xml:"timers>remaining"`
	Packets  uint64   `xml:"counters>original>packets"`
}

type flatDoc struct {
	Sessions []flatSession `xml:"flow-state>sessions>session"`
}

func BenchmarkEncodingXMLFloor100k(b *testing.B) {
	_, doc := benchData(b)
	b.Run("unmarshal-flat-struct", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			var d flatDoc
			if err := xml.Unmarshal(doc, &d); err != nil || len(d.Sessions) != benchSessions {
				b.Fatal(err, len(d.Sessions))
			}
		}
		report(b, benchSessions)
	})
	b.Run("raw-tokens", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			xd := xml.NewDecoder(bytes.NewReader(doc))
			for {
				if _, err := xd.RawToken(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, benchSessions)
	})
}
