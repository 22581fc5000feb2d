package framing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. The errors returned by this package wrap them with detail;
// test with errors.Is.
var (
	// ErrMalformed: the peer's framing violates RFC 6242 (bad chunk header,
	// chunk size 0, leading zero, garbage between chunks, empty chunked
	// message, ...), or a message cannot be framed (Writer).
	ErrMalformed = errors.New("framing: malformed")
	// ErrTooLarge: a message is larger than WithMaxMessageSize allows.
	ErrTooLarge = errors.New("framing: message too large")
	// ErrClosed: a message reader or writer that can no longer be used: read
	// after NextMessage skipped it, written after Close, or a second message
	// opened on a Writer before the first was closed.
	ErrClosed = errors.New("framing: closed")
)

var errSkipped = fmt.Errorf("%w: message was skipped by NextMessage", ErrClosed)

const (
	// bufSize is the Reader's buffer and the Writer's largest chunk.
	bufSize = 64 << 10
	// maxChunkSize is RFC 6242's largest chunk-size.
	maxChunkSize = 4294967295
	// maxSizeDigits is len("4294967295").
	maxSizeDigits = 10
	// maxHeaderLen is the longest chunk header: LF '#' 10 digits LF.
	maxHeaderLen = 2 + maxSizeDigits + 1
)

var (
	eomMarker   = []byte("]]>]]>")
	endOfChunks = []byte("\n##\n")
)

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// WithMaxMessageSize limits a message to n bytes (after framing is removed).
// Reading a longer message fails with ErrTooLarge, and the Reader stays
// failed: the rest of the message is not read, so the stream cannot be
// resynchronized. n <= 0 means unlimited (the default).
func WithMaxMessageSize(n int64) ReaderOption {
	return func(r *Reader) { r.max = max(n, 0) }
}

// Reader splits a NETCONF byte stream into messages. It starts in
// end-of-message mode; call SetChunked(true) once the hello exchange has
// negotiated base:1.1.
//
// A Reader is not safe for concurrent use: one goroutine calls NextMessage
// and reads the messages.
type Reader struct {
	br      *bufio.Reader
	chunked bool
	max     int64
	off     int64 // stream offset of br's read position, for error messages
	cur     *message
	err     error // sticky: once set, every call returns it
}

// NewReader returns a Reader reading from r through a 64 KiB buffer. The
// Reader may read ahead past the end of a message; those bytes belong to the
// next one.
func NewReader(r io.Reader, opts ...ReaderOption) *Reader {
	fr := &Reader{br: bufio.NewReaderSize(r, bufSize)}
	for _, o := range opts {
		o(fr)
	}
	return fr
}

// SetChunked selects chunked (true) or end-of-message (false) framing for
// the messages that NextMessage returns from now on; a message already
// returned keeps the framing it started with. Bytes already buffered are kept
// and parsed with the new framing.
func (r *Reader) SetChunked(on bool) { r.chunked = on }

// NextMessage waits for the next message and returns a reader for its bytes,
// with the framing removed. The bytes are streamed from the connection as
// the returned reader is read; it returns io.EOF at the end of the message.
//
// NextMessage returns once the first byte of the message has arrived (in
// end-of-message mode, the first byte that is not whitespace; whitespace
// before it is kept as part of the message). If the previous message was
// not read to its end it is read and discarded first, and reading it
// afterwards fails with ErrClosed.
//
// NextMessage returns io.EOF if the stream ends cleanly between
// messages (in end-of-message mode, whitespace after the last marker
// counts as clean, because peers such as yuma123 send a newline there), and
// an error wrapping io.ErrUnexpectedEOF if it ends inside a message.
//
// After any error (framing, size limit, or from the underlying reader) the
// Reader is failed for good and keeps returning that error.
func (r *Reader) NextMessage() (io.Reader, error) {
	if r.err != nil {
		return nil, r.err
	}
	if m := r.cur; m != nil {
		r.cur = nil
		if !m.done {
			if err := m.drain(); err != nil {
				return nil, err
			}
			m.skipped = true
		}
	}
	if err := r.awaitMessage(); err != nil {
		return nil, err
	}
	m := &message{r: r, chunked: r.chunked}
	r.cur = m
	return m, nil
}

