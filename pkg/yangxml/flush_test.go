package yangxml_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sami-netops/sami/pkg/yangxml"
)

// TestListEncoderFlush: Flush hands the whole entries encoded so far to
// the writer, and nothing of the enclosing elements' ends.
func TestListEncoderFlush(t *testing.T) {
	c := newCodec(t)
	var buf bytes.Buffer
	le, err := c.NewListEncoder(&buf, "/flow-state/sessions/session", yangxml.Wrapper("config"), yangxml.ConfigOnly())
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("before Flush the writer got %q", buf.String())
	}
	if err := le.Encode(sampleSession(1)); err != nil {
		t.Fatal(err)
	}
	if err := le.Flush(); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if !strings.HasPrefix(got, "<config") || !strings.HasSuffix(got, "</session>") {
		t.Errorf("after Flush the writer holds %q, want the opening elements and one whole entry", got)
	}
	if err := le.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "</config>") {
		t.Errorf("after Close: %q", buf.String())
	}
}
