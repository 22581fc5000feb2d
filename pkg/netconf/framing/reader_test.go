package framing_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sami-netops/sami/pkg/netconf/framing"
)

type readCase struct {
	name    string
	chunked bool
	max     int64
	in      string
	want    []string // messages read to their end
	err     error    // the final error, by errors.Is (io.EOF: clean end)
	errText string   // if set, the final error's text from an unsplit read must contain it
}

var eomCases = []readCase{
	{name: "single", in: "<hello/>]]>]]>", want: []string{"<hello/>"}, err: io.EOF},
	{name: "multiple", in: "<a/>]]>]]><b/>]]>]]><c/>]]>]]>", want: []string{"<a/>", "<b/>", "<c/>"}, err: io.EOF},
	{name: "empty stream", in: "", err: io.EOF},
	{name: "empty message", in: "]]>]]>", want: []string{""}, err: io.EOF},
	{name: "empty messages", in: "]]>]]>]]>]]>x]]>]]>", want: []string{"", "", "x"}, err: io.EOF},
	{name: "marker fragments", in: "a]]>b]]c>]>]]]>]]]]>]]>", want: []string{"a]]>b]]c>]>]]]>]]"}, err: io.EOF},
	{name: "overlapping marker", in: "x]]>y]]]>]]>", want: []string{"x]]>y]"}, err: io.EOF},
	{name: "overlapping marker at start", in: "]]>]]]>]]>", want: []string{"]]>]"}, err: io.EOF},
	{name: "chunk syntax is data", in: "\n#5\nabc\n##\n]]>]]>", want: []string{"\n#5\nabc\n##\n"}, err: io.EOF},
	{name: "whitespace kept", in: "\n<a/>\n]]>]]>\n  <b/>]]>]]>", want: []string{"\n<a/>\n", "\n  <b/>"}, err: io.EOF},
	{name: "trailing whitespace", in: "<a/>]]>]]>\n\t \r\n", want: []string{"<a/>"}, err: io.EOF},
	{name: "whitespace only", in: " \n", err: io.EOF},
	{name: "whitespace message", in: " \n]]>]]>", want: []string{" \n"}, err: io.EOF},
	{name: "eof mid message", in: "<a/>]]>]]><b", want: []string{"<a/>"}, err: io.ErrUnexpectedEOF},
	{name: "eof mid marker", in: "<a/>]]>]]", err: io.ErrUnexpectedEOF},
	{name: "eof after whitespace and data", in: "\n x", err: io.ErrUnexpectedEOF},
	{name: "max exact", max: 4, in: "<a/>]]>]]>abcd]]>]]>", want: []string{"<a/>", "abcd"}, err: io.EOF},
	{name: "max exceeded", max: 4, in: "<a/>]]>]]>abcde]]>]]>", want: []string{"<a/>"}, err: framing.ErrTooLarge, errText: "framing: message too large: more than 4 bytes"},
	{name: "max exceeded unterminated", max: 4, in: "abcdef", err: framing.ErrTooLarge},
}

