package xmltok

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// bang parses markup starting with "<!": comment, CDATA section or
// directive.
func (t *Tokenizer) bang() (Kind, error) {
	b := t.buf[t.r:t.w]
	if len(b) < 3 {
		return 0, t.short(findAny, "markup")
	}
	switch b[2] {
	case '-':
		if len(b) < 4 {
			return 0, t.short(findAny, "comment")
		}
		if b[3] != '-' {
			return 0, t.fail(t.r, "invalid sequence <!- not part of <!--")
		}
		return t.comment()
	case '[':
		n := min(len(b), len(cdataStart))
		if string(b[:n]) != cdataStart[:n] {
			return 0, t.fail(t.r, "invalid <![ sequence")
		}
		if n < len(cdataStart) {
			return 0, t.short(findAny, "CDATA section")
		}
		return t.cdata()
	}
	return t.directive()
}

func (t *Tokenizer) comment() (Kind, error) {
	b := t.buf[t.r:t.w]
	i := bytes.Index(b[4:], dashDash)
	if i < 0 || 4+i+2 >= len(b) {
		return 0, t.short(findComment, "comment")
	}
	p := 4 + i
	if b[p+2] != '>' {
		return 0, t.fail(t.r+p, `invalid sequence "--" not allowed in comments`)
	}
	if _, err := t.checkChars(t.r+4, b[4:p]); err != nil {
		return 0, err
	}
	t.text, t.end = b[4:p:p], t.r+p+3
	return Comment, nil
}

func (t *Tokenizer) cdata() (Kind, error) {
	b := t.buf[t.r:t.w]
	const n = len(cdataStart)
	i := bytes.Index(b[n:], cdataEnd)
	if i < 0 {
		return 0, t.short(findCDATA, "CDATA section")
	}
	raw := b[n : n+i : n+i]
	cr, err := t.checkChars(t.r+n, raw)
	if err != nil {
		return 0, err
	}
	t.text = raw
	if cr {
		t.tbuf = appendText(t.tbuf[:0], raw, false)
		t.text = t.tbuf[:len(t.tbuf):len(t.tbuf)]
	}
	t.end = t.r + n + i + len(cdataEnd)
	return CharData, nil
}

// directive ends where encoding/xml ends it (see dirState). Its content is
// only checked to be characters: the caller rejects directives anyway.
func (t *Tokenizer) directive() (Kind, error) {
	b := t.buf[t.r:t.w]
	var d dirState
	end := 3 // the byte after "<!" is taken as is, as encoding/xml does
	if !d.scan(b, &end) {
		return 0, t.short(findDir, "directive")
	}
	if _, err := t.checkChars(t.r+2, b[2:end-1]); err != nil {
		return 0, err
	}
	t.text, t.end = b[2:end-1:end-1], t.r+end
	return Directive, nil
}

func (t *Tokenizer) procInst() (Kind, error) {
	buf := t.buf[:t.w]
	q, err := t.qname(buf, t.r+2, findPI, "target name after <?")
	if err != nil {
		return 0, err
	}
	j := q.e
	if j == len(buf) || buf[j] == '?' && j+1 == len(buf) {
		return 0, t.short(findPI, "processing instruction")
	}
	var content []byte
	if buf[j] == '?' && buf[j+1] == '>' {
		content, t.end = buf[j:j:j], j+2
	} else {
		if !isSpace[buf[j]] {
			return 0, t.fail(j, "expected whitespace after processing instruction target")
		}
		k := skipSpace(buf, j)
		i := bytes.Index(buf[k:], piEnd)
		if i < 0 {
			return 0, t.short(findPI, "processing instruction")
		}
		content, t.end = buf[k:k+i:k+i], k+i+2
		if _, err := t.checkChars(k, content); err != nil {
			return 0, err
		}
	}
	target := buf[q.s:q.e]
	if len(target) == 3 && target[0]|0x20 == 'x' && target[1]|0x20 == 'm' && target[2]|0x20 == 'l' {
		switch {
		case string(target) != "xml":
			return 0, t.fail(t.r, "processing instruction target %s is reserved", target)
		case t.base+t.r != t.declOff:
			return 0, t.fail(t.r, "XML declaration not at start of document")
		}
		if msg := checkDecl(content); msg != "" {
			return 0, t.fail(t.r, "invalid XML declaration: %s", msg)
		}
	}
	t.name, t.text = q, content
	return ProcInst, nil
}

// checkDecl checks the content of the XML declaration after "<?xml" and
// its whitespace: version="1.0" [encoding="UTF-8"] [standalone="yes|no"],
// in that order (XML 1.0 production 23). Only version 1.0 and UTF-8 are
// accepted, as by encoding/xml without a CharsetReader.
func checkDecl(s []byte) string {
	rank := 0
	for len(s) > 0 {
		name, val, rest, ok := pseudoAttr(s)
		if !ok {
			return fmt.Sprintf("malformed %q", clip(s))
		}
		r := 0
		switch string(name) {
		case "version":
			r = 1
			if string(val) != "1.0" {
				return fmt.Sprintf("unsupported version %q; only version 1.0 is supported", clip(val))
			}
		case "encoding":
			r = 2
			if !bytes.EqualFold(val, []byte("utf-8")) {
				return fmt.Sprintf("unsupported encoding %q; only UTF-8 is supported", clip(val))
			}
		case "standalone":
			r = 3
			if string(val) != "yes" && string(val) != "no" {
				return fmt.Sprintf("standalone must be yes or no, not %q", clip(val))
			}
		default:
			return fmt.Sprintf("unknown pseudo-attribute %q", clip(name))
		}
		if r <= rank || rank == 0 && r != 1 {
			return fmt.Sprintf("%s out of order", name)
		}
		rank = r
		n := skipSpace(rest, 0)
		if n == 0 && len(rest) > 0 {
			return "expected whitespace between pseudo-attributes"
		}
		s = rest[n:]
	}
	if rank == 0 {
		return "missing version"
	}
	return ""
}

// pseudoAttr splits `name S? = S? "value"` off the start of s.
func pseudoAttr(s []byte) (name, val, rest []byte, ok bool) {
	i := 0
	for i < len(s) && 'a' <= s[i] && s[i] <= 'z' {
		i++
	}
	name = s[:i]
	i = skipSpace(s, i)
	if len(name) == 0 || i == len(s) || s[i] != '=' {
		return nil, nil, nil, false
	}
	i = skipSpace(s, i+1)
	if i == len(s) || s[i] != '"' && s[i] != '\'' {
		return nil, nil, nil, false
	}
	end := bytes.IndexByte(s[i+1:], s[i])
	if end < 0 {
		return nil, nil, nil, false
	}
	return name, s[i+1 : i+1+end], s[i+1+end+1:], true
}

// checkChars checks that b, at buf offset off, holds only XML characters,
// and reports whether it has a CR.
func (t *Tokenizer) checkChars(off int, b []byte) (cr bool, err error) {
	for i := 0; i < len(b); {
		switch charClass[b[i]] {
		case cCR:
			cr = true
			i++
		case cCtl:
			return cr, t.fail(off+i, "illegal character code %U", rune(b[i]))
		case cHigh:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return cr, t.fail(off+i, "invalid UTF-8")
			}
			if r == 0xFFFE || r == 0xFFFF {
				return cr, t.fail(off+i, "illegal character code %U", r)
			}
			i += n
		default:
			i++
		}
	}
	return cr, nil
}

// clip shortens input quoted in error messages.
func clip(b []byte) []byte {
	const n = 40
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}
