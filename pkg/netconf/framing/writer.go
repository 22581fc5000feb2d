package framing

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

var (
	errMessageClosed = fmt.Errorf("%w: message already closed", ErrClosed)
	errMessageOpen   = fmt.Errorf("%w: NewMessage called while another message is open", ErrClosed)
)

const (
	// headRoom is kept free in front of the buffered data so a chunk header
	// ("\n#65536\n") can be put there and the chunk written with one Write.
	headRoom = 16
	// tailRoom is kept free after it for the terminator.
	tailRoom = 6
)

// Writer frames NETCONF messages onto a byte stream. It starts in
// end-of-message mode; call SetChunked(true) once the hello exchange has
// negotiated base:1.1.
//
// A Writer is not safe for concurrent use: the caller serializes messages
// (one NewMessage ... Close at a time, from one goroutine at a time).
type Writer struct {
	w       io.Writer
	chunked bool
	buf     []byte // headRoom + bufSize + tailRoom, allocated on first use
	n       int    // data bytes buffered at buf[headRoom:]
	cur     *msgWriter
	msgs    int64
	err     error // sticky: the stream is broken (write error or half-sent message)
}

// NewWriter returns a Writer writing to w. Each message is buffered in 64
// KiB pieces; a piece is written with a single Write call.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// SetChunked selects chunked (true) or end-of-message (false) framing for
// messages opened from now on; an open message keeps its framing.
func (w *Writer) SetChunked(on bool) { w.chunked = on }

// NewMessage starts a message. Writes to it are buffered; in chunked mode
// every 64 KiB of data goes out as one chunk (the last chunk holds the rest,
// and no chunk is ever empty). Close sends what is buffered and the
// terminator ("]]>]]>" or "\n##\n") and flushes the underlying writer if it
// has a Flush() error method.
//
// Only one message can be open at a time: if another is open, the returned
// message fails every Write and Close with ErrClosed and the open message is
// not disturbed.
//
// A message that fails (write error, or content that cannot be framed) is
// finished; if part of it already reached the underlying writer, the Writer
// is broken for good, since the peer would read the next message as the rest
// of the half-sent one.
//
// In end-of-message mode a message must not contain "]]>]]>" or end with
// "]]>" (the peer would end the message early, and the rest would be read as
// another message); such a Write or Close fails with ErrMalformed. In chunked
// mode any bytes can be sent, but a message must not be empty (RFC 6242 has
// no empty chunk).
func (w *Writer) NewMessage() io.WriteCloser {
	m := &msgWriter{w: w, chunked: w.chunked}
	switch {
	case w.err != nil:
		m.err = w.err
	case w.cur != nil:
		m.err = errMessageOpen
	default:
		if w.buf == nil {
			w.buf = make([]byte, headRoom+bufSize+tailRoom)
		}
		w.msgs++
		w.cur, w.n, m.seq = m, 0, w.msgs
	}
	return m
}

// msgWriter is the io.WriteCloser NewMessage returns.
type msgWriter struct {
	w       *Writer
	chunked bool
	seq     int64
	err     error // set when the message is finished: ErrClosed, or why it failed
	closed  bool
	sent    bool  // part of the message reached the underlying writer
	total   int64 // data bytes accepted

	// End-of-message mode: the last bytes written, to find a marker split
	// across Write calls.
	tail  [len("]]>]]>") - 1]byte
	tailN int
}

func (m *msgWriter) Write(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if !m.chunked {
		if err := m.checkMarker(p); err != nil {
			return 0, m.abort(err)
		}
	}
	w := m.w
	accepted, flushed := 0, 0
	for len(p) > 0 {
		// Flush a full buffer only when more data comes, so that Close can
		// send the last chunk and the terminator with one Write.
		if w.n == bufSize {
			if err := m.flush(false); err != nil {
				return flushed, err
			}
			flushed = accepted
		}
		c := copy(w.buf[headRoom+w.n:headRoom+bufSize], p)
		w.n += c
		p = p[c:]
		accepted += c
		m.total += int64(c)
	}
	return accepted, nil
}

