package xmltok

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"
)

var (
	dashDash    = []byte("--")
	cdataEnd    = []byte("]]>")
	piEnd       = []byte("?>")
	byteOrderMk = []byte("\uFEFF")
)

const cdataStart = "<![CDATA["

// Byte classes. The scanning loops skip class-0 bytes with one table load
// per byte and handle everything else in a switch.
const (
	// nameByte
	bStart = 1 << iota // ASCII NameStartChar
	bChar              // other ASCII NameChar
	bHigh              // byte >= 0x80: part of the name, checked by isName
	bColon
)

const (
	cPlain = iota
	cLT    // '<'
	cAmp   // '&'
	cCR    // '\r'
	cWS    // '\t' or '\n' (attribute values normalize them)
	cRB    // ']' (text: "]]>")
	cQuote // '"' or '\''
	cCtl   // control character not allowed in XML
	cHigh  // byte >= 0x80: UTF-8 to check
)

var (
	nameByte  [256]byte
	isSpace   [256]bool
	textClass [256]byte // CharData
	attrClass [256]byte // quoted attribute values
	charClass [256]byte // comments, PIs, directives, CDATA: Char only
)

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
			nameByte[c] = bStart
		case c == ':':
			nameByte[c] = bStart | bColon
		case '0' <= c && c <= '9', c == '-', c == '.':
			nameByte[c] = bChar
		case c >= 0x80:
			nameByte[c] = bHigh
		}
		var cl byte
		switch {
		case c >= 0x80:
			cl = cHigh
		case c == '\r':
			cl = cCR
		case c == '\t' || c == '\n':
			cl = cWS
		case c < 0x20:
			cl = cCtl
		}
		charClass[c] = cl
		textClass[c] = cl
		attrClass[c] = cl
		if cl == cWS {
			textClass[c] = cPlain
		}
	}
	isSpace[' '], isSpace['\t'], isSpace['\n'], isSpace['\r'] = true, true, true, true
	textClass['<'], textClass['&'], textClass[']'] = cLT, cAmp, cRB
	attrClass['<'], attrClass['&'], attrClass['"'], attrClass['\''] = cLT, cAmp, cQuote, cQuote
}

// isChar is the XML 1.0 Char production.
func isChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace[b[i]] {
		i++
	}
	return i
}

// token parses the token at buf[r:], or returns errNeedMore.
func (t *Tokenizer) token() (Kind, error) {
	b := t.buf[t.r:t.w]
	if len(b) == 0 {
		if !t.eof {
			return 0, t.need(findAny)
		}
		if n := len(t.stackOff); n > 0 {
			return 0, t.fail(t.r, "unexpected EOF: element <%s> not closed", clip(t.stack[t.stackOff[n-1]:]))
		}
		return 0, io.EOF
	}
	if b[0] != '<' {
		return t.charData()
	}
	if len(b) < 2 {
		return 0, t.short(findAny, "element")
	}
	switch b[1] {
	case '/':
		return t.endTag()
	case '?':
		return t.procInst()
	case '!':
		return t.bang()
	}
	return t.startTag()
}

func (t *Tokenizer) charData() (Kind, error) {
	buf := t.buf[:t.w]
	i := t.r
	special := false
loop:
	for {
		for i < len(buf) && textClass[buf[i]] == cPlain {
			i++
		}
		if i == len(buf) {
			if !t.eof {
				return 0, t.need(findText)
			}
			break
		}
		switch buf[i] {
		case '<':
			break loop
		case '&':
			n, err := t.ref(buf, i, findText)
			if err != nil {
				return 0, err
			}
			special = true
			i += n
		case '\r':
			special = true
			i++
		case ']':
			switch {
			case i+2 < len(buf):
				if buf[i+1] == ']' && buf[i+2] == '>' {
					return 0, t.fail(i, "unescaped ]]> not in CDATA section")
				}
			case !t.eof && (i+1 == len(buf) || buf[i+1] == ']'):
				return 0, t.need(findText)
			}
			i++
		default:
			n, err := t.char(buf, i, findText)
			if err != nil {
				return 0, err
			}
			i += n
		}
	}
	raw := buf[t.r:i:i]
	if t.base+t.r == 0 && bytes.HasPrefix(raw, byteOrderMk) {
		t.declOff = len(byteOrderMk)
	}
	t.text = raw
	if special {
		t.tbuf = appendText(t.tbuf[:0], raw, true)
		t.text = t.tbuf[:len(t.tbuf):len(t.tbuf)]
	}
	t.end = i
	return CharData, nil
}

// char checks the character at buf[i], a control or non-ASCII byte, and
// returns its length.
func (t *Tokenizer) char(buf []byte, i int, f finder) (int, error) {
	c := buf[i]
	if c < utf8.RuneSelf {
		return 0, t.fail(i, "illegal character code %U", rune(c))
	}
	if !t.eof && !utf8.FullRune(buf[i:]) {
		return 0, t.need(f)
	}
	r, n := utf8.DecodeRune(buf[i:])
	if r == utf8.RuneError && n == 1 {
		return 0, t.fail(i, "invalid UTF-8")
	}
	if r == 0xFFFE || r == 0xFFFF {
		return 0, t.fail(i, "illegal character code %U", r)
	}
	return n, nil
}

