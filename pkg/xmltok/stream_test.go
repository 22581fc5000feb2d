package xmltok

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
)

// countingReader hands out one byte per Read and counts them.
type countingReader struct {
	data []byte
	n    int
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.n == len(r.data) {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[r.n]
	r.n++
	return 1, nil
}

// Next must not read beyond the current token: a live NETCONF session sends
// nothing after a reply until it gets the next request, so reading ahead
// would block. Text needs one byte more (the '<' that ends it).
func TestReadsOnlyWhatIsNeeded(t *testing.T) {
	doc := "<?xml version='1.0'?>\n<a x='1'><!--c--><b/>text<![CDATA[d]]><?p i?></a>"
	cr := &countingReader{data: []byte(doc)}
	tz := New(cr)
	for {
		k, err := tz.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		end := tz.base + tz.end
		if k == CharData {
			end++ // the '<' that ends text
		}
		if cr.n > end {
			t.Fatalf("after %v ending at %d, read %d bytes", k, end, cr.n)
		}
		if k == EndElement && string(tz.Local()) == "a" && cr.n != len(doc) {
			t.Fatalf("read %d of %d bytes at the root's end", cr.n, len(doc))
		}
	}
}

// An error in a short token is reported as soon as its bytes arrive, not
// after the end of the token (a peer may send nothing more).
func TestErrorBeforeTokenEnd(t *testing.T) {
	for _, doc := range []string{`<a b"c`, "<a>x\x01", `<!-- a --x`, `<a b='<`} {
		stop := errors.New("read after the error")
		tz := New(io.MultiReader(iotest.OneByteReader(strings.NewReader(doc)), iotest.ErrReader(stop)))
		_, err := myTokens(tz)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a SyntaxError", doc, err)
		}
	}
}

// A token arriving one byte per Read is scanned in linear time: the search
// for its end resumes where it stopped.
func TestLargeTokensByteAtATime(t *testing.T) {
	big := strings.Repeat("0123456789", 1<<16)
	docs := []string{
		"<!--" + big + "-->",
		"<a>" + big + "</a>",
		"<a b='" + big + "'/>",
		"<![CDATA[" + big + "]]>",
		"<?p " + big + "?>",
		"<!DOCTYPE " + big + ">",
	}
	for _, doc := range docs {
		tz := New(iotest.OneByteReader(strings.NewReader(doc)))
		for {
			_, err := tz.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%.20s: %v", doc, err)
			}
		}
		if len(tz.buf) < len(big) || len(tz.buf) > 4*len(doc) {
			t.Errorf("%.20s: buffer %d for a %d byte token", doc, len(tz.buf), len(doc))
		}
	}
}

func TestBufferDoesNotGrowForSmallTokens(t *testing.T) {
	doc := benchDoc()[:1<<20]
	tz := New(iotest.HalfReader(bytes.NewReader(doc)))
	for {
		if _, err := tz.Next(); err != nil {
			break // the slice cuts the document short
		}
	}
	if len(tz.buf) != defaultBufSize {
		t.Errorf("buffer grew to %d", len(tz.buf))
	}
}

func TestReaderErrors(t *testing.T) {
	tz := New(iotest.TimeoutReader(strings.NewReader("<a>text</a>")))
	toks, err := myTokens(tz)
	if err != iotest.ErrTimeout || len(toks) != 3 {
		t.Fatalf("got %v %v, want 3 tokens and the reader's error", toks, err)
	}
	if _, err2 := tz.Next(); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}

	tz = New(iotest.ErrReader(nil)) // (0, nil) forever
	if _, err := tz.Next(); err != io.ErrNoProgress {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}

	tz = New(badReader{})
	if _, err := tz.Next(); err != errBadRead {
		t.Fatalf("got %v, want errBadRead", err)
	}
}

type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

// Steady state allocates nothing per token, whether tokenizing bytes or a
// reader.
func TestNoAllocsPerToken(t *testing.T) {
	doc := benchDoc()
	for name, tz := range map[string]*Tokenizer{
		"NewBytes": NewBytes(doc),
		"New":      New(bytes.NewReader(doc)),
	} {
		for range 100000 { // warm up: stack, attribute and scratch buffers
			if _, err := tz.Next(); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(100000, func() {
			if _, err := tz.Next(); err != nil {
				t.Fatal(err)
			}
			_ = tz.Text()
			for i := range tz.NumAttr() {
				tz.Attr(i)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per token", name, allocs)
		}
	}
}

// The name tables are copied from encoding/xml; check the copy rune by rune
// against encoding/xml itself, as a first and as a later character.
func TestNameTablesMatchEncodingXML(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 2 x 65536 documents")
	}
	stdName := func(name string) bool {
		_, err := xml.NewDecoder(strings.NewReader("<" + name + "/>")).RawToken()
		return err == nil
	}
	for r := rune(0x80); r <= 0x10000; r++ {
		if !unicode.Is(unicode.Cs, r) && r != 0xFFFE && r != 0xFFFF {
			s := string(r)
			if got, want := isName([]byte(s)), stdName(s); got != want {
				t.Errorf("%U as first character: %v, encoding/xml %v", r, got, want)
			}
			if got, want := isName([]byte("a"+s)), stdName("a"+s); got != want {
				t.Errorf("%U as later character: %v, encoding/xml %v", r, got, want)
			}
		}
	}
}

// Every name accepted here is also an XML 1.0 5th edition Name.
func TestNamesAreFifthEditionNames(t *testing.T) {
	start := []rune{0xC0, 0xD6, 0xD8, 0xF6, 0xF8, 0x2FF, 0x370, 0x37D, 0x37F, 0x1FFF, 0x200C, 0x200D,
		0x2070, 0x218F, 0x2C00, 0x2FEF, 0x3001, 0xD7FF, 0xF900, 0xFDCF, 0xFDF0, 0xFFFD}
	other := append([]rune{0xB7, 0xB7, 0x300, 0x36F, 0x203F, 0x2040}, start...)
	in := func(ranges []rune, c rune) bool {
		for i := 0; i < len(ranges); i += 2 {
			if ranges[i] <= c && c <= ranges[i+1] {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(nameStartRanges); i += 2 {
		for c := rune(nameStartRanges[i]); c <= rune(nameStartRanges[i+1]); c++ {
			if !in(start, c) {
				t.Errorf("%U is not a 5th edition NameStartChar", c)
			}
		}
	}
	for i := 0; i < len(nameCharRanges); i += 2 {
		for c := rune(nameCharRanges[i]); c <= rune(nameCharRanges[i+1]); c++ {
			if !in(other, c) {
				t.Errorf("%U is not a 5th edition NameChar", c)
			}
		}
	}
}

// Many attributes switch the duplicate check to a map; it must still find
// duplicates and start afresh for each element.
func TestManyAttributes(t *testing.T) {
	var attrs strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&attrs, " a%d='v'", i)
	}
	el := "<a" + attrs.String() + "/>"
	toks, err := myTokens(NewBytes([]byte("<r>" + el + el + "</r>")))
	if err != nil || len(toks) != 6 || len(toks[3].Attrs) != 5000 {
		t.Fatalf("got %d tokens, %v", len(toks), err)
	}
	_, err = myTokens(NewBytes([]byte("<a" + attrs.String() + " a4321='w'/>")))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Msg != "duplicate attribute a4321" {
		t.Fatalf("got %v", err)
	}
}
