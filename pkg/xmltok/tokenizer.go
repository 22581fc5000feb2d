package xmltok

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Kind is the kind of a token.
type Kind uint8

// The token kinds.
const (
	StartElement Kind = iota + 1
	EndElement
	CharData
	Comment
	ProcInst
	Directive
)

var kindNames = [...]string{"Kind(0)", "StartElement", "EndElement", "CharData", "Comment", "ProcInst", "Directive"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// SyntaxError is a well-formedness error at a 1-based line and byte column.
type SyntaxError struct {
	Msg          string
	Line, Column int
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("xml syntax error on line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

const defaultBufSize = 64 << 10

// maxEmptyReads bounds reads that return neither data nor an error, so a
// broken reader cannot make Next spin forever (as in bufio).
const maxEmptyReads = 100

var (
	// errNeedMore is internal: the current token runs past the buffered data.
	errNeedMore = errors.New("xmltok: need more input")
	errBadRead  = errors.New("xmltok: reader returned an invalid count")
)

// qname is a raw name buf[s:e]; colon splits it into prefix and local part
// when it is >= 0.
type qname struct{ s, colon, e int }

type attr struct {
	name    qname
	vs, ve  int
	scratch bool // the value is abuf[vs:ve] (decoded), else buf[vs:ve]
}

// Tokenizer reads XML tokens from a byte slice or an io.Reader. The byte
// slices returned by its methods point into internal buffers (or into the
// NewBytes input) and are valid only until the next call to Next.
type Tokenizer struct {
	rd   io.Reader
	buf  []byte
	r    int  // start of the current token in buf
	end  int  // end of the current token in buf
	w    int  // end of the buffered data
	base int  // input offset of buf[0]
	eof  bool // no more input: NewBytes, or the reader said io.EOF
	rerr error
	err  error // sticky: returned by every Next after the first failure

	kind      Kind
	name      qname
	selfClose bool // the current StartElement is <a/>: its EndElement is next
	attrs     []attr
	text      []byte
	abuf      []byte // decoded attribute values
	tbuf      []byte // decoded text
	dup       map[string]struct{}

	// Names of the open elements, so end tags can be matched.
	stack    []byte
	stackOff []int

	// Resumable search for the end of a long token that runs past the
	// buffered data, so a token arriving in many small reads is scanned
	// once, not once per read.
	find finder
	fpos int  // relative to r
	fq   byte // open quote in a start tag
	dir  dirState

	declOff int // input offset where the XML declaration may be: 0, or 3 after a BOM

	// Lines are counted lazily, only when a position is asked for or input
	// is dropped from the buffer: lineOff is the input offset counted up to.
	lineOff, line, lineStart int
}

// New returns a Tokenizer reading from r through a 64 KiB buffer that grows
// only to hold a single token larger than it. r is read only when the
// current token continues past the buffered data.
func New(r io.Reader) *Tokenizer { return newSize(r, defaultBufSize) }

func newSize(r io.Reader, size int) *Tokenizer {
	return &Tokenizer{rd: r, buf: make([]byte, max(size, 1)), line: 1}
}

// NewBytes returns a Tokenizer over an in-memory document. b is not copied
// and not modified; it must not change while the Tokenizer is in use.
func NewBytes(b []byte) *Tokenizer {
	return &Tokenizer{buf: b, w: len(b), eof: true, line: 1}
}

// Next advances to the next token and returns its kind. It returns io.EOF at
// the clean end of the input (no open elements), a *SyntaxError for
// malformed input, or the reader's error. Errors are sticky.
func (t *Tokenizer) Next() (Kind, error) {
	if t.err != nil {
		return 0, t.err
	}
	if t.selfClose {
		t.selfClose = false
		t.kind = EndElement
		return EndElement, nil
	}
	t.r = t.end
	t.find = findNone
	for {
		k, err := t.token()
		if err == nil {
			t.kind = k
			return k, nil
		}
		if err == errNeedMore {
			err = t.more()
		}
		if err != nil {
			t.kind = 0
			t.err = err
			return 0, err
		}
	}
}

// Prefix returns the namespace prefix of a StartElement or EndElement name,
// empty if it has none. Like encoding/xml, a name is split only at a single
// colon with text on both sides; ":a" and "a:" are local names.
func (t *Tokenizer) Prefix() []byte {
	if t.kind != StartElement && t.kind != EndElement {
		return nil
	}
	p, _ := t.split(t.name)
	return p
}

// Local returns the local name of a StartElement or EndElement, or the
// target of a ProcInst.
func (t *Tokenizer) Local() []byte {
	if t.kind != StartElement && t.kind != EndElement && t.kind != ProcInst {
		return nil
	}
	_, l := t.split(t.name)
	return l
}

// NumAttr returns the number of attributes of a StartElement.
func (t *Tokenizer) NumAttr() int {
	if t.kind != StartElement {
		return 0
	}
	return len(t.attrs)
}

// Attr returns attribute i of a StartElement, 0 <= i < NumAttr(). The value
// has references decoded and is normalized per XML 1.0 section 3.3.3: each
// literal tab, newline, CR or CRLF becomes one space (characters written as
// references are kept).
func (t *Tokenizer) Attr(i int) (prefix, local, value []byte) {
	a := &t.attrs[i]
	prefix, local = t.split(a.name)
	if a.scratch {
		return prefix, local, t.abuf[a.vs:a.ve:a.ve]
	}
	return prefix, local, t.buf[a.vs:a.ve:a.ve]
}

// Text returns the content of a CharData token with references decoded and
// line ends normalized to LF, or the raw content of a Comment, a ProcInst
// (after the target and its whitespace) or a Directive (between "<!" and
// ">").
func (t *Tokenizer) Text() []byte {
	switch t.kind {
	case CharData, Comment, ProcInst, Directive:
		return t.text
	}
	return nil
}

// InputPos returns the 1-based line and byte column where the current token
// starts (for the EndElement of <a/>, where <a/> starts), or where the
// error returned by Next was found. Lines are counted at LF, as encoding/xml
// does.
func (t *Tokenizer) InputPos() (line, column int) {
	var se *SyntaxError
	if errors.As(t.err, &se) {
		return se.Line, se.Column
	}
	return t.pos(t.r)
}

func (t *Tokenizer) split(q qname) (prefix, local []byte) {
	if q.colon >= 0 {
		return t.buf[q.s:q.colon:q.colon], t.buf[q.colon+1 : q.e : q.e]
	}
	return nil, t.buf[q.s:q.e:q.e]
}

// pos returns the line and column of buf[i]. i must not be before an offset
// already counted, which holds because positions are only asked for the
// current token or an error in it.
func (t *Tokenizer) pos(i int) (line, column int) {
	t.countLines(i)
	return t.line, t.base + i - t.lineStart + 1
}

func (t *Tokenizer) countLines(i int) {
	from := t.lineOff - t.base
	if i <= from {
		return
	}
	seg := t.buf[from:i]
	if n := bytes.Count(seg, lf); n > 0 {
		t.line += n
		t.lineStart = t.base + from + bytes.LastIndexByte(seg, '\n') + 1
	}
	t.lineOff = t.base + i
}

var lf = []byte{'\n'}

// fail returns a SyntaxError at buf[i].
func (t *Tokenizer) fail(i int, format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	line, col := t.pos(i)
	return &SyntaxError{Msg: msg, Line: line, Column: col}
}

// short is the error for a token that runs past the buffered data: more
// input, or "unexpected EOF" at the token's start once there is none.
func (t *Tokenizer) short(f finder, what string) error {
	if !t.eof {
		return t.need(f)
	}
	return t.fail(t.r, "unexpected EOF in %s", what)
}

func (t *Tokenizer) need(f finder) error {
	if f != t.find {
		t.find, t.fpos, t.fq, t.dir = f, f.start(), 0, dirState{}
	}
	return errNeedMore
}

// reparseLimit: a token this short is parsed again after every read, so
// an error in it shows as soon as it arrives; a longer one only once the
// finder has seen its end, so it costs linear time however it is read.
const reparseLimit = 256

// more reads until the current token may be complete (the caller parses
// it again), the input ends (the caller reports what is missing) or
// reading fails.
func (t *Tokenizer) more() error {
	for {
		if !t.fill() {
			return t.rerr
		}
		if t.w-t.r <= reparseLimit || t.found() {
			return nil
		}
	}
}

// fill reads once more into the buffer, first moving the current token to
// its front and, only if the token fills the whole buffer, growing it.
func (t *Tokenizer) fill() bool {
	if t.eof || t.rerr != nil {
		return false
	}
	if t.r > 0 {
		t.countLines(t.r)
		n := copy(t.buf, t.buf[t.r:t.w])
		t.base += t.r
		t.end -= t.r
		t.w = n
		t.r = 0
	}
	if t.w == len(t.buf) {
		nb := make([]byte, 2*len(t.buf))
		copy(nb, t.buf[:t.w])
		t.buf = nb
	}
	for range maxEmptyReads {
		n, err := t.rd.Read(t.buf[t.w:])
		if n < 0 || n > len(t.buf)-t.w {
			t.rerr = errBadRead
			return false
		}
		t.w += n
		if err == io.EOF {
			t.eof = true
			return n > 0
		}
		if err != nil {
			t.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	t.rerr = io.ErrNoProgress
	return false
}

// A finder knows where a token of one kind ends, without parsing it.
type finder uint8

const (
	findNone    finder = iota
	findAny            // any more input helps (the token's kind is not known yet)
	findText           // up to '<'
	findTag            // up to '>' outside quotes, or any '<'
	findEnd            // up to '>' or '<'
	findComment        // "--" and one more byte
	findCDATA          // "]]>"
	findPI             // "?>"
	findDir            // encoding/xml's directive rules
)

// start is where the search starts, past the token's opening delimiter
// (which may itself contain the terminator, as "<!--" contains "--").
func (f finder) start() int {
	switch f {
	case findTag:
		return 1
	case findEnd, findPI:
		return 2
	case findDir:
		return 3
	case findComment:
		return 4
	case findCDATA:
		return 9
	}
	return 0
}

// found continues the search for the end of the current token in the
// buffered data and reports whether the end is there.
func (t *Tokenizer) found() bool {
	b := t.buf[t.r:t.w]
	switch t.find {
	case findText:
		if bytes.IndexByte(b[t.fpos:], '<') >= 0 {
			return true
		}
		t.fpos = len(b)
	case findTag:
		for i := t.fpos; i < len(b); i++ {
			switch c := b[i]; {
			case c == '<':
				return true
			case t.fq != 0:
				if c == t.fq {
					t.fq = 0
				}
			case c == '>':
				return true
			case c == '"' || c == '\'':
				t.fq = c
			}
		}
		t.fpos = len(b)
	case findEnd:
		for i := t.fpos; i < len(b); i++ {
			if b[i] == '>' || b[i] == '<' {
				return true
			}
		}
		t.fpos = len(b)
	case findComment:
		return t.seq(b, dashDash, 1)
	case findCDATA:
		return t.seq(b, cdataEnd, 0)
	case findPI:
		return t.seq(b, piEnd, 0)
	case findDir:
		return t.dir.scan(b, &t.fpos)
	default:
		return true
	}
	return false
}

// seq looks for s followed by extra more bytes.
func (t *Tokenizer) seq(b, s []byte, extra int) bool {
	if i := bytes.Index(b[t.fpos:], s); i >= 0 {
		t.fpos += i
		return t.fpos+len(s)+extra <= len(b)
	}
	t.fpos = max(t.fpos, len(b)-len(s)+1)
	return false
}

// dirState follows encoding/xml's reading of a directive, so that both end
// it at the same '>': quotes are skipped, "<" ... ">" nest and comments
// inside are skipped.
type dirState struct {
	quote  byte
	depth  int
	mode   uint8 // 0 normal, 1-3 matched that much of "<!--" after '<', 4 in a comment
	b0, b1 byte
}

// scan continues over b[*pos:] and reports whether the directive ended,
// leaving *pos just past its '>'.
func (d *dirState) scan(b []byte, pos *int) bool {
	for i := *pos; i < len(b); i++ {
		c := b[i]
		switch d.mode {
		case 4:
			if d.b0 == '-' && d.b1 == '-' && c == '>' {
				d.mode = 0
			} else {
				d.b0, d.b1 = d.b1, c
			}
			continue
		case 1, 2, 3:
			if c == "!--"[d.mode-1] {
				d.mode++
				d.b0, d.b1 = 0, 0
				continue
			}
			// Not a comment: the '<' nests and c is an ordinary byte.
			d.depth++
			d.mode = 0
		}
		if d.quote == 0 && c == '>' && d.depth == 0 {
			*pos = i + 1
			return true
		}
		switch {
		case c == d.quote:
			d.quote = 0
		case d.quote != 0:
		case c == '\'' || c == '"':
			d.quote = c
		case c == '>':
			d.depth--
		case c == '<':
			d.mode = 1
		}
	}
	*pos = len(b)
	return false
}
