package xmltok

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// dump renders every token with its position: <p:a x="v">, </a>, T"text",
// C"comment", Ptarget"inst", D"directive".
func dump(tz *Tokenizer) ([]string, error) {
	var out []string
	for {
		k, err := tz.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		line, col := tz.InputPos()
		s := fmt.Sprintf("%d:%d ", line, col)
		switch k {
		case StartElement:
			s += "<" + qn(tz.Prefix(), tz.Local())
			for i := range tz.NumAttr() {
				p, l, v := tz.Attr(i)
				s += fmt.Sprintf(" %s=%q", qn(p, l), v)
			}
			s += ">"
		case EndElement:
			s += "</" + qn(tz.Prefix(), tz.Local()) + ">"
		case CharData:
			s += fmt.Sprintf("T%q", tz.Text())
		case Comment:
			s += fmt.Sprintf("C%q", tz.Text())
		case ProcInst:
			s += fmt.Sprintf("P%s%q", tz.Local(), tz.Text())
		case Directive:
			s += fmt.Sprintf("D%q", tz.Text())
		}
		out = append(out, s)
	}
}

func qn(prefix, local []byte) string {
	if len(prefix) > 0 {
		return string(prefix) + ":" + string(local)
	}
	return string(local)
}

func TestTokens(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"element", "<a></a>", []string{"1:1 <a>", "1:4 </a>"}},
		{"self-closing", "<a/>", []string{"1:1 <a>", "1:1 </a>"}},
		{"self-closing with attribute", `<a b="1" />`, []string{`1:1 <a b="1">`, "1:1 </a>"}},
		{"prefixes", `<x:a xmlns:x="u" x:b='2'></x:a>`, []string{`1:1 <x:a xmlns:x="u" x:b="2">`, "1:26 </x:a>"}},
		{"colon names are not split", `<:a b:="1"></:a>`, []string{`1:1 <:a b:="1">`, "1:12 </:a>"}},
		{"whitespace in tags", "<a \t\r\n b\n=\n'1'\n></a \n>", []string{`1:1 <a b="1">`, "5:2 </a>"}},
		{"quotes and > in values", `<a b='"' c="'" d="x>y"/>`, []string{`1:1 <a b="\"" c="'" d="x>y">`, "1:1 </a>"}},
		{"text", "<a>hello, world</a>", []string{"1:1 <a>", `1:4 T"hello, world"`, "1:16 </a>"}},
		{"entities", "<a>&lt;&gt;&amp;&apos;&quot;</a>", []string{"1:1 <a>", `1:4 T"<>&'\""`, "1:29 </a>"}},
		{"character references", "<a>&#65;&#x42;&#x263a;&#128512;&#x10FFFF;</a>", []string{"1:1 <a>", `1:4 T"AB☺😀\U0010ffff"`, "1:42 </a>"}},
		{"references in attributes", `<a b="&lt;&#65;&#x42;&amp;"/>`, []string{`1:1 <a b="<AB&">`, "1:1 </a>"}},
		{"attribute normalization", "<a b=\"x\ty\nz\r\nw\rv\" c='&#9;&#10;&#13;'/>", []string{`1:1 <a b="x y z w v" c="\t\n\r">`, "1:1 </a>"}},
		{"line ends in text (lines count LF only)", "<a>x\r\ny\rz\n&#13;\n</a>", []string{"1:1 <a>", `1:4 T"x\ny\nz\n\r\n"`, "4:1 </a>"}},
		{"CDATA", "<a><![CDATA[<b>&amp;]]]></a>", []string{"1:1 <a>", `1:4 T"<b>&amp;]"`, "1:25 </a>"}},
		{"CDATA line ends", "<a><![CDATA[x\r\ny\r]]></a>", []string{"1:1 <a>", `1:4 T"x\ny\n"`, "2:6 </a>"}},
		{"text and CDATA are separate tokens", "<a>x<![CDATA[y]]>z</a>", []string{"1:1 <a>", `1:4 T"x"`, `1:5 T"y"`, `1:18 T"z"`, "1:19 </a>"}},
		{"brackets in text", "<a>]] ]></a><b c=']]>'/>", []string{"1:1 <a>", `1:4 T"]] ]>"`, "1:9 </a>", `1:13 <b c="]]>">`, "1:13 </b>"}},
		{"comments", "<!-- c --><!----><a><!--x-y--></a>", []string{`1:1 C" c "`, `1:11 C""`, "1:18 <a>", `1:21 C"x-y"`, "1:31 </a>"}},
		{"comment raw", "<!--&amp;\r\n-->", []string{`1:1 C"&amp;\r\n"`}},
		{"XML declaration", `<?xml version="1.0" encoding="utf-8" standalone='no' ?><a/>`, []string{`1:1 Pxml"version=\"1.0\" encoding=\"utf-8\" standalone='no' "`, "1:56 <a>", "1:56 </a>"}},
		{"BOM", "\uFEFF<?xml version='1.0'?><a/>", []string{`1:1 T"\ufeff"`, `1:4 Pxml"version='1.0'"`, "1:25 <a>", "1:25 </a>"}},
		{"processing instructions", "<?t?><?t  x y ?><?a:b:c d?><?xml-stylesheet href='s'?>", []string{`1:1 Pt""`, `1:6 Pt"x y "`, `1:17 Pa:b:c"d"`, `1:28 Pxml-stylesheet"href='s'"`}},
		{"doctype", `<!DOCTYPE a [<!ELEMENT a (#PCDATA)><!-- > --><!ATTLIST a b CDATA ">">]><a/>`, []string{`1:1 D"DOCTYPE a [<!ELEMENT a (#PCDATA)><!-- > --><!ATTLIST a b CDATA \">\">]"`, "1:72 <a>", "1:72 </a>"}},
		{"other directive", "<!x><!>>", []string{`1:1 D"x"`, `1:5 D">"`}},
		{"outside the root", " \n<a/>\n<b/>x", []string{`1:1 T" \n"`, "2:1 <a>", "2:1 </a>", `2:5 T"\n"`, "3:1 <b>", "3:1 </b>", `3:5 T"x"`}},
		{"non-ASCII", "<é a·b='ü'>中文</é>", []string{`1:1 <é a·b="ü">`, `1:15 T"中文"`, "1:21 </é>"}},
		{"nesting", "<a><b><c/></b></a>", []string{"1:1 <a>", "1:4 <b>", "1:7 <c>", "1:7 </c>", "1:11 </b>", "1:15 </a>"}},
		{"duplicate local names with other prefixes", `<a x:b="1" y:b="2" b="3"/>`, []string{`1:1 <a x:b="1" y:b="2" b="3">`, "1:1 </a>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for rname, mk := range readers([]byte(tt.in)) {
				got, err := dump(mk())
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s: got %q, %v\nwant %q", rname, got, err, tt.want)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	many := "<a"
	for i := range 40 {
		many += fmt.Sprintf(" a%d='%d'", i, i)
	}
	tests := []struct {
		name      string
		in        string
		msg       string
		line, col int
	}{
		// Names.
		{"name starts with digit", "<1a/>", `invalid XML name "1a"`, 1, 2},
		{"name with invalid non-ASCII", "<a×/>", `invalid XML name "a×"`, 1, 2},
		{"name with invalid UTF-8", "<a\xff/>", `invalid XML name "a\xff"`, 1, 2},
		{"space before name", "< a/>", "expected element name after <", 1, 2},
		{"two colons", "<a\n  b:c:d='1'/>", `invalid name "b:c:d": more than one colon`, 2, 3},
		{"end tag without name", "<a></ a>", "expected element name after </", 1, 6},
		{"PI without target", "<? x?>", "expected target name after <?", 1, 3},
		{"attribute name missing", "<a ='1'/>", "expected attribute name in element", 1, 4},
		// Attributes.
		{"unquoted value", "<a b=1/>", "unquoted or missing attribute value in element", 1, 6},
		{"no value", "<a b/>", "attribute name without = in element", 1, 5},
		{"< in value", `<a b="x<y"/>`, "unescaped < inside quoted string", 1, 8},
		{"duplicate attribute", `<a b="1" b="2"/>`, "duplicate attribute b", 1, 10},
		{"duplicate prefixed attribute", `<a x:b="1" x:b="2"/>`, "duplicate attribute x:b", 1, 12},
		{"duplicate among many", many + " a33='x'/>", "duplicate attribute a33", 1, len(many) + 2},
		{"no space between attributes", `<a b="1"c="2"/>`, "expected whitespace between attributes", 1, 9},
		{"junk after name", `<a"b"/>`, "expected whitespace, > or /> after element name", 1, 3},
		{"slash not closing", "<a/ >", "expected /> in element", 1, 3},
		{"junk in end tag", "<a></a b>", "invalid characters between </a and >", 1, 8},
		// References.
		{"unknown entity", "<a>x&nbsp;</a>", "invalid character entity &nbsp;", 1, 5},
		{"entity without semicolon", "<a>&amp </a>", "invalid character entity &amp (no semicolon)", 1, 4},
		{"bare ampersand", "<a>a & b</a>", "invalid character entity & (no semicolon)", 1, 6},
		{"empty char ref", "<a>&#;</a>", "invalid character reference &#;", 1, 4},
		{"empty hex char ref", "<a>&#x;</a>", "invalid character reference &#x;", 1, 4},
		{"uppercase X", "<a>&#X41;</a>", "invalid character reference &#X", 1, 4},
		{"NUL reference", "<a>&#0;</a>", "character reference &#0; is not a valid XML character", 1, 4},
		{"surrogate reference", "<a>\n&#xD800;</a>", "character reference &#xD800; is not a valid XML character", 2, 1},
		{"FFFE reference", "<a>&#xFFFE;</a>", "character reference &#xFFFE; is not a valid XML character", 1, 4},
		{"too large reference", "<a>&#x110000;</a>", "character reference &#x110000; is not a valid XML character", 1, 4},
		{"overflowing reference", "<a>&#99999999999999999999999;</a>", "character reference &#99999999999999999999999; is not a valid XML character", 1, 4},
		{"unknown entity in attribute", `<a b="&bad;"/>`, "invalid character entity &bad;", 1, 7},
		{"reference at EOF", "<a>&am", "invalid character entity &am (no semicolon)", 1, 4},
		// Characters.
		{"control char in text", "<a>\x01</a>", "illegal character code U+0001", 1, 4},
		{"NUL in text", "<a>x\x00</a>", "illegal character code U+0000", 1, 5},
		{"invalid UTF-8 in text", "<a>\xc3(</a>", "invalid UTF-8", 1, 4},
		{"truncated UTF-8 at EOF", "x\xe4\xb8", "invalid UTF-8", 1, 2},
		{"surrogate encoded in UTF-8", "<a>\xed\xa0\x80</a>", "invalid UTF-8", 1, 4},
		{"U+FFFF in text", "<a>\uffff</a>", "illegal character code U+FFFF", 1, 4},
		{"control char in attribute", "<a b='\x1f'/>", "illegal character code U+001F", 1, 7},
		{"invalid UTF-8 in comment", "<!-- \xff -->", "invalid UTF-8", 1, 6},
		{"control char in PI", "<?pi \x02?>", "illegal character code U+0002", 1, 6},
		{"control char in CDATA", "<a><![CDATA[\x0b]]></a>", "illegal character code U+000B", 1, 13},
		{"control char in directive", "<!DOCTYPE \x0c>", "illegal character code U+000C", 1, 11},
		// Markup.
		{"]]> in text", "<a>x]]]></a>", "unescaped ]]> not in CDATA section", 1, 6},
		{"-- in comment", "<!-- a -- b -->", `invalid sequence "--" not allowed in comments`, 1, 8},
		{"comment ending in -", "<!-- a --->", `invalid sequence "--" not allowed in comments`, 1, 8},
		{"<!- ", "<!- x -->", "invalid sequence <!- not part of <!--", 1, 1},
		{"bad <![", "<a><![CDATX[x]]></a>", "invalid <![ sequence", 1, 4},
		{"no space after PI target", "<?a?b?>", "expected whitespace after processing instruction target", 1, 4},
		{"reserved PI target", "<?XmL version='1.0'?>", "processing instruction target XmL is reserved", 1, 1},
		{"late XML declaration", "<a/>\n<?xml version='1.0'?>", "XML declaration not at start of document", 2, 1},
		{"XML declaration without version", "<?xml encoding='utf-8'?>", "invalid XML declaration: encoding out of order", 1, 1},
		{"empty XML declaration", "<?xml?>", "invalid XML declaration: missing version", 1, 1},
		{"XML 1.1", "<?xml version='1.1'?>", `invalid XML declaration: unsupported version "1.1"; only version 1.0 is supported`, 1, 1},
		{"other encoding", "<?xml version='1.0' encoding='ISO-8859-1'?>", `invalid XML declaration: unsupported encoding "ISO-8859-1"; only UTF-8 is supported`, 1, 1},
		{"bad standalone", "<?xml version='1.0' standalone='maybe'?>", `invalid XML declaration: standalone must be yes or no, not "maybe"`, 1, 1},
		{"declaration junk", "<?xml version='1.0'encoding='utf-8'?>", "invalid XML declaration: expected whitespace between pseudo-attributes", 1, 1},
		// Unterminated at EOF: reported at the start of the construct.
		{"EOF after <", "<a>\n<", "unexpected EOF in element", 2, 1},
		{"EOF in name", "<abc", "unexpected EOF in element", 1, 1},
		{"EOF in tag", "<a b='1' ", "unexpected EOF in element", 1, 1},
		{"EOF in attribute value", "<a b='1", "unexpected EOF in attribute value", 1, 1},
		{"EOF in end tag", "<a></a", "unexpected EOF in end element", 1, 4},
		{"EOF in comment", "<!-- x -", "unexpected EOF in comment", 1, 1},
		{"EOF after <!", "<!", "unexpected EOF in markup", 1, 1},
		{"EOF in CDATA", "<a><![CDATA[x]]", "unexpected EOF in CDATA section", 1, 4},
		{"EOF in CDATA start", "<a><![CDA", "unexpected EOF in CDATA section", 1, 4},
		{"EOF in PI", "<?pi x?", "unexpected EOF in processing instruction", 1, 1},
		{"EOF in directive", "<!DOCTYPE a [<!ELEMENT a>", "unexpected EOF in directive", 1, 1},
		// Element nesting.
		{"mismatched end tag", "<a>\n  <b></c>", "element <b> closed by </c>", 2, 6},
		{"prefix mismatch", "<x:a></y:a>", "element <x:a> closed by </y:a>", 1, 6},
		{"end tag without start", "<a/></a>", "unexpected end element </a>", 1, 5},
		{"unclosed at EOF", "<a><b></b>\n", "unexpected EOF: element <a> not closed", 2, 1},
		// Positions count LF only, columns in bytes.
		{"position after CRLF and multi-byte", "<a>\r\n\r\né\n  \x01</a>", "illegal character code U+0001", 4, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for rname, mk := range readers([]byte(tt.in)) {
				tz := mk()
				_, err := dump(tz)
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("%s: got %v, want a SyntaxError", rname, err)
				}
				if se.Msg != tt.msg || se.Line != tt.line || se.Column != tt.col {
					t.Errorf("%s: got %d:%d %q, want %d:%d %q", rname, se.Line, se.Column, se.Msg, tt.line, tt.col, tt.msg)
				}
				if l, c := tz.InputPos(); l != se.Line || c != se.Column {
					t.Errorf("%s: InputPos %d:%d, error at %d:%d", rname, l, c, se.Line, se.Column)
				}
				if _, err2 := tz.Next(); err2 != err {
					t.Errorf("%s: error not sticky: %v then %v", rname, err, err2)
				}
			}
		})
	}
}