var chunkedCases = []readCase{
	{name: "single", in: chunked("<rpc/>"), want: []string{"<rpc/>"}, err: io.EOF},
	{name: "chunks", in: chunked("<r", "p", "c/>"), want: []string{"<rpc/>"}, err: io.EOF},
	{name: "back to back", in: chunked("a") + chunked("bc", "d") + chunked("e"), want: []string{"a", "bcd", "e"}, err: io.EOF},
	{name: "empty stream", in: "", err: io.EOF},
	{name: "framing bytes in data", in: chunked("\n##\n", "#", "\n#3\nabc", "]]>]]>"), want: []string{"\n##\n#\n#3\nabc]]>]]>"}, err: io.EOF},
	{name: "ten digit size", in: "\n#4294967295\nabc", err: io.ErrUnexpectedEOF},
	{name: "size 1000000000", in: "\n#1000000000\n", err: io.ErrUnexpectedEOF},
	{name: "max exact", max: 5, in: chunked("ab", "cde"), want: []string{"abcde"}, err: io.EOF},
	{name: "max exceeded", max: 5, in: chunked("ab", "cdef"), err: framing.ErrTooLarge, errText: "chunk of 4 bytes at stream offset 6 would make the message 6 bytes, limit 5"},
	{name: "max exceeded in second message", max: 3, in: chunked("abc") + chunked("abcd"), want: []string{"abc"}, err: framing.ErrTooLarge},

	{name: "size 0", in: "\n#0\n\n##\n", err: framing.ErrMalformed, errText: `framing: malformed: chunk size is 0 (stream offset 0)`},
	{name: "leading zero", in: "\n#01\na\n##\n", err: framing.ErrMalformed, errText: `chunk size "01" has a leading zero`},
	{name: "hex", in: "\n#0x10\n0123456789abcdef\n##\n", err: framing.ErrMalformed, errText: `framing: malformed: chunk size "0x10" is not a decimal number (stream offset 0)`},
	{name: "non-digit", in: "\n#1a\na\n##\n", err: framing.ErrMalformed, errText: `chunk size "1a" is not a decimal number`},
	{name: "sign", in: "\n#+1\na\n##\n", err: framing.ErrMalformed, errText: `not a decimal number`},
	{name: "space", in: "\n# 1\na\n##\n", err: framing.ErrMalformed},
	{name: "CRLF", in: "\n#1\r\na\n##\n", err: framing.ErrMalformed, errText: `chunk size "1\r" is not a decimal number`},
	{name: "too big", in: "\n#4294967296\n", err: framing.ErrMalformed, errText: "chunk size 4294967296 is larger than 4294967295"},
	{name: "too big 9999999999", in: "\n#9999999999\n", err: framing.ErrMalformed},
	{name: "11 digits", in: "\n#12345678901\n", err: framing.ErrMalformed, errText: `chunk size "12345678901" has more than 10 digits`},
	{name: "11 digits unterminated", in: "\n#12345678901", err: framing.ErrMalformed},
	{name: "missing LF after size", in: "\n#5abcde\n##\n", err: framing.ErrMalformed},
	{name: "missing LF before hash", in: "#5\nabcde\n##\n", err: framing.ErrMalformed, errText: `expected a chunk header (LF '#'), found "#5\nabcde"`},
	{name: "missing hash", in: "\n5\nabcde\n##\n", err: framing.ErrMalformed},
	{name: "no size", in: "\n#\nabc\n##\n", err: framing.ErrMalformed, errText: "chunk header has no size"},
	{name: "bad end marker", in: chunked("abc")[:7] + "\n##x", err: framing.ErrMalformed, errText: `end-of-chunks marker "\n##" followed by "x" instead of LF`},
	{name: "empty message", in: "\n##\n", err: framing.ErrMalformed, errText: "end-of-chunks before any chunk (empty message)"},
	{name: "data longer than size", in: "\n#3\nabcd\n##\n", err: framing.ErrMalformed, errText: `found "d\n##\n" (stream offset 7)`},
	{name: "garbage between messages", in: chunked("a") + "xyz" + chunked("b"), want: []string{"a"}, err: framing.ErrMalformed},
	{name: "EOM marker in chunked mode", in: "<a/>]]>]]>", err: framing.ErrMalformed},

	{name: "eof mid data", in: "\n#5\nabc", err: io.ErrUnexpectedEOF, errText: "framing: unexpected EOF in chunk data (stream offset 7)"},
	{name: "eof after data", in: "\n#3\nabc", err: io.ErrUnexpectedEOF},
	{name: "eof mid size", in: "\n#12", err: io.ErrUnexpectedEOF, errText: "unexpected EOF in chunk header"},
	{name: "eof after hash", in: "\n#", err: io.ErrUnexpectedEOF},
	{name: "eof after LF", in: chunked("a") + "\n", want: []string{"a"}, err: io.ErrUnexpectedEOF},
	{name: "eof mid end marker", in: "\n#3\nabc\n##", err: io.ErrUnexpectedEOF},
	{name: "eof after zero", in: "\n#0", err: io.ErrUnexpectedEOF},
	{name: "trailing whitespace is not clean", in: chunked("a") + "\n\n", want: []string{"a"}, err: framing.ErrMalformed},
}