// awaitMessage blocks until the next message has started (at least one byte
// is buffered) and reports a clean end of stream as io.EOF.
func (r *Reader) awaitMessage() error {
	if r.chunked {
		if _, err := r.br.Peek(1); err != nil {
			return r.fail(err) // io.EOF: clean end between messages
		}
		return nil
	}
	// End-of-message mode: look past leading whitespace without consuming it
	// (the bytes are the message's), to tell trailing whitespace at the end
	// of the stream from the start of a message.
	seen := 0
	for {
		_, err := r.br.Peek(seen + 1)
		buf, _ := r.br.Peek(r.br.Buffered())
		for seen < len(buf) && isSpace(buf[seen]) {
			seen++
		}
		if seen < len(buf) {
			return nil
		}
		switch {
		case err == nil:
		case err == io.EOF:
			r.discard(seen)
			return r.fail(io.EOF)
		case errors.Is(err, bufio.ErrBufferFull):
			// A buffer full of whitespace: let it be the start of a message.
			return nil
		default:
			return r.fail(err)
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// fail makes err the Reader's sticky error (unless one is set) and returns it.
func (r *Reader) fail(err error) error {
	if r.err == nil {
		r.err = err
	}
	return r.err
}

func (r *Reader) discard(n int) {
	d, _ := r.br.Discard(n)
	r.off += int64(d)
}

func (r *Reader) malformed(off int64, format string, args ...any) error {
	return r.fail(fmt.Errorf("%w: %s (stream offset %d)", ErrMalformed, fmt.Sprintf(format, args...), off))
}

// unexpectedEOF turns an io.EOF met inside a message into a failure.
func (r *Reader) unexpectedEOF(err error, where string) error {
	if err == io.EOF {
		err = fmt.Errorf("framing: %w in %s (stream offset %d)", io.ErrUnexpectedEOF, where, r.off+int64(r.br.Buffered()))
	}
	return r.fail(err)
}

// message is the io.Reader NextMessage returns.
type message struct {
	r       *Reader
	chunked bool
	done    bool  // end of message consumed
	skipped bool  // discarded by NextMessage before it was read to the end
	n       int64 // data bytes consumed so far

	// End-of-message mode: the first safe buffered bytes are message data,
	// and if atMarker the marker follows them. Both come from one scan of
	// the buffer, so a small Read does not rescan it.
	safe     int
	atMarker bool

	// Chunked mode.
	left   int64 // data bytes left in the current chunk
	chunks int
}

func (m *message) Read(p []byte) (int, error) {
	r := m.r
	switch {
	case m.skipped:
		return 0, errSkipped
	case m.done:
		return 0, io.EOF
	case r.err != nil:
		return 0, r.err
	case len(p) == 0:
		return 0, nil
	}
	if m.chunked {
		if _, err := m.availChunked(); err != nil {
			return 0, err
		}
		if int64(len(p)) > m.left {
			p = p[:m.left]
		}
		// bufio reads straight into p when its buffer is empty and p is
		// large, so big chunks cost one copy.
		n, err := r.br.Read(p)
		r.off += int64(n)
		m.left -= int64(n)
		m.n += int64(n)
		if err != nil {
			return n, r.unexpectedEOF(err, "chunk data")
		}
		return n, nil
	}
	n, err := m.availEOM(len(p))
	if err != nil {
		return 0, err
	}
	buf, _ := r.br.Peek(n)
	copy(p, buf)
	m.consumeEOM(n)
	return n, nil
}

// drain reads the rest of the message and throws it away.
func (m *message) drain() error {
	for {
		var err error
		if m.chunked {
			var left int64
			if left, err = m.availChunked(); err == nil {
				d, derr := m.r.br.Discard(int(min(left, bufSize)))
				m.r.off += int64(d)
				m.left -= int64(d)
				m.n += int64(d)
				if derr != nil {
					err = m.r.unexpectedEOF(derr, "chunk data")
				}
			}
		} else {
			var n int
			if n, err = m.availEOM(bufSize); err == nil {
				m.consumeEOM(n)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// availEOM returns how many bytes of message data (at most want, want > 0)
// are at the front of the buffer, reading more if none are. It returns
// io.EOF after consuming the end-of-message marker.
func (m *message) availEOM(want int) (int, error) {
	r := m.r
	for m.safe == 0 {
		if m.atMarker {
			r.discard(len(eomMarker))
			m.done = true
			return 0, io.EOF
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		if i := bytes.Index(buf, eomMarker); i >= 0 {
			m.safe, m.atMarker = i, true
			continue
		}
		// Hold back a tail that may be the start of a marker split across
		// reads; everything before it is data.
		if m.safe = len(buf) - markerPrefixLen(buf); m.safe > 0 {
			break
		}
		if _, err := r.br.Peek(len(buf) + 1); err != nil {
			return 0, r.unexpectedEOF(err, "message (no end-of-message marker)")
		}
	}
	n := min(want, m.safe)
	if r.max > 0 {
		if m.n >= r.max {
			return 0, r.fail(fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.max))
		}
		n = int(min(int64(n), r.max-m.n))
	}
	return n, nil
}

func (m *message) consumeEOM(n int) {
	m.r.discard(n)
	m.safe -= n
	m.n += int64(n)
}

// markerPrefixLen returns the length of the longest tail of b that is a
// proper prefix of the end-of-message marker.
func markerPrefixLen(b []byte) int {
	for k := min(len(b), len(eomMarker)-1); k > 0; k-- {
		if bytes.Equal(b[len(b)-k:], eomMarker[:k]) {
			return k
		}
	}
	return 0
}

// availChunked returns the data bytes left in the current chunk, parsing the
// next chunk header if the current chunk is used up. It returns io.EOF after
// consuming the end-of-chunks marker.
func (m *message) availChunked() (int64, error) {
	r := m.r
	for m.left == 0 {
		if m.done {
			return 0, io.EOF
		}
		start := r.off
		hlen, size, err := m.readHeader()
		if err != nil {
			return 0, err
		}
		r.discard(hlen)
		if size == 0 { // end-of-chunks
			if m.chunks == 0 {
				return 0, r.malformed(start, "end-of-chunks before any chunk (empty message)")
			}
			m.done = true
			return 0, io.EOF
		}
		if r.max > 0 && m.n+size > r.max {
			return 0, r.fail(fmt.Errorf("%w: chunk of %d bytes at stream offset %d would make the message %d bytes, limit %d",
				ErrTooLarge, size, start, m.n+size, r.max))
		}
		m.chunks++
		m.left = size
	}
	return m.left, nil
}

// readHeader waits until the chunk header at the front of the buffer is
// complete (never reading past it, so a peer that sent a whole message and
// waits for our reply is not waited on) and parses it. size 0 means
// end-of-chunks.
func (m *message) readHeader() (hlen int, size int64, err error) {
	r := m.r
	want := len(endOfChunks) // the shortest header
	for {
		_, perr := r.br.Peek(want)
		b, _ := r.br.Peek(min(r.br.Buffered(), maxHeaderLen))
		hlen, size, detail := parseHeader(b)
		if detail != "" {
			return 0, 0, r.malformed(r.off, "%s", detail)
		}
		if hlen > 0 {
			return hlen, size, nil
		}
		if perr != nil {
			return 0, 0, r.unexpectedEOF(perr, "chunk header")
		}
		want = len(b) + 1
	}
}

// parseHeader parses a chunk header or end-of-chunks marker at the start of
// b. It returns the header length and chunk size (0 for end-of-chunks), or
// hlen 0 and no detail if b is a valid but incomplete start of a header, or
// a description of what is wrong. b holds at most maxHeaderLen bytes.
func parseHeader(b []byte) (hlen int, size int64, detail string) {
	if len(b) > 0 && b[0] != '\n' || len(b) > 1 && b[1] != '#' {
		return 0, 0, fmt.Sprintf("expected a chunk header (LF '#'), found %q", b[:min(len(b), 8)])
	}
	if len(b) < 3 {
		return 0, 0, ""
	}
	if b[2] == '#' {
		switch {
		case len(b) < 4:
			return 0, 0, ""
		case b[3] != '\n':
			return 0, 0, fmt.Sprintf("end-of-chunks marker \"\\n##\" followed by %q instead of LF", b[3:4])
		}
		return len(endOfChunks), 0, ""
	}
	// The chunk size runs up to the LF, or to the end of what is buffered.
	tok := b[2:]
	end := bytes.IndexByte(tok, '\n')
	if end >= 0 {
		tok = tok[:end]
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, 0, fmt.Sprintf("chunk size %q is not a decimal number", tok)
		}
	}
	switch {
	case end == 0:
		return 0, 0, "chunk header has no size"
	case tok[0] == '0' && len(tok) == 1 && end < 0:
		return 0, 0, "" // "0" LF or a leading zero: wait for the next byte to say which
	case tok[0] == '0' && len(tok) == 1:
		return 0, 0, "chunk size is 0"
	case tok[0] == '0':
		return 0, 0, fmt.Sprintf("chunk size %q has a leading zero", tok)
	case len(tok) > maxSizeDigits:
		return 0, 0, fmt.Sprintf("chunk size %q has more than %d digits", tok, maxSizeDigits)
	case end < 0:
		return 0, 0, ""
	}
	var v int64 // at most 10 digits: no overflow
	for _, c := range tok {
		v = v*10 + int64(c-'0')
	}
	if v > maxChunkSize {
		return 0, 0, fmt.Sprintf("chunk size %s is larger than %d", tok, maxChunkSize)
	}
	return 2 + len(tok) + 1, v, ""
}
