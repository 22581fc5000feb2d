package framing_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing/iotest"

	"github.com/sami-netops/sami/pkg/netconf/framing"
)

// readResult is everything a Reader produced from a stream: the messages
// read to their end and the error that stopped it (io.EOF if clean).
type readResult struct {
	msgs []string
	err  error
}

// readMessages reads every message from r, each through reads of at most
// bufLen bytes (0: io.ReadAll), switching r to chunked framing after
// switchAfter messages (-1: never).
func readMessages(r *framing.Reader, bufLen, switchAfter int) readResult {
	var res readResult
	for i := 0; ; i++ {
		if i == switchAfter {
			r.SetChunked(true)
		}
		m, err := r.NextMessage()
		if err != nil {
			res.err = err
			return res
		}
		var b []byte
		if bufLen == 0 {
			b, err = io.ReadAll(m)
		} else {
			b, err = readWithBuf(m, bufLen)
		}
		if err != nil {
			res.err = err
			return res
		}
		res.msgs = append(res.msgs, string(b))
	}
}

func readWithBuf(r io.Reader, n int) ([]byte, error) {
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// sameOutcome reports whether two results have the same messages and the
// same kind of final error.
func sameOutcome(a, b readResult) error {
	if len(a.msgs) != len(b.msgs) {
		return fmt.Errorf("%d messages vs %d", len(a.msgs), len(b.msgs))
	}
	for i := range a.msgs {
		if a.msgs[i] != b.msgs[i] {
			return fmt.Errorf("message %d differs: %.40q vs %.40q", i, a.msgs[i], b.msgs[i])
		}
	}
	if errKind(a.err) != errKind(b.err) {
		return fmt.Errorf("final error %v vs %v", a.err, b.err)
	}
	return nil
}

func errKind(err error) string {
	for _, k := range []error{io.EOF, io.ErrUnexpectedEOF, framing.ErrMalformed, framing.ErrTooLarge, framing.ErrClosed} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return fmt.Sprint(err)
}

// splitReaders returns readers over data that deliver it in different
// pieces: whole, one byte at a time, halves, with the last data and io.EOF
// together, and split in two at every position (if every is set). Each
// call of a returned function starts a fresh reader.
func splitReaders(data []byte, every bool) map[string]func() io.Reader {
	rs := map[string]func() io.Reader{
		"whole":   func() io.Reader { return bytes.NewReader(data) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
		"pattern": func() io.Reader { return &patternReader{data: data, sizes: []byte{2, 0, 6, 1, 4, 12, 3}} },
	}
	if every {
		for k := 1; k < len(data); k++ {
			rs[fmt.Sprintf("split@%d", k)] = func() io.Reader {
				return io.MultiReader(bytes.NewReader(data[:k]), bytes.NewReader(data[k:]))
			}
		}
	}
	return rs
}

// patternReader returns data in reads of 1+sizes[i] bytes, cycling through
// sizes; it never returns more than asked for.
type patternReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (p *patternReader) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := len(p.data)
	if len(p.sizes) > 0 {
		n = 1 + int(p.sizes[p.i%len(p.sizes)])
		p.i++
	}
	n = copy(b, p.data[:min(n, len(p.data))])
	p.data = p.data[n:]
	return n, nil
}

// chunked frames parts as one base:1.1 message, one chunk per part.
func chunked(parts ...string) string {
	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "\n#%d\n%s", len(p), p)
	}
	b.WriteString("\n##\n")
	return b.String()
}

// writeMessages frames msgs with a Writer, writing each in pieces of at most
// piece bytes (0: one Write).
func writeMessages(w io.Writer, chunkedMode bool, msgs [][]byte, piece int) error {
	fw := framing.NewWriter(w)
	fw.SetChunked(chunkedMode)
	for i, msg := range msgs {
		m := fw.NewMessage()
		for rest := msg; len(rest) > 0; {
			n := len(rest)
			if piece > 0 {
				n = min(n, piece)
			}
			if _, err := m.Write(rest[:n]); err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
			rest = rest[n:]
		}
		if err := m.Close(); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return nil
}

// eomFramable reports whether msg can be sent with end-of-message framing.
func eomFramable(msg []byte) bool {
	return !bytes.Contains(msg, []byte("]]>]]>")) && !bytes.HasSuffix(msg, []byte("]]>"))
}