func TestReaderEOM(t *testing.T)     { runReadCases(t, eomCases) }
func TestReaderChunked(t *testing.T) { runReadCases(t, chunkedCases) }

func runReadCases(t *testing.T, cases []readCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for rname, src := range splitReaders([]byte(tc.in), true) {
				for _, bufLen := range []int{0, 1, 3} {
					r := framing.NewReader(src(), framing.WithMaxMessageSize(tc.max))
					r.SetChunked(tc.chunked)
					got := readMessages(r, bufLen, -1)
					if err := sameOutcome(got, readResult{msgs: tc.want, err: tc.err}); err != nil {
						t.Fatalf("%s, reads of %d: %v (final error %v)", rname, bufLen, err, got.err)
					}
					if tc.errText != "" && rname == "whole" && !strings.Contains(got.err.Error(), tc.errText) {
						t.Errorf("error %q does not contain %q", got.err, tc.errText)
					}
				}
			}
		})
	}
}

func init() {
	for i := range chunkedCases {
		chunkedCases[i].chunked = true
	}
}

func TestEOMMarkerSplitEverywhere(t *testing.T) {
	// Many messages whose markers fall at every offset of a 1..7 byte read
	// pattern, read with several patterns.
	var in strings.Builder
	var want []string
	for i := range 40 {
		msg := strings.Repeat("]", i%4) + strings.Repeat("x", i) + strings.Repeat("]]>", i%3)
		if !eomFramable([]byte(msg)) {
			continue
		}
		want = append(want, msg)
		in.WriteString(msg + "]]>]]>")
	}
	for _, sizes := range [][]byte{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {0, 3, 1, 4}} {
		r := framing.NewReader(&patternReader{data: []byte(in.String()), sizes: sizes})
		got := readMessages(r, 0, -1)
		if err := sameOutcome(got, readResult{msgs: want, err: io.EOF}); err != nil {
			t.Errorf("read sizes %v: %v", sizes, err)
		}
	}
}

func TestSwitchToChunkedAfterHello(t *testing.T) {
	hello := `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>`
	in := hello + "]]>]]>" + chunked("<rpc message-id=", `"1"/>`) + chunked("<rpc/>")
	for name, src := range splitReaders([]byte(in), true) {
		r := framing.NewReader(src())
		got := readMessages(r, 0, 1)
		want := readResult{msgs: []string{hello, `<rpc message-id="1"/>`, "<rpc/>"}, err: io.EOF}
		if err := sameOutcome(got, want); err != nil {
			t.Errorf("%s: %v (%v)", name, err, got.err)
		}
	}
}

func TestNextMessageDrainsUnreadMessage(t *testing.T) {
	for _, mode := range []struct {
		chunked bool
		in      string
	}{
		{false, "<first>" + strings.Repeat("x", 200000) + "</first>]]>]]><second/>]]>]]>"},
		{true, chunked("<first>", strings.Repeat("x", 200000), "</first>") + chunked("<second/>")},
	} {
		r := framing.NewReader(iotest.HalfReader(strings.NewReader(mode.in)))
		r.SetChunked(mode.chunked)
		first, err := r.NextMessage()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Read(make([]byte, 3)); err != nil {
			t.Fatal(err)
		}
		second, err := r.NextMessage()
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(second); err != nil || string(b) != "<second/>" {
			t.Errorf("chunked=%v: second message %q, %v", mode.chunked, b, err)
		}
		if _, err := first.Read(make([]byte, 3)); !errors.Is(err, framing.ErrClosed) {
			t.Errorf("chunked=%v: read of a skipped message: %v, want ErrClosed", mode.chunked, err)
		}
		if n, err := second.Read(make([]byte, 3)); n != 0 || err != io.EOF {
			t.Errorf("chunked=%v: read after EOF: %d, %v", mode.chunked, n, err)
		}
		if _, err := r.NextMessage(); err != io.EOF {
			t.Errorf("chunked=%v: NextMessage at end: %v, want io.EOF", mode.chunked, err)
		}
	}
}

