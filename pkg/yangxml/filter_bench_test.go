package yangxml_test

import (
	"io"
	"testing"

	"github.com/sami-netops/sami/pkg/yangxml"
)

// BenchmarkEncodeFiltered100k: <get> replies from 100k sessions. "key"
// selects one session by its key (a map lookup, so microseconds whatever
// the table size); "sessions" selects the whole list and must cost what the
// unfiltered encode ("none") costs; "protocol" is a content match on a
// non-key leaf, which scans every entry (none of the 100k match, so it
// measures the scan alone).
func BenchmarkEncodeFiltered100k(b *testing.B) {
	d, _ := benchData(b)
	c := newCodec(b)
	var oneID string
	for id := range d.GetFlowState().GetSessions().Session {
		oneID = id
		break
	}
	cases := []struct{ name, filter string }{
		{"none", ""},
		{"sessions", fs0(`<sessions/>`)},
		{"key", sess0(`<session><id>` + oneID + `</id></session>`)},
		{"protocol", sess0(`<session><protocol>17</protocol></session>`)},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			opts := []yangxml.EncodeOption{yangxml.Wrapper("data")}
			if bc.name != "none" {
				flt, err := c.ParseSubtreeFilter([]byte(bc.filter), nil)
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, yangxml.WithFilter(flt))
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Encode(io.Discard, d, opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseSubtreeFilter: compiling the single-key filter.
func BenchmarkParseSubtreeFilter(b *testing.B) {
	c := newCodec(b)
	f := []byte(sess0(`<session><id>0/6/10.0.0.1/1/10.0.0.2/2</id><tcp><state/></tcp></session>`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ParseSubtreeFilter(f, nil); err != nil {
			b.Fatal(err)
		}
	}
}
