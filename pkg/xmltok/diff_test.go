package xmltok

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// token is a comparable form of a token of either tokenizer. Adjacent
// CharData are merged; attribute values have whitespace mapped to spaces,
// since encoding/xml does not normalize them (see stdTokens).
type token struct {
	Kind          Kind
	Prefix, Local string
	Attrs         []string
	Text          string
}

func (k token) String() string {
	s := k.Kind.String()
	if k.Prefix != "" || k.Local != "" {
		s += " " + k.Prefix + ":" + k.Local
	}
	for _, a := range k.Attrs {
		s += " " + a
	}
	if k.Text != "" {
		s += " " + strconv.Quote(k.Text)
	}
	return s
}

var wsToSpace = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func appendToken(toks []token, k token) []token {
	if k.Kind == CharData && len(toks) > 0 && toks[len(toks)-1].Kind == CharData {
		toks[len(toks)-1].Text += k.Text
		return toks
	}
	return append(toks, k)
}

var errUnbalanced = errors.New("unbalanced end tags")

// stdTokens reads r with encoding/xml's RawToken (strict, no entity map, no
// charset reader) plus the end tag matching that RawToken leaves out.
// Directive text is not kept: encoding/xml replaces comments in it with a
// space, this package returns it as written.
func stdTokens(r io.Reader) ([]token, error) {
	d := xml.NewDecoder(r)
	var toks []token
	var open []xml.Name
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			if len(open) > 0 {
				return toks, errUnbalanced
			}
			return toks, nil
		}
		if err != nil {
			return toks, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			open = append(open, tok.Name)
			k := token{Kind: StartElement, Prefix: tok.Name.Space, Local: tok.Name.Local}
			for _, a := range tok.Attr {
				k.Attrs = append(k.Attrs, a.Name.Space+":"+a.Name.Local+"="+wsToSpace.Replace(a.Value))
			}
			toks = append(toks, k)
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1] != tok.Name {
				return toks, errUnbalanced
			}
			open = open[:len(open)-1]
			toks = append(toks, token{Kind: EndElement, Prefix: tok.Name.Space, Local: tok.Name.Local})
		case xml.CharData:
			toks = appendToken(toks, token{Kind: CharData, Text: string(tok)})
		case xml.Comment:
			toks = append(toks, token{Kind: Comment, Text: string(tok)})
		case xml.ProcInst:
			toks = append(toks, token{Kind: ProcInst, Local: tok.Target, Text: string(tok.Inst)})
		case xml.Directive:
			toks = append(toks, token{Kind: Directive})
		}
	}
}

// myTokens reads all tokens of tz in the same form as stdTokens.
func myTokens(tz *Tokenizer) ([]token, error) {
	var toks []token
	for {
		kind, err := tz.Next()
		if err == io.EOF {
			return toks, nil
		}
		if err != nil {
			return toks, err
		}
		k := token{Kind: kind}
		switch kind {
		case StartElement, EndElement:
			k.Prefix, k.Local = string(tz.Prefix()), string(tz.Local())
			for i := range tz.NumAttr() {
				p, l, v := tz.Attr(i)
				k.Attrs = append(k.Attrs, string(p)+":"+string(l)+"="+wsToSpace.Replace(string(v)))
			}
		case ProcInst:
			k.Local, k.Text = string(tz.Local()), string(tz.Text())
		case Directive:
		default:
			k.Text = string(tz.Text())
		}
		toks = appendToken(toks, k)
	}
}

// readers returns the ways of feeding doc to a Tokenizer, by name.
func readers(doc []byte) map[string]func() *Tokenizer {
	rd := func() *bytes.Reader { return bytes.NewReader(doc) }
	return map[string]func() *Tokenizer{
		"NewBytes":           func() *Tokenizer { return NewBytes(doc) },
		"New":                func() *Tokenizer { return New(rd()) },
		"OneByteReader":      func() *Tokenizer { return New(iotest.OneByteReader(rd())) },
		"HalfReader":         func() *Tokenizer { return New(iotest.HalfReader(rd())) },
		"DataErrReader":      func() *Tokenizer { return New(iotest.DataErrReader(rd())) },
		"OneByteReader/buf1": func() *Tokenizer { return newSize(iotest.OneByteReader(rd()), 1) },
		"HalfReader/buf7":    func() *Tokenizer { return newSize(iotest.HalfReader(rd()), 7) },
		"DataErrReader/buf64": func() *Tokenizer {
			return newSize(iotest.DataErrReader(rd()), 64)
		},
	}
}

// errOffset turns a SyntaxError's line and byte column into an offset.
func errOffset(in []byte, e *SyntaxError) int {
	off := 0
	for l := 1; l < e.Line; l++ {
		i := bytes.IndexByte(in[off:], '\n')
		if i < 0 {
			return -1
		}
		off += i + 1
	}
	return off + e.Column - 1
}

