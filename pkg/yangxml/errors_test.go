package yangxml_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sami-netops/sami/pkg/yangxml"
)

const testNS = `urn:sami:params:xml:ns:yang:sami-flow-state`

func wrapSessions(inner string) string {
	return `<flow-state xmlns="` + testNS + `"><sessions>` + inner + `</sessions></flow-state>`
}

const okSession = `<session><id>0/6/10.0.0.1/1/10.0.0.2/2</id><address-family>ipv4</address-family><protocol>6</protocol>
<original><source-address>10.0.0.1</source-address><destination-address>10.0.0.2</destination-address></original>`

// TestDecodeErrors: bad input is rejected with the sentinel for what is
// wrong and the data path of the offending node.
func TestDecodeErrors(t *testing.T) {
	c := newCodec(t)
	const sess = `/sami-flow-state:flow-state/sessions/session[id='0/6/10.0.0.1/1/10.0.0.2/2']`
	tests := []struct {
		name, doc string
		want      error
		path      string // the error's path must equal this
		msg       string // and its text contain this
	}{
		{"malformed: unclosed", `<flow-state xmlns="` + testNS + `"><sessions>` + okSession, yangxml.ErrMalformed, sess, "unexpected EOF"},
		{"malformed: mismatched end", `<flow-state xmlns="` + testNS + `"><sessions></session></flow-state>`, yangxml.ErrMalformed, "/sami-flow-state:flow-state/sessions", "closed by </session>"},
		{"malformed: not xml", `hello`, yangxml.ErrMalformed, "", "outside"},
		{"malformed: empty", ``, yangxml.ErrMalformed, "", "no data element"},
		{"malformed: text in container", wrapSessions(`oops`), yangxml.ErrMalformed, "/sami-flow-state:flow-state/sessions", "not a leaf"},
		{"malformed: element in leaf", wrapSessions(okSession + `<mark><x/></mark></session>`), yangxml.ErrMalformed, sess + "/mark", "inside leaf"},
		{"malformed: doctype", `<!DOCTYPE x [<!ENTITY a "b">]><flow-state xmlns="` + testNS + `"/>`, yangxml.ErrMalformed, "", "DTD"},
		{"malformed: trailing element", `<flow-state xmlns="` + testNS + `"/><data xmlns="x"/>`, yangxml.ErrUnknownElement, "/data", "not in the schema"},
		{"unknown element", wrapSessions(okSession + `<colour>red</colour></session>`), yangxml.ErrUnknownElement, sess + "/colour", "not in the schema"},
		{"unknown top-level module", `<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces"/>`, yangxml.ErrUnknownElement, "/interfaces", "ietf-interfaces"},
		{"wrong namespace", wrapSessions(okSession + `<mark xmlns="urn:other">1</mark></session>`), yangxml.ErrNamespace, sess + "/mark", "urn:other"},
		{"no namespace", `<flow-state><sessions/></flow-state>`, yangxml.ErrUnknownElement, "/flow-state", "no namespace"},
		{"out of range: uint8 overflow", wrapSessions(okSession + `<tcp><original><window-scale>300</window-scale></original></tcp></session>`), yangxml.ErrOutOfRange, sess + "/tcp/original/window-scale", "overflows"},
		{"out of range: YANG range", wrapSessions(okSession + `<tcp><original><window-scale>15</window-scale></original></tcp></session>`), yangxml.ErrOutOfRange, sess + "/tcp/original/window-scale", "0..14"},
		{"out of range: negative", wrapSessions(okSession + `<mark>-1</mark></session>`), yangxml.ErrInvalidValue, sess + "/mark", "not a valid uint32"},
		{"out of range: label", wrapSessions(okSession + `<label>128</label></session>`), yangxml.ErrOutOfRange, sess + "/label", "0..127"},
		{"out of range: decimal64", `<flow-state xmlns="` + testNS + `"><capabilities><utilization>100.01</utilization></capabilities></flow-state>`, yangxml.ErrOutOfRange, "/sami-flow-state:flow-state/capabilities/utilization", "100.01"},
		{"decimal64 too many digits", `<flow-state xmlns="` + testNS + `"><capabilities><utilization>1.234</utilization></capabilities></flow-state>`, yangxml.ErrInvalidValue, "/sami-flow-state:flow-state/capabilities/utilization", "fraction digits"},
		{"bad enum", wrapSessions(okSession + `<tcp><state>sideways</state></tcp></session>`), yangxml.ErrInvalidValue, sess + "/tcp/state", "sideways"},
		{"bad boolean", wrapSessions(okSession + `<tcp><original><liberal>yes</liberal></original></tcp></session>`), yangxml.ErrInvalidValue, sess + "/tcp/original/liberal", "boolean"},
		{"bad address", wrapSessions(`<session><id>0/6/10.0.0.1/1/10.0.0.2/2</id><original><source-address>10.0.0.300</source-address></original></session>`), yangxml.ErrInvalidValue, sess + "/original/source-address", "10.0.0.300"},
		{"bad id pattern", wrapSessions(`<session><id>tcp:1.2.3.4</id></session>`), yangxml.ErrInvalidValue, "/sami-flow-state:flow-state/sessions/session/id", "pattern"},
		{"bad base64", wrapSessions(okSession + `<vendor-data>!!!</vendor-data></session>`), yangxml.ErrInvalidValue, sess + "/vendor-data", "base64"},
		{"empty with content", `<flow-state xmlns="` + testNS + `"><capabilities><read-only>yes</read-only></capabilities></flow-state>`, yangxml.ErrInvalidValue, "/sami-flow-state:flow-state/capabilities/read-only", "empty"},
		{"bad union", `<flow-state xmlns="` + testNS + `"><capabilities><max-sessions>lots</max-sessions></capabilities></flow-state>`, yangxml.ErrInvalidValue, "/sami-flow-state:flow-state/capabilities/max-sessions", "no member of union"},
		{"identityref unknown prefix", `<flow-state xmlns="` + testNS + `"><capabilities><features>zz:nat</features></capabilities></flow-state>`, yangxml.ErrNamespace, "/sami-flow-state:flow-state/capabilities/features", `prefix "zz"`},
		{"identityref wrong module", `<flow-state xmlns="` + testNS + `"><capabilities><features xmlns:i="urn:ietf:params:xml:ns:yang:ietf-inet-types">i:nat</features></capabilities></flow-state>`, yangxml.ErrInvalidValue, "/sami-flow-state:flow-state/capabilities/features", "not an identity derived from feature"},
		{"identityref unknown identity", `<flow-state xmlns="` + testNS + `"><capabilities><features>teleport</features></capabilities></flow-state>`, yangxml.ErrInvalidValue, "/sami-flow-state:flow-state/capabilities/features", "teleport"},
		{"duplicate key", wrapSessions(okSession + `</session>` + okSession + `</session>`), yangxml.ErrDuplicate, sess, "given twice"},
		{"duplicate multi-key", wrapSessions(okSession + `<vendor-parameter><vendor>a</vendor><name>b</name></vendor-parameter><vendor-parameter><name>b</name><vendor>a</vendor></vendor-parameter></session>`), yangxml.ErrDuplicate, sess + "/vendor-parameter[vendor='a'][name='b']", "given twice"},
		{"duplicate leaf", wrapSessions(okSession + `<mark>1</mark><mark>2</mark></session>`), yangxml.ErrDuplicate, sess + "/mark", "twice"},
		{"duplicate leaf-list value", wrapSessions(okSession + `<label>1</label><label>1</label></session>`), yangxml.ErrDuplicate, sess + "/label", "twice"},
		{"duplicate container", wrapSessions(okSession + `<tcp/><tcp/></session>`), yangxml.ErrDuplicate, sess + "/tcp", "twice"},
		{"missing key", wrapSessions(`<session><protocol>6</protocol></session>`), yangxml.ErrMissingKey, "/sami-flow-state:flow-state/sessions/session", "<id>"},
		{"missing one of two keys", wrapSessions(okSession + `<vendor-parameter><vendor>a</vendor></vendor-parameter></session>`), yangxml.ErrMissingKey, sess + "/vendor-parameter[vendor='a']", "<name>"},
		{"bad operation", `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><flow-state xmlns="` + testNS + `"><sessions><session operation="zap" xmlns:x="urn:ietf:params:xml:ns:netconf:base:1.0" x:operation="zap"/></sessions></flow-state></config>`, yangxml.ErrInvalidValue, "/sami-flow-state:flow-state/sessions/session", "zap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Unmarshal([]byte(tt.doc), &device{})
			if err == nil {
				t.Fatal("decoded without error")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want one wrapping %v", err, tt.want)
			}
			var xe *yangxml.Error
			if !errors.As(err, &xe) {
				t.Fatalf("error %T is not a *yangxml.Error", err)
			}
			if xe.Path != tt.path {
				t.Errorf("path %q, want %q", xe.Path, tt.path)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestSkipUnknownModules(t *testing.T) {
	c := newCodec(t)
	doc := `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
	  <netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions><session><x/></session></sessions></netconf-state>
	  <flow-state xmlns="` + testNS + `"><sessions>` + okSession + `</session></sessions></flow-state></data>`
	d := &device{}
	if err := c.Unmarshal([]byte(doc), d, yangxml.SkipUnknownModules()); err != nil {
		t.Fatal(err)
	}
	if n := len(d.GetFlowState().GetSessions().Session); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
	if err := c.Unmarshal([]byte(doc), &device{}); !errors.Is(err, yangxml.ErrUnknownElement) {
		t.Fatalf("without SkipUnknownModules: %v, want ErrUnknownElement", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	c := newCodec(t)
	s := sampleSession(1)
	s.Original.SourceAddress = ptr("not-an-address")
	if _, err := c.Marshal(deviceWith(s)); !errors.Is(err, yangxml.ErrInvalidValue) || !strings.Contains(err.Error(), "/original/source-address") {
		t.Errorf("invalid address: %v", err)
	}
	if _, err := c.Marshal(nil); !errors.Is(err, yangxml.ErrUnsupported) {
		t.Errorf("nil root: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
