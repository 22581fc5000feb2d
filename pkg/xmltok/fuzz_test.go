package xmltok

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"testing/iotest"
)

// FuzzTokenizer is differential against encoding/xml's RawToken plus end tag
// matching (stdTokens): when encoding/xml accepts the input, the tokens
// must be the same or the rejection must be one of the documented places
// where encoding/xml is more permissive than XML 1.0 (checked against the
// input by stricter); when this package accepts, encoding/xml must too.
// Reading through small buffers and one-byte reads must give exactly what
// NewBytes gives, error message and position included.
func FuzzTokenizer(f *testing.F) {
	for _, doc := range corpus() {
		if len(doc) <= 4096 {
			f.Add(doc)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := stdTokens(bytes.NewReader(in))
		got, gerr := myTokens(NewBytes(in))
		switch {
		case werr == nil && gerr == nil:
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("tokens differ\n got: %v\nwant: %v", got, want)
			}
		case werr != nil && gerr == nil:
			t.Fatalf("accepted input encoding/xml rejects: %v", werr)
		case werr == nil && gerr != nil:
			if why, ok := stricter(in, gerr, want); !ok {
				t.Fatalf("rejected input encoding/xml accepts (%s): %v", why, gerr)
			}
		}
		// Positions too: dump renders them with every token.
		ref, rerr := dump(NewBytes(in))
		for _, tz := range []*Tokenizer{
			newSize(iotest.OneByteReader(bytes.NewReader(in)), 3),
			newSize(iotest.HalfReader(bytes.NewReader(in)), 16),
		} {
			toks, err := dump(tz)
			if !reflect.DeepEqual(toks, ref) || fmt.Sprint(err) != fmt.Sprint(rerr) {
				t.Fatalf("streaming differs from NewBytes\n got: %q %v\nwant: %q %v", toks, err, ref, rerr)
			}
		}
	})
}
