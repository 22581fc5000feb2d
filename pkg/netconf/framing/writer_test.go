package framing_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sami-netops/sami/pkg/netconf/framing"
)

// writeLog records every Write call.
type writeLog struct {
	bytes.Buffer
	calls   int
	flushes int
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

func (w *writeLog) Flush() error {
	w.flushes++
	return nil
}

func TestWriterEOM(t *testing.T) {
	var out writeLog
	w := framing.NewWriter(&out)
	for _, msg := range []string{"<hello/>", "", "a]]>b]]c]]>]]", "\n"} {
		m := w.NewMessage()
		if _, err := io.WriteString(m, msg); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	const want = "<hello/>]]>]]>]]>]]>a]]>b]]c]]>]]]]>]]>\n]]>]]>"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	if out.calls != 4 || out.flushes != 4 {
		t.Errorf("%d writes and %d flushes for 4 small messages, want one each", out.calls, out.flushes)
	}
}

func TestWriterChunked(t *testing.T) {
	var out writeLog
	w := framing.NewWriter(&out)
	w.SetChunked(true)
	m := w.NewMessage()
	io.WriteString(m, "<rpc")
	io.WriteString(m, "/>")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "\n#6\n<rpc/>\n##\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	if out.calls != 1 {
		t.Errorf("%d writes for a small message, want 1", out.calls)
	}
}

var chunkHeader = regexp.MustCompile(`\n#([0-9]+)\n`)

// chunkSizes parses a single chunked message and returns its chunk sizes.
func chunkSizes(t *testing.T, stream []byte) []int {
	t.Helper()
	var sizes []int
	for {
		if bytes.Equal(stream, []byte("\n##\n")) {
			return sizes
		}
		loc := chunkHeader.FindSubmatchIndex(stream)
		if loc == nil || loc[0] != 0 {
			t.Fatalf("no chunk header at %.20q", stream)
		}
		n, _ := strconv.Atoi(string(stream[loc[2]:loc[3]]))
		sizes = append(sizes, n)
		stream = stream[loc[1]+n:]
	}
}

func TestWriterChunkSizes(t *testing.T) {
	const k64 = 64 << 10
	for _, tc := range []struct {
		writes []int
		want   []int
	}{
		{[]int{1}, []int{1}},
		{[]int{k64}, []int{k64}}, // no empty chunk at Close
		{[]int{k64 - 1, 1}, []int{k64}},
		{[]int{k64 + 1}, []int{k64, 1}},
		{[]int{150000}, []int{k64, k64, 150000 - 2*k64}},
		{[]int{100, 0, 200, k64 * 2}, []int{k64, k64, 300}},
	} {
		var out writeLog
		w := framing.NewWriter(&out)
		w.SetChunked(true)
		m := w.NewMessage()
		for _, n := range tc.writes {
			if k, err := m.Write(bytes.Repeat([]byte{'x'}, n)); k != n || err != nil {
				t.Fatalf("Write(%d) = %d, %v", n, k, err)
			}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if got := chunkSizes(t, out.Bytes()); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("writes %v: chunks %v, want %v", tc.writes, got, tc.want)
		}
		if out.calls != len(tc.want) {
			t.Errorf("writes %v: %d Write calls, want one per chunk (%d)", tc.writes, out.calls, len(tc.want))
		}
	}
}

func TestWriterEmptyChunkedMessage(t *testing.T) {
	var out bytes.Buffer
	w := framing.NewWriter(&out)
	w.SetChunked(true)
	m := w.NewMessage()
	if err := m.Close(); !errors.Is(err, framing.ErrMalformed) {
		t.Fatalf("Close of an empty chunked message: %v, want ErrMalformed", err)
	}
	if out.Len() != 0 {
		t.Fatalf("wrote %q", out.String())
	}
	// Nothing was sent, so the Writer is still usable.
	if err := writeOne(w, "<ok/>"); err != nil {
		t.Fatal(err)
	}
	if out.String() != chunked("<ok/>") {
		t.Errorf("got %q", out.String())
	}
}

func writeOne(w *framing.Writer, s string) error {
	m := w.NewMessage()
	if _, err := io.WriteString(m, s); err != nil {
		return err
	}
	return m.Close()
}

func TestWriterRejectsMarkerInEOMMessage(t *testing.T) {
	for _, writes := range [][]string{
		{"<a x=']]>]]>'/>"},
		{"<a x=']]>]", "]>'/>"},
		{"<a x=']]", ">", "]", "", "]>'/>"},
		{"]]>]]>"},
		{"<a/>]]>"},     // would merge with the marker: "<a/>]]>]]>]]>"
		{"<a/>]", "]>"}, // the same, split
	} {
		var out bytes.Buffer
		w := framing.NewWriter(&out)
		m := w.NewMessage()
		var err error
		for _, s := range writes {
			if _, err = io.WriteString(m, s); err != nil {
				break
			}
		}
		if err == nil {
			err = m.Close()
		}
		if !errors.Is(err, framing.ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", writes, err)
		}
		if _, err2 := m.Write([]byte("x")); err2 == nil {
			t.Errorf("%q: Write after the failure succeeded", writes)
		}
		if out.Len() != 0 {
			t.Errorf("%q: wrote %q", writes, out.String())
		}
		// Nothing reached the stream: the Writer can go on.
		if err := writeOne(w, "<b/>"); err != nil || out.String() != "<b/>]]>]]>" {
			t.Errorf("%q: next message: %v, %q", writes, err, out.String())
		}
	}
	// In chunked mode any bytes go.
	var out bytes.Buffer
	w := framing.NewWriter(&out)
	w.SetChunked(true)
	if err := writeOne(w, "]]>]]>"); err != nil {
		t.Errorf("chunked: %v", err)
	}
}

func TestWriterMarkerAfterPartialSend(t *testing.T) {
	var out bytes.Buffer
	w := framing.NewWriter(&out)
	m := w.NewMessage()
	if _, err := m.Write(bytes.Repeat([]byte("x"), 100000)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Write([]byte("]]>]]>")); !errors.Is(err, framing.ErrMalformed) {
		t.Fatalf("got %v", err)
	}
	// 64 KiB of the message is on the wire: the stream is broken for good.
	err := writeOne(w, "<next/>")
	if !errors.Is(err, framing.ErrMalformed) || !strings.Contains(err.Error(), "abandoned after part of it was sent") {
		t.Errorf("next message: %v", err)
	}
}

func TestWriterOneMessageAtATime(t *testing.T) {
	var out bytes.Buffer
	w := framing.NewWriter(&out)
	first := w.NewMessage()
	io.WriteString(first, "<a")
	second := w.NewMessage()
	if _, err := io.WriteString(second, "<b/>"); !errors.Is(err, framing.ErrClosed) {
		t.Errorf("Write to a second open message: %v, want ErrClosed", err)
	}
	if err := second.Close(); !errors.Is(err, framing.ErrClosed) {
		t.Errorf("Close of the second message: %v, want ErrClosed", err)
	}
	io.WriteString(first, "/>")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if _, err := first.Write([]byte("x")); !errors.Is(err, framing.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if err := writeOne(w, "<c/>"); err != nil {
		t.Fatal(err)
	}
	if want := "<a/>]]>]]><c/>]]>]]>"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("connection reset")
	}
	f.after--
	return len(p), nil
}

func TestWriterErrorsAreSticky(t *testing.T) {
	w := framing.NewWriter(&failWriter{after: 1})
	w.SetChunked(true)
	if err := writeOne(w, "<a/>"); err != nil {
		t.Fatal(err)
	}
	err := writeOne(w, "<b/>")
	if err == nil || err.Error() != "connection reset" {
		t.Fatalf("got %v", err)
	}
	m := w.NewMessage()
	if _, err2 := m.Write([]byte("x")); err2 != err {
		t.Errorf("Write after a failure: %v", err2)
	}
	// A write error in the middle of a big Write reports what was sent.
	w = framing.NewWriter(&failWriter{after: 1})
	m = w.NewMessage()
	n, err := m.Write(make([]byte, 200000))
	if err == nil || n != 64<<10 {
		t.Errorf("Write = %d, %v; want %d and an error", n, err, 64<<10)
	}
}

func TestWriterFlushesBufio(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := framing.NewWriter(bw)
	if err := writeOne(w, "<a/>"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "<a/>]]>]]>" {
		t.Errorf("after Close the underlying buffer holds %q", out.String())
	}
}

// TestRoundTrip writes random messages of 0..1 MiB with a Writer and reads
// them back, in both framings, with random write and read sizes.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, chunkedMode := range []bool{false, true} {
		var msgs [][]byte
		for i := range 24 {
			var n int
			switch i % 3 {
			case 0:
				n = rng.IntN(100)
			case 1:
				n = rng.IntN(100 << 10)
			default:
				n = rng.IntN(1 << 20)
			}
			if i == 0 && !chunkedMode {
				n = 0 // the empty message, where it can be framed
			}
			msg := make([]byte, n)
			for j := range msg {
				msg[j] = byte(rng.Uint32())
			}
			if n == 0 && chunkedMode || !chunkedMode && !eomFramable(msg) {
				continue
			}
			msgs = append(msgs, msg)
		}
		for _, piece := range []int{0, 1 + rng.IntN(1000), 1 + rng.IntN(200000)} {
			var stream bytes.Buffer
			if err := writeMessages(&stream, chunkedMode, msgs, piece); err != nil {
				t.Fatal(err)
			}
			sizes := make([]byte, 16)
			for i := range sizes {
				sizes[i] = byte(rng.Uint32())
			}
			for _, src := range []io.Reader{
				bytes.NewReader(stream.Bytes()),
				&patternReader{data: stream.Bytes(), sizes: sizes},
			} {
				r := framing.NewReader(src, framing.WithMaxMessageSize(1<<20))
				r.SetChunked(chunkedMode)
				got := readMessages(r, 1+rng.IntN(100000), -1)
				want := readResult{err: io.EOF}
				for _, m := range msgs {
					want.msgs = append(want.msgs, string(m))
				}
				if err := sameOutcome(got, want); err != nil {
					t.Fatalf("chunked=%v, pieces of %d: %v (%v)", chunkedMode, piece, err, got.err)
				}
			}
		}
	}
}
