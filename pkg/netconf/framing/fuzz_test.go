package framing_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/sami-netops/sami/pkg/netconf/framing"
)

// Properties checked for any input stream (see checkReader):
//   - reading never panics or hangs;
//   - the outcome (messages and kind of final error) does not depend on how
//     the stream is split into reads, nor on the size of the message reads;
//   - skipping messages (NextMessage without reading) changes nothing else;
//   - the messages read re-frame: writing them with a Writer and reading
//     that back gives the same messages, and in end-of-message mode the
//     re-framed stream is a prefix of the input.

func FuzzEOMReader(f *testing.F) {
	for _, tc := range eomCases {
		f.Add([]byte(tc.in), []byte{0, 3, 1}, uint16(0), uint16(tc.max))
	}
	f.Add([]byte("<a/>]]>]]>\n<b>]]>]]]]>]]>"), []byte{5}, uint16(2), uint16(0))
	f.Fuzz(func(t *testing.T, data, sizes []byte, readLen, maxSize uint16) {
		checkReader(t, data, sizes, int(readLen), int64(maxSize), -1)
	})
}

func FuzzChunkedReader(f *testing.F) {
	for _, tc := range chunkedCases {
		f.Add([]byte(tc.in), []byte{0, 3, 1}, uint16(0), uint16(tc.max), false)
	}
	f.Add([]byte("<hello/>]]>]]>"+chunked("<rpc/>")), []byte{2}, uint16(1), uint16(0), true)
	f.Add([]byte(chunked("\n##\n", "#")+chunked("]]>]]>")), []byte{1}, uint16(7), uint16(0), false)
	f.Fuzz(func(t *testing.T, data, sizes []byte, readLen, maxSize uint16, hello bool) {
		switchAfter := 0
		if hello {
			switchAfter = 1
		}
		checkReader(t, data, sizes, int(readLen), int64(maxSize), switchAfter)
	})
}

// checkReader checks the reader properties on one stream. switchAfter is
// the number of end-of-message-framed messages before chunked framing (-1:
// never switch).
func checkReader(t *testing.T, data, sizes []byte, readLen int, maxSize int64, switchAfter int) {
	t.Helper()
	newReader := func(src io.Reader) *framing.Reader {
		r := framing.NewReader(src, framing.WithMaxMessageSize(maxSize))
		if switchAfter == 0 {
			r.SetChunked(true)
		}
		return r
	}
	whole := readMessages(newReader(bytes.NewReader(data)), 0, switchAfter)
	if whole.err == nil {
		t.Fatal("no final error")
	}

	split := readMessages(newReader(&patternReader{data: data, sizes: sizes}), readLen%2000, switchAfter)
	if err := sameOutcome(whole, split); err != nil {
		t.Fatalf("whole vs split reads: %v (final errors %v / %v)", err, whole.err, split.err)
	}

	checkSkipping(t, newReader(bytes.NewReader(data)), whole, switchAfter)

	// Re-frame the messages and read them back.
	var out bytes.Buffer
	w := framing.NewWriter(&out)
	for i, msg := range whole.msgs {
		if i == switchAfter {
			w.SetChunked(true)
		}
		m := w.NewMessage()
		if _, err := m.Write([]byte(msg)); err != nil {
			t.Fatalf("re-framing message %d %q: %v", i, msg, err)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("re-framing message %d %q: %v", i, msg, err)
		}
	}
	again := readMessages(newReader(bytes.NewReader(out.Bytes())), 0, switchAfter)
	if err := sameOutcome(again, readResult{msgs: whole.msgs, err: io.EOF}); err != nil {
		t.Fatalf("re-framed stream: %v (%v)", err, again.err)
	}
	if switchAfter < 0 {
		if !bytes.HasPrefix(data, out.Bytes()) {
			t.Fatalf("re-framed stream %q is not a prefix of the input", out.Bytes())
		}
		if whole.err == io.EOF && len(bytes.TrimLeft(data[out.Len():], " \t\r\n")) != 0 {
			t.Fatalf("clean end, but %q follows the last message", data[out.Len():])
		}
	}
}

// checkSkipping reads every other message and skips the rest; the messages
// read and the final error must be those of a full read.
func checkSkipping(t *testing.T, r *framing.Reader, full readResult, switchAfter int) {
	t.Helper()
	var err error
	for i := 0; ; i++ {
		if i == switchAfter {
			r.SetChunked(true)
		}
		var m io.Reader
		if m, err = r.NextMessage(); err != nil {
			break
		}
		if i%2 == 1 {
			continue
		}
		var b []byte
		if b, err = io.ReadAll(m); err != nil {
			break
		}
		if i >= len(full.msgs) || string(b) != full.msgs[i] {
			t.Fatalf("skipping: message %d is %q", i, b)
		}
	}
	if errKind(err) != errKind(full.err) {
		t.Fatalf("skipping: final error %v, full read: %v", err, full.err)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("<hello/><rpc/><rpc-reply/>"), []byte{8, 6}, uint16(0), uint16(0), uint8(0))
	f.Add([]byte("<hello/><rpc/><rpc-reply/>"), []byte{8, 0, 6}, uint16(3), uint16(5), uint8(1))
	f.Add([]byte("<hello/>]]>]]>\n##\n#1\n"), []byte{8, 6, 0}, uint16(1), uint16(1), uint8(2))
	f.Fuzz(func(t *testing.T, data, cuts []byte, piece, readLen uint16, mode uint8) {
		// mode 0: end-of-message only; 1: chunked only; 2: an
		// end-of-message hello, then chunked.
		switchAfter := [3]int{-1, 0, 1}[mode%3]
		// cuts gives the message lengths; the rest of data is the last one.
		var msgs [][]byte
		for _, c := range cuts {
			n := min(int(c), len(data))
			msgs = append(msgs, data[:n])
			data = data[n:]
		}
		msgs = append(msgs, data)

		var out bytes.Buffer
		w := framing.NewWriter(&out)
		var want []string
		for i, msg := range msgs {
			// The switch comes after the first message that went out.
			chunkedMsg := switchAfter >= 0 && len(want) >= switchAfter
			w.SetChunked(chunkedMsg)
			before := out.Len()
			m := w.NewMessage()
			err := writePieces(m, msg, int(piece))
			if err == nil {
				err = m.Close()
			}
			framable := chunkedMsg && len(msg) > 0 || !chunkedMsg && eomFramable(msg)
			switch {
			case framable && err != nil:
				t.Fatalf("message %d %q: %v", i, msg, err)
			case !framable && !errors.Is(err, framing.ErrMalformed):
				t.Fatalf("message %d %q: got %v, want ErrMalformed", i, msg, err)
			case !framable && out.Len() != before:
				t.Fatalf("message %d %q: rejected, but %q was written", i, msg, out.Bytes()[before:])
			case framable:
				want = append(want, string(msg))
			}
		}
		r := framing.NewReader(&patternReader{data: out.Bytes(), sizes: cuts})
		got := readMessages(r, int(readLen)%5000, switchAfter)
		if err := sameOutcome(got, readResult{msgs: want, err: io.EOF}); err != nil {
			t.Fatalf("%v (%v); stream %q", err, got.err, out.Bytes())
		}
	})
}

func writePieces(w io.Writer, msg []byte, piece int) error {
	for len(msg) > 0 {
		n := len(msg)
		if piece > 0 {
			n = min(n, piece)
		}
		if _, err := w.Write(msg[:n]); err != nil {
			return err
		}
		msg = msg[n:]
	}
	return nil
}
