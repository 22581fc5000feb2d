package yangxml_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/yangxml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func goldenPath(name string) string { return filepath.Join("testdata", "golden", name+".xml") }

func encodeFixture(tb testing.TB, c *yangxml.Codec, f fixture) []byte {
	tb.Helper()
	out, err := c.Marshal(f.build(), yangxml.Wrapper("data"), yangxml.Indent("  "))
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return out
}

// TestGolden: struct -> XML equals the golden file, golden XML -> struct
// equals the fixture, and XML -> struct -> XML reproduces the golden bytes.
func TestGolden(t *testing.T) {
	c := newCodec(t)
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			got := encodeFixture(t, c, f)
			if *update {
				if err := os.MkdirAll(filepath.Dir(goldenPath(f.name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(goldenPath(f.name), got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath(f.name))
			if err != nil {
				t.Fatalf("%v (run go test -update to create)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("encoding differs from %s (-want +got):\n%s", goldenPath(f.name), diff)
			}
			dec := &device{}
			if err := c.Unmarshal(want, dec); err != nil {
				t.Fatalf("Unmarshal(golden): %v", err)
			}
			if diff := cmp.Diff(f.build(), dec); diff != "" {
				t.Errorf("decoded golden differs from fixture (-want +got):\n%s", diff)
			}
			again, err := c.Marshal(dec, yangxml.Wrapper("data"), yangxml.Indent("  "))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, want) {
				t.Errorf("XML -> struct -> XML changed the document:\n%s", cmp.Diff(string(want), string(again)))
			}
		})
	}
}

// TestDecodeVariants: documents that differ from our own output only in ways
// XML and RFC 7950 allow (prefixes, order, comments, CDATA, envelopes) decode
// to the same tree.
func TestDecodeVariants(t *testing.T) {
	c := newCodec(t)
	want := deviceWith(icmpSession())
	want.FlowState.Capabilities = capabilities().FlowState.Capabilities
	const ns = `urn:sami:params:xml:ns:yang:sami-flow-state`
	body := `<sessions><session>
	  <address-family>ipv4</address-family><protocol> 1 </protocol>
	  <!-- keys need not come first when decoding -->
	  <id>0/1/192.0.2.1/4711/192.0.2.2/8.0</id>
	  <original><source-address>192.0.2.1</source-address><destination-address><![CDATA[192.0.2.2]]></destination-address>
	    <icmp><type>8</type><code>0</code><identifier>4711</identifier></icmp></original>
	  <reply><source-address>192.0.2.2</source-address><destination-address>192.0.2.1</destination-address>
	    <icmp><type>0</type><code>0</code><identifier>4711</identifier></icmp></reply>
	  <timers><remaining>30</remaining></timers>
	</session></sessions>`
	caps := `<capabilities><vendor>sami</vendor><model>sami-agent/sim</model><software-version>0.1.0</software-version>
	  <max-sessions>unlimited</max-sessions><active-sessions>8589934592</active-sessions><free-slots>0</free-slots>
	  <utilization>99.95</utilization><supported-protocols>1</supported-protocols><supported-protocols>6</supported-protocols>
	  <supported-protocols>17</supported-protocols><supported-protocols>58</supported-protocols><supported-protocols>132</supported-protocols>
	  <features xmlns:x="` + ns + `">x:nat</features><features>tcp-window-tracking</features><features xmlns:s="` + ns + `">s:zones</features>
	  <domain>dc1</domain><read-only></read-only></capabilities>`
	cases := map[string]string{
		"default namespace": `<flow-state xmlns="` + ns + `">` + body + caps + `</flow-state>`,
		"prefixed":          `<?xml version="1.0" encoding="UTF-8"?><f:flow-state xmlns:f="` + ns + `">` + strings.Replace(prefixAll(body+caps, "f"), ">tcp-window-tracking<", ">f:tcp-window-tracking<", 1) + `</f:flow-state>`,
		"rpc-reply data":    `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><flow-state xmlns="` + ns + `">` + body + caps + `</flow-state></data>`,
		"nc-prefixed data":  `<nc:data xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><flow-state xmlns="` + ns + `">` + body + caps + `</flow-state></nc:data>`,
		"nmda data":         `<data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"><flow-state xmlns="` + ns + `">` + body + caps + `</flow-state></data>`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			got := &device{}
			if err := c.Unmarshal([]byte(doc), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// prefixAll turns <a> into <p:a> (and </a> into </p:a>) in a test document.
func prefixAll(s, p string) string {
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '<' && i+1 < len(s) {
			switch s[i+1] {
			case '/':
				b.WriteByte('/')
				i++
				b.WriteString(p + ":")
			case '!', '?':
			default:
				b.WriteString(p + ":")
			}
		}
	}
	return b.String()
}