// ref checks the reference at buf[i] ('&') and returns its length.
func (t *Tokenizer) ref(buf []byte, i int, f finder) (int, error) {
	_, n, msg := scanRef(buf[i:])
	switch {
	case msg == "":
		return n, nil
	case msg != refShort:
		return 0, t.fail(i, "%s", msg)
	case !t.eof:
		return 0, t.need(f)
	}
	return 0, t.fail(i, "invalid character entity %s (no semicolon)", clip(buf[i:]))
}

const refShort = "short"

// scanRef decodes the reference at the start of b. msg is "" if it is
// valid, refShort if b ends inside it, or else what is wrong. It accepts
// what encoding/xml accepts in strict mode without an Entity map, except
// references to characters outside Char (encoding/xml turns surrogates
// into U+FFFD).
func scanRef(b []byte) (r rune, n int, msg string) {
	if len(b) < 2 {
		return 0, 0, refShort
	}
	if b[1] != '#' {
		j := 1
		for j < len(b) && nameByte[b[j]] != 0 {
			j++
		}
		if j == len(b) {
			return 0, 0, refShort
		}
		if b[j] != ';' {
			return 0, 0, fmt.Sprintf("invalid character entity %s (no semicolon)", clip(b[:j]))
		}
		switch string(b[1:j]) {
		case "lt":
			return '<', j + 1, ""
		case "gt":
			return '>', j + 1, ""
		case "amp":
			return '&', j + 1, ""
		case "apos":
			return '\'', j + 1, ""
		case "quot":
			return '"', j + 1, ""
		}
		return 0, 0, fmt.Sprintf("invalid character entity %s", clip(b[:j+1]))
	}
	j, base := 2, rune(10)
	if j < len(b) && b[j] == 'x' {
		j, base = 3, 16
	}
	start := j
	for ; j < len(b); j++ {
		d := hexVal(b[j])
		if d >= base {
			break
		}
		r = min(r*base+d, utf8.MaxRune+1) // saturate: no overflow
	}
	if j == len(b) {
		return 0, 0, refShort
	}
	if b[j] != ';' || j == start {
		return 0, 0, fmt.Sprintf("invalid character reference %s", clip(b[:j+1]))
	}
	if !isChar(r) {
		return 0, 0, fmt.Sprintf("character reference %s is not a valid XML character", clip(b[:j+1]))
	}
	return r, j + 1, ""
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return 99
}

// appendText appends checked text to dst with references decoded (if refs)
// and CR and CRLF turned into LF.
func appendText(dst, raw []byte, refs bool) []byte {
	s := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '&':
			if !refs {
				continue
			}
			r, n, _ := scanRef(raw[i:])
			dst = utf8.AppendRune(append(dst, raw[s:i]...), r)
			i += n - 1
			s = i + 1
		case '\r':
			dst = append(append(dst, raw[s:i]...), '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			s = i + 1
		}
	}
	return append(dst, raw[s:]...)
}

// appendAttr appends a checked attribute value to dst, normalized per XML
// 1.0 section 3.3.3: references decoded, literal whitespace (CRLF counting
// as one) turned into spaces.
func appendAttr(dst, raw []byte) []byte {
	s := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '&':
			r, n, _ := scanRef(raw[i:])
			dst = utf8.AppendRune(append(dst, raw[s:i]...), r)
			i += n - 1
			s = i + 1
		case '\r', '\n', '\t':
			dst = append(append(dst, raw[s:i]...), ' ')
			if raw[i] == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			s = i + 1
		}
	}
	return append(dst, raw[s:]...)
}

// qname scans the name at buf[i]. f is the finder for the token, what names
// the expected thing in the error for a missing name.
func (t *Tokenizer) qname(buf []byte, i int, f finder, what string) (qname, error) {
	j := i
	var acc byte
	for j < len(buf) {
		c := nameByte[buf[j]]
		if c == 0 {
			break
		}
		acc |= c
		j++
	}
	if j == len(buf) && !t.eof {
		return qname{}, t.need(f)
	}
	if j == i {
		return qname{}, t.fail(i, "expected %s", what)
	}
	name := buf[i:j]
	if acc&bHigh != 0 && !isName(name) || acc&bHigh == 0 && nameByte[name[0]]&bStart == 0 {
		return qname{}, t.fail(i, "invalid XML name %q", clip(name))
	}
	q := qname{s: i, colon: -1, e: j}
	if acc&bColon != 0 && f != findPI { // encoding/xml does not split targets
		c := bytes.IndexByte(name, ':')
		if bytes.IndexByte(name[c+1:], ':') >= 0 {
			// Rejected by encoding/xml (and by Namespaces in XML).
			return qname{}, t.fail(i, "invalid name %q: more than one colon", clip(name))
		}
		if c > 0 && c < len(name)-1 {
			q.colon = i + c
		}
	}
	return q, nil
}

