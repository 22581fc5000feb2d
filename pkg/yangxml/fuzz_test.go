package yangxml_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// FuzzDecode: the decoder never panics or hangs, and whatever it accepts
// re-encodes into a document that decodes to the same tree.
func FuzzDecode(f *testing.F) {
	golden, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.xml"))
	for _, g := range golden {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(wrapSessions(okSession + `</session>`)))
	f.Add([]byte(`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">` +
		wrapSessions(`<session nc:operation="delete"><id>0/6/10.0.0.1/1/10.0.0.2/2</id></session>`) + `</config>`))
	c := newCodec(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &device{}
		if err := c.Unmarshal(data, d, yangxml.WithEditOperations(func(yangxml.EditOp) error { return nil })); err != nil {
			return
		}
		out, err := c.Marshal(d, yangxml.Wrapper("data"))
		if err != nil {
			t.Fatalf("accepted input does not re-encode: %v\ninput: %q", err, data)
		}
		d2 := &device{}
		if err := c.Unmarshal(out, d2); err != nil {
			t.Fatalf("our own output does not decode: %v\noutput: %s", err, out)
		}
		// An empty non-presence container means nothing (RFC 7950 7.5.1):
		// the encoder leaves it out, so compare without them.
		ygot.PruneEmptyBranches(d)
		ygot.PruneEmptyBranches(d2)
		if diff := cmp.Diff(d, d2); diff != "" {
			t.Fatalf("decode(encode(x)) != x:\n%s", diff)
		}
	})
}