func TestAccessorsOutsideTheirKinds(t *testing.T) {
	tz := NewBytes([]byte(`<a b="1"/>t`))
	if l, c := tz.InputPos(); l != 1 || c != 1 {
		t.Errorf("InputPos before Next: %d:%d", l, c)
	}
	mustNext(t, tz, StartElement)
	if tz.Text() != nil {
		t.Errorf("Text of StartElement: %q", tz.Text())
	}
	mustNext(t, tz, EndElement)
	if tz.NumAttr() != 0 || string(tz.Local()) != "a" {
		t.Errorf("EndElement of <a/>: %d attributes, local %q", tz.NumAttr(), tz.Local())
	}
	mustNext(t, tz, CharData)
	if tz.Prefix() != nil || tz.Local() != nil || tz.NumAttr() != 0 {
		t.Errorf("names on CharData: %q %q %d", tz.Prefix(), tz.Local(), tz.NumAttr())
	}
	for range 2 {
		if _, err := tz.Next(); err != io.EOF {
			t.Fatalf("got %v, want io.EOF", err)
		}
	}
	if l, c := tz.InputPos(); l != 1 || c != 12 {
		t.Errorf("InputPos at EOF: %d:%d", l, c)
	}
	if s := Kind(9).String() + StartElement.String(); s != "Kind(9)StartElement" {
		t.Errorf("Kind.String: %s", s)
	}
	if s := (&SyntaxError{Msg: "m", Line: 2, Column: 3}).Error(); !strings.Contains(s, "line 2, column 3: m") {
		t.Errorf("SyntaxError.Error: %s", s)
	}
}

func mustNext(t *testing.T, tz *Tokenizer, want Kind) {
	t.Helper()
	if k, err := tz.Next(); k != want || err != nil {
		t.Fatalf("got %v %v, want %v", k, err, want)
	}
}

// The returned slices must not let a caller's append overwrite input.
func TestSlicesHaveNoSpareCapacity(t *testing.T) {
	doc := []byte(`<p:a p:b="v">text</p:a>`)
	tz := NewBytes(doc)
	mustNext(t, tz, StartElement)
	p, l, v := tz.Attr(0)
	_ = append(tz.Prefix(), 'X')
	_ = append(tz.Local(), 'X')
	_, _, _ = append(p, 'X'), append(l, 'X'), append(v, 'X')
	mustNext(t, tz, CharData)
	_ = append(tz.Text(), 'X')
	if string(doc) != `<p:a p:b="v">text</p:a>` {
		t.Fatalf("input modified: %s", doc)
	}
}
