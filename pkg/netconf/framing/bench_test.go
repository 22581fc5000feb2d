package framing_test

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/sami-netops/sami/pkg/netconf/framing"
)

const benchSize = 50 << 20

// benchMessage returns a ~50 MB <rpc-reply> of flow entries, and the
// message framed both ways.
var benchMessage = sync.OnceValues(func() ([]byte, map[bool][]byte) {
	var msg bytes.Buffer
	msg.WriteString(`<rpc-reply message-id="7" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><data><flow-state xmlns="urn:sami:flow-state"><sessions>`)
	for i := 0; msg.Len() < benchSize; i++ {
		fmt.Fprintf(&msg, "<session><id>%d</id><original><source-address>10.%d.%d.%d</source-address><source-port>%d</source-port>"+
			"<destination-address>192.0.2.%d</destination-address><destination-port>443</destination-port></original>"+
			"<protocol>6</protocol><timers><timeout>3600</timeout></timers></session>\n",
			i, i>>16&255, i>>8&255, i&255, 1024+i%60000, i%250)
	}
	msg.WriteString(`</sessions></flow-state></data></rpc-reply>`)
	framed := map[bool][]byte{}
	for _, chunkedMode := range []bool{false, true} {
		var out bytes.Buffer
		if err := writeMessages(&out, chunkedMode, [][]byte{msg.Bytes()}, 64<<10); err != nil {
			panic(err)
		}
		framed[chunkedMode] = out.Bytes()
	}
	return msg.Bytes(), framed
})

// onlyReader hides bytes.Reader's WriterTo, so copies go through the buffer.
type onlyReader struct{ io.Reader }

// BenchmarkMemcpy is the baseline: the same bytes copied through a 64 KiB
// buffer with no framing at all.
func BenchmarkMemcpy(b *testing.B) {
	msg, _ := benchMessage()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		src := onlyReader{bytes.NewReader(msg)}
		for {
			if _, err := src.Read(buf); err == io.EOF {
				break
			}
		}
	}
}

func BenchmarkRead(b *testing.B) {
	msg, framed := benchMessage()
	for _, chunkedMode := range []bool{false, true} {
		for _, readLen := range []int{64 << 10, 4 << 10} {
			name := fmt.Sprintf("%s/read%dK", modeName(chunkedMode), readLen>>10)
			b.Run(name, func(b *testing.B) {
				buf := make([]byte, readLen)
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					r := framing.NewReader(bytes.NewReader(framed[chunkedMode]))
					r.SetChunked(chunkedMode)
					m, err := r.NextMessage()
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for {
						k, err := m.Read(buf)
						n += k
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					if n != len(msg) {
						b.Fatalf("read %d bytes, want %d", n, len(msg))
					}
				}
			})
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	msg, _ := benchMessage()
	for _, chunkedMode := range []bool{false, true} {
		b.Run(modeName(chunkedMode), func(b *testing.B) {
			w := framing.NewWriter(io.Discard)
			w.SetChunked(chunkedMode)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				m := w.NewMessage()
				for rest := msg; len(rest) > 0; {
					n := min(len(rest), 64<<10)
					if _, err := m.Write(rest[:n]); err != nil {
						b.Fatal(err)
					}
					rest = rest[n:]
				}
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func modeName(chunkedMode bool) string {
	if chunkedMode {
		return "chunked"
	}
	return "eom"
}