func TestErrorsAreSticky(t *testing.T) {
	r := framing.NewReader(strings.NewReader(chunked("ok") + "\n#0x10\n0123456789abcdef" + chunked("never")))
	r.SetChunked(true)
	m, err := r.NextMessage()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(m); string(b) != "ok" {
		t.Fatalf("first message %q", b)
	}
	m, err = r.NextMessage()
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := m.Read(make([]byte, 10))
	const want = `framing: malformed: chunk size "0x10" is not a decimal number (stream offset 10)`
	if !errors.Is(err1, framing.ErrMalformed) || err1.Error() != want {
		t.Fatalf("got %v, want %s", err1, want)
	}
	r.SetChunked(false) // no way out
	if _, err := m.Read(make([]byte, 10)); err != err1 {
		t.Errorf("second Read: %v", err)
	}
	if _, err := r.NextMessage(); err != err1 {
		t.Errorf("NextMessage: %v", err)
	}
}

func TestMaxSizeWhileDraining(t *testing.T) {
	for _, chunkedMode := range []bool{false, true} {
		in := strings.Repeat("y", 100) + "]]>]]>x]]>]]>"
		if chunkedMode {
			in = chunked(strings.Repeat("y", 100)) + chunked("x")
		}
		r := framing.NewReader(strings.NewReader(in), framing.WithMaxMessageSize(10))
		r.SetChunked(chunkedMode)
		if _, err := r.NextMessage(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.NextMessage(); !errors.Is(err, framing.ErrTooLarge) {
			t.Errorf("chunked=%v: %v, want ErrTooLarge", chunkedMode, err)
		}
	}
}

// TestLargeChunkStreams checks that a chunk far bigger than the buffer is
// handed out as it arrives: the first Read returns before the chunk is
// complete.
func TestLargeChunkStreams(t *testing.T) {
	pr, pw := io.Pipe()
	r := framing.NewReader(pr)
	r.SetChunked(true)
	go func() {
		pw.Write([]byte("\n#104857600\n"))
		pw.Write(bytes.Repeat([]byte("z"), 1<<20))
		// The other 99 MiB never come.
	}()
	m, err := r.NextMessage()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if _, err := io.ReadFull(m, buf); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	if _, err := m.Read(buf); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("after close: %v", err)
	}
}

func TestReadEmptyBuffer(t *testing.T) {
	r := framing.NewReader(strings.NewReader("ab]]>]]>"))
	m, _ := r.NextMessage()
	if n, err := m.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	if b, err := io.ReadAll(m); string(b) != "ab" || err != nil {
		t.Errorf("got %q, %v", b, err)
	}
}

// TestReaderDoesNotReadAhead checks that a complete message can be read
// while the peer waits for a reply: the Reader must not block for bytes
// after the message's terminator.
func TestReaderDoesNotReadAhead(t *testing.T) {
	for _, chunkedMode := range []bool{false, true} {
		client, server := netPipe()
		r := framing.NewReader(server)
		r.SetChunked(chunkedMode)
		in := "<rpc/>]]>]]>"
		if chunkedMode {
			in = chunked("<r", "pc/>")
		}
		go func() {
			for i := range len(in) {
				if _, err := client.Write([]byte{in[i]}); err != nil {
					return
				}
			}
		}()
		m, err := r.NextMessage()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			b, err := io.ReadAll(m)
			if err == nil && string(b) != "<rpc/>" {
				err = errors.New("wrong message " + string(b))
			}
			done <- err
		}()
		if err := waitFor(done); err != nil {
			t.Errorf("chunked=%v: %v", chunkedMode, err)
		}
		client.Close()
		server.Close()
	}
}