// stricter reports whether err, from input that encoding/xml accepts, is
// one of the documented places where encoding/xml is more permissive than
// XML 1.0, and checks independently that the input really is malformed
// there. std is encoding/xml's reading of the input.
func stricter(in []byte, err error, std []token) (string, bool) {
	var se *SyntaxError
	if !errors.As(err, &se) {
		return "not a SyntaxError", false
	}
	off := errOffset(in, se)
	if off < 0 || off > len(in) {
		return "position out of range", false
	}
	at := in[off:]
	switch msg := se.Msg; {
	case strings.HasPrefix(msg, "illegal character code"), msg == "invalid UTF-8":
		// In a comment, PI or directive: encoding/xml checks characters
		// only in text and attribute values.
		r, n := utf8.DecodeRune(at)
		return "character outside Char", len(at) > 0 && (r == utf8.RuneError && n == 1 || !isChar(r))
	case strings.HasPrefix(msg, "character reference"):
		// encoding/xml turns &#xD800; (surrogates) into U+FFFD.
		s, _, ok := strings.Cut(string(at), ";")
		var v uint64
		var perr error
		if hex, ok := strings.CutPrefix(s, "&#x"); ok {
			v, perr = strconv.ParseUint(hex, 16, 32)
		} else {
			v, perr = strconv.ParseUint(strings.TrimPrefix(s, "&#"), 10, 32)
		}
		return "surrogate reference", ok && perr == nil && v >= 0xD800 && v <= 0xDFFF
	case strings.HasPrefix(msg, "duplicate attribute"):
		// RawToken does not check attribute uniqueness (XML 1.0 WFC
		// Unique Att Spec).
		for _, k := range std {
			seen := map[string]bool{}
			for _, a := range k.Attrs {
				name, _, _ := strings.Cut(a, "=")
				if seen[name] {
					return "duplicate attribute", true
				}
				seen[name] = true
			}
		}
		return "duplicate attribute", false
	case msg == "expected whitespace between attributes":
		// encoding/xml accepts <a b="1"c="2">; production 40 needs S.
		return "no space between attributes", off > 0 && (in[off-1] == '"' || in[off-1] == '\'') && nameByte[at[0]] != 0
	case msg == "expected whitespace after processing instruction target":
		// encoding/xml accepts <?a!b?>; production 16 needs S.
		return "no space after PI target", len(at) > 0 && !isSpace[at[0]]
	case strings.HasPrefix(msg, "processing instruction target"),
		strings.HasPrefix(msg, "XML declaration not at start"),
		strings.HasPrefix(msg, "invalid XML declaration"):
		// encoding/xml accepts <?xml?>, <?XML?> and declarations anywhere.
		return "XML declaration", len(at) >= 5 && strings.EqualFold(string(at[:5]), "<?xml")
	}
	return "unexpected", false
}

// diff checks one document against encoding/xml through every reader and
// reports what the NewBytes reading returned.
func diff(t testing.TB, doc []byte) ([]token, error) {
	t.Helper()
	want, werr := stdTokens(bytes.NewReader(doc))
	got, gerr := myTokens(NewBytes(doc))
	switch {
	case werr == nil && gerr == nil:
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("tokens differ for %q\n got: %v\nwant: %v", clipTest(doc), got, want)
		}
	case werr != nil && gerr == nil:
		t.Fatalf("accepted %q, encoding/xml: %v", clipTest(doc), werr)
	case werr == nil && gerr != nil:
		if why, ok := stricter(doc, gerr, want); !ok {
			t.Fatalf("rejected %q (%s): %v", clipTest(doc), why, gerr)
		}
	}
	if gerr != nil {
		var se *SyntaxError
		if !errors.As(gerr, &se) {
			t.Fatalf("%q: error %T %v is not a *SyntaxError", clipTest(doc), gerr, gerr)
		}
	}
	for name, mk := range readers(doc) {
		toks, err := myTokens(mk())
		if !reflect.DeepEqual(toks, got) || fmt.Sprint(err) != fmt.Sprint(gerr) {
			t.Fatalf("%s differs from NewBytes for %q\n got: %v %v\nwant: %v %v", name, clipTest(doc), toks, err, got, gerr)
		}
	}
	return got, gerr
}