// Close sends the rest of the message and its terminator. Closing a message
// again returns nil.
func (m *msgWriter) Close() error {
	if m.closed {
		return nil
	}
	if m.err != nil {
		return m.err
	}
	switch {
	case m.chunked && m.total == 0:
		return m.abort(fmt.Errorf("%w: an empty message cannot be sent with chunked framing", ErrMalformed))
	case !m.chunked && bytes.HasSuffix(m.tail[:m.tailN], eomMarker[:3]):
		return m.abort(fmt.Errorf("%w: message ends with %q, which would run into the end-of-message marker", ErrMalformed, eomMarker[:3]))
	}
	if err := m.flush(true); err != nil {
		return err
	}
	w := m.w
	if f, ok := w.w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			w.err = err
			return m.finish(err)
		}
	}
	m.closed = true
	m.finish(errMessageClosed)
	return nil
}

// flush writes the buffered data as one chunk (or raw, in end-of-message
// mode), followed by the terminator if final.
func (m *msgWriter) flush(final bool) error {
	w := m.w
	start, end := headRoom, headRoom+w.n
	if m.chunked {
		if w.n > 0 {
			var h [headRoom]byte
			hdr := strconv.AppendInt(append(h[:0], '\n', '#'), int64(w.n), 10)
			hdr = append(hdr, '\n')
			start -= len(hdr)
			copy(w.buf[start:], hdr)
		}
		if final {
			end += copy(w.buf[end:], endOfChunks)
		}
	} else if final {
		end += copy(w.buf[end:], eomMarker)
	}
	w.n = 0
	if start == end {
		return nil
	}
	n, err := w.w.Write(w.buf[start:end])
	if err == nil && n < end-start {
		err = io.ErrShortWrite
	}
	if n > 0 {
		m.sent = true
	}
	if err != nil {
		w.err = err
		return m.finish(err)
	}
	return nil
}

// checkMarker rejects data that would put an end-of-message marker inside
// the message, including one straddling this Write and the previous ones.
func (m *msgWriter) checkMarker(p []byte) error {
	if m.tailN > 0 && len(p) > 0 {
		var j [2 * len(m.tail)]byte
		s := append(append(j[:0], m.tail[:m.tailN]...), p[:min(len(p), len(m.tail))]...)
		if i := bytes.Index(s, eomMarker); i >= 0 {
			return m.markerErr(m.total - int64(m.tailN) + int64(i))
		}
	}
	if i := bytes.Index(p, eomMarker); i >= 0 {
		return m.markerErr(m.total + int64(i))
	}
	if len(p) >= len(m.tail) {
		m.tailN = copy(m.tail[:], p[len(p)-len(m.tail):])
		return nil
	}
	keep := min(m.tailN, len(m.tail)-len(p))
	copy(m.tail[:], m.tail[m.tailN-keep:m.tailN])
	m.tailN = keep + copy(m.tail[keep:], p)
	return nil
}

func (m *msgWriter) markerErr(at int64) error {
	return fmt.Errorf("%w: message contains the end-of-message marker %q at byte %d", ErrMalformed, eomMarker, at)
}

// abort fails the message because of its content. If part of it was already
// sent the stream is broken, otherwise the Writer stays usable.
func (m *msgWriter) abort(err error) error {
	if m.sent && m.w.err == nil {
		m.w.err = fmt.Errorf("framing: message %d abandoned after part of it was sent: %w", m.seq, err)
	}
	m.w.n = 0
	return m.finish(err)
}

// finish ends the message with err as its state and frees the Writer for
// the next message.
func (m *msgWriter) finish(err error) error {
	m.err = err
	if m.w.cur == m {
		m.w.cur = nil
	}
	return err
}