func (t *Tokenizer) startTag() (Kind, error) {
	buf := t.buf[:t.w]
	q, err := t.qname(buf, t.r+1, findTag, "element name after <")
	if err != nil {
		return 0, err
	}
	t.attrs, t.abuf = t.attrs[:0], t.abuf[:0]
	j := q.e
	empty := false
	for {
		k := skipSpace(buf, j)
		if k == len(buf) {
			return 0, t.short(findTag, "element")
		}
		if c := buf[k]; c == '>' {
			j = k + 1
			break
		} else if c == '/' {
			if k+1 == len(buf) {
				return 0, t.short(findTag, "element")
			}
			if buf[k+1] != '>' {
				return 0, t.fail(k, "expected /> in element")
			}
			j, empty = k+2, true
			break
		}
		if k == j {
			if len(t.attrs) == 0 {
				return 0, t.fail(k, "expected whitespace, > or /> after element name")
			}
			return 0, t.fail(k, "expected whitespace between attributes")
		}
		if j, err = t.attr(buf, k); err != nil {
			return 0, err
		}
	}
	t.name, t.end = q, j
	if empty {
		t.selfClose = true
	} else {
		t.stackOff = append(t.stackOff, len(t.stack))
		t.stack = append(t.stack, buf[q.s:q.e]...)
	}
	return StartElement, nil
}

// attr parses the attribute at buf[i] into t.attrs and returns its end.
func (t *Tokenizer) attr(buf []byte, i int) (int, error) {
	q, err := t.qname(buf, i, findTag, "attribute name in element")
	if err != nil {
		return 0, err
	}
	j := skipSpace(buf, q.e)
	if j == len(buf) {
		return 0, t.short(findTag, "element")
	}
	if buf[j] != '=' {
		return 0, t.fail(j, "attribute name without = in element")
	}
	j = skipSpace(buf, j+1)
	if j == len(buf) {
		return 0, t.short(findTag, "element")
	}
	quote := buf[j]
	if quote != '"' && quote != '\'' {
		return 0, t.fail(j, "unquoted or missing attribute value in element")
	}
	j++
	vs := j
	special := false
	for {
		for j < len(buf) && attrClass[buf[j]] == cPlain {
			j++
		}
		if j == len(buf) {
			return 0, t.short(findTag, "attribute value")
		}
		c := buf[j]
		if c == quote {
			break
		}
		switch attrClass[c] {
		case cQuote:
			j++
		case cLT:
			return 0, t.fail(j, "unescaped < inside quoted string")
		case cAmp:
			n, err := t.ref(buf, j, findTag)
			if err != nil {
				return 0, err
			}
			special = true
			j += n
		case cWS, cCR:
			special = true
			j++
		default:
			n, err := t.char(buf, j, findTag)
			if err != nil {
				return 0, err
			}
			j += n
		}
	}
	a := attr{name: q, vs: vs, ve: j}
	if special {
		a.vs, a.scratch = len(t.abuf), true
		t.abuf = appendAttr(t.abuf, buf[vs:j])
		a.ve = len(t.abuf)
	}
	if t.dupAttr(buf, q) {
		return 0, t.fail(i, "duplicate attribute %s", clip(buf[q.s:q.e]))
	}
	t.attrs = append(t.attrs, a)
	return j + 1, nil
}

// dupAttr reports whether the element already has an attribute named q
// (compared as written: prefix and local name). Elements with many
// attributes use a map so a hostile tag cannot cost quadratic time.
func (t *Tokenizer) dupAttr(buf []byte, q qname) bool {
	name := buf[q.s:q.e]
	const linear = 16
	if len(t.attrs) < linear {
		for _, a := range t.attrs {
			if bytes.Equal(buf[a.name.s:a.name.e], name) {
				return true
			}
		}
		return false
	}
	if len(t.attrs) == linear {
		if t.dup == nil {
			t.dup = make(map[string]struct{})
		}
		clear(t.dup)
		for _, a := range t.attrs {
			t.dup[string(buf[a.name.s:a.name.e])] = struct{}{}
		}
	}
	if _, ok := t.dup[string(name)]; ok {
		return true
	}
	t.dup[string(name)] = struct{}{}
	return false
}

func (t *Tokenizer) endTag() (Kind, error) {
	buf := t.buf[:t.w]
	q, err := t.qname(buf, t.r+2, findEnd, "element name after </")
	if err != nil {
		return 0, err
	}
	j := skipSpace(buf, q.e)
	if j == len(buf) {
		return 0, t.short(findEnd, "end element")
	}
	name := buf[q.s:q.e]
	if buf[j] != '>' {
		return 0, t.fail(j, "invalid characters between </%s and >", clip(name))
	}
	n := len(t.stackOff)
	if n == 0 {
		return 0, t.fail(t.r, "unexpected end element </%s>", clip(name))
	}
	if open := t.stack[t.stackOff[n-1]:]; !bytes.Equal(open, name) {
		return 0, t.fail(t.r, "element <%s> closed by </%s>", clip(open), clip(name))
	}
	t.stack, t.stackOff = t.stack[:t.stackOff[n-1]], t.stackOff[:n-1]
	t.name, t.end = q, j+1
	return EndElement, nil
}