func clipTest(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// corpus is the differential test corpus, also the fuzz seed corpus.
func corpus() [][]byte {
	docs := []string{
		``,
		`<a/>`,
		`<a></a>`,
		"\uFEFF<?xml version=\"1.0\"?><a/>",
		`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n<a/>\n",
		`<?xml version='1.0' encoding='utf-8'?><a/>`,
		`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="101"><data/></rpc-reply>`,
		`<x:a xmlns:x="urn:x" xmlns="urn:d"><x:b x:c="1" c='2'/><b/></x:a>`,
		`<a b="&lt;&gt;&amp;&apos;&quot;" c='&#65;&#x42;&#x10FFFF;&#9;&#10;&#13;'>&lt;x&gt; &amp; &#x263A; &#128512;</a>`,
		"<a b=\"x\ty\nz\r\nw\rv\">x\r\ny\rz\n</a>",
		"<a>text <![CDATA[<raw> & ]] ]]]>more\r\n<![CDATA[]]></a>",
		"<a><!-- comment --><!----><!-- - a-b --></a><!-- after -->",
		`<?target?><?target  some data ?><a><?pi x?></a><?xml-stylesheet href="a.xsl"?>`,
		`<!DOCTYPE a [<!ELEMENT a (#PCDATA)><!ATTLIST a b CDATA "x>y"><!-- c > -->]><a/>`,
		`<!DOCTYPE a SYSTEM "a.dtd"><a/>`,
		`<!x><a/>`,
		`<a>]]</a><b>]</b><c>] ]></c><d b="]]>"/>`,
		`<a  b = "1"   c='2'  / >`,
		`<a  b = "1"   c='2'  />`,
		`<a  b = "1"   c='2'  ></a   >`,
		"<a\n\tb\r\n=\r\n'1'\n/>",
		`<a b='"' c="'" d="x>y"/>`,
		`<:a/><a:/><_.-a1:b-2.c/>`,
		"<\u00e9l\u00e8ve \u00e9t\u00e9=\"\u00e9\">caf\u00e9 \u4e2d\u6587 \U0001F600</\u00e9l\u00e8ve>",
		"  \n <a/> \n <b/> text after root",
		"text before <a/>",
		`<a><b><c><d><e><f/></e></d></c></b></a>`,
		`<a>x<b>y</b>z</a>`,
		`<a b="1" b="2"/>`,
		`<a x:b="1" y:b="2" b="3"/>`,
		`<a x:b="1" x:b="2"/>`,
		`<a b="1"c="2"/>`,
		`<?a!b?><a/>`,
		`<?xml?><a/>`,
		` <?xml version="1.0"?><a/>`,
		`<?XML version="1.0"?><a/>`,
		`<?xml version="1.1"?><a/>`,
		`<?xml version="1.0" encoding="latin1"?><a/>`,
		`<?xml version = "1.0" encoding = "latin1"?><a/>`,
		`<a>&#xD800;</a>`,
		`<a>&#0;</a>`,
		"<!-- \x01 --><a/>",
		"<?pi \xff?><a/>",
		"<!DOCTYPE a \x00><a/>",
		"<a>\x01</a>",
		"<a>\xff</a>",
		"<a>\uFFFE</a>",
		"<a b='\x01'/>",
		`<a>&foo;</a>`,
		`<a>&amp</a>`,
		`<a>& b</a>`,
		`<a>&#x;</a>`,
		`<a>&#X41;</a>`,
		`<a>&#99999999999999999999;</a>`,
		`<a>]]></a>`,
		`<!-- a -- b --><a/>`,
		`<!-- a ---><a/>`,
		`<!- x --><a/>`,
		`<![CDAT[x]]><a/>`,
		"<?a:b:c d?><\u1F59 \u1F5B='1'/>",
		"<a\r\n b='&#13;&#10;\r\n&#x9;\t'>\r\n&#13;\n\r</a>",
		`<a xmlns:p="u" p:x="1"><p:b p:x="2"/></a>`,
		`<!DOCTYPE a [<!ENTITY e "<!--"> <!-- x --> '<' "'" <x> ]><a/>`,
		`<a></b>`,
		`</a>`,
		`<a>`,
		`<a><b></a></b>`,
		`<x:a></y:a>`,
		`<a b=1/>`,
		`<a b/>`,
		`<a b="<"/>`,
		`<a:b:c/>`,
		`<1a/>`,
		`< a/>`,
		`<a/ >`,
		`<a b="1`,
		`<!-- x`,
		`<![CDATA[x`,
		`<?pi x`,
		`<!DOCTYPE x`,
		`<a`,
		`<`,
	}
	var out [][]byte
	for _, d := range docs {
		out = append(out, []byte(d))
	}
	// Larger documents: long text and attribute values across buffer
	// boundaries, deep nesting, many attributes.
	var long bytes.Buffer
	long.WriteString(`<a b="`)
	for i := range 3000 {
		fmt.Fprintf(&long, "v%d &amp; \t&#x263A;", i)
	}
	long.WriteString(`">`)
	for i := range 20000 {
		fmt.Fprintf(&long, "line %d &lt;\u00e9\r\n", i)
		if i%5000 == 0 {
			long.WriteString("<![CDATA[cdata\r\n]]><!-- c --><?pi x?>")
		}
	}
	long.WriteString(`</a>`)
	out = append(out, long.Bytes())

	deep := strings.Repeat("<d x='1'>", 2000) + "t" + strings.Repeat("</d>", 2000)
	out = append(out, []byte(deep))

	var many strings.Builder
	many.WriteString("<a")
	for i := range 100 {
		fmt.Fprintf(&many, " a%d='%d'", i, i)
	}
	many.WriteString("/>")
	out = append(out, []byte(many.String()))
	out = append(out, []byte(strings.Replace(many.String(), "a99=", "a7=", 1)))

	var sessions bytes.Buffer
	sessions.WriteString("<sessions>\n")
	for i := range 100 {
		writeSession(&sessions, i)
	}
	sessions.WriteString("</sessions>\n")
	out = append(out, sessions.Bytes())
	return out
}

func TestDifferential(t *testing.T) {
	for i, doc := range corpus() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			diff(t, doc)
		})
	}
}
