package yangxml_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	fs "github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/peertest"
	"github.com/sami-netops/sami/pkg/yangxml"
)

const modelFile = "../../yang/sami-flow-state.yang"

// needPeer finds a third-party peer binary (peertest.Need: skipped loudly
// when missing, a failure with SAMI_REQUIRE_PEERS=1 as in CI).
func needPeer(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	peertest.Need(t, name, err == nil, "apt-get install libyang2-tools, or bash .ci/install-peers")
	return p
}

func yanglint(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(needPeer(t, "yanglint"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInteropYanglintAccepts: every document the encoder produces is valid
// instance data for libyang: config-only output as -t config, full output as
// -t data.
func TestInteropYanglintAccepts(t *testing.T) {
	c := newCodec(t)
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			cfg, err := c.Marshal(f.build(), yangxml.ConfigOnly())
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg) > 0 {
				if out, err := yanglint(t, "-t", "config", modelFile, writeTemp(t, "config.xml", cfg)); err != nil {
					t.Errorf("yanglint -t config rejected our <config> content: %v\n%s\n%s", err, out, cfg)
				}
			}
			full, err := c.Marshal(f.build(), yangxml.Indent(" "))
			if err != nil {
				t.Fatal(err)
			}
			if out, err := yanglint(t, "-t", "data", modelFile, writeTemp(t, "data.xml", full)); err != nil {
				t.Errorf("yanglint -t data rejected our data: %v\n%s\n%s", err, out, full)
			}
		})
	}
}

// TestInteropYanglintConverts: XML -> (yanglint) -> JSON decodes with ygot to
// the same tree as our XML decoder, and ygot JSON -> (yanglint) -> XML decodes
// with our decoder to the original tree.
func TestInteropYanglintConverts(t *testing.T) {
	c := newCodec(t)
	for _, f := range fixtures() {
		t.Run(f.name, func(t *testing.T) {
			want := f.build()
			xmlDoc, err := c.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			js, err := yanglint(t, "-t", "data", "-d", "trim", "-f", "json", modelFile, writeTemp(t, "in.xml", xmlDoc))
			if err != nil {
				t.Fatalf("yanglint XML->JSON: %v\n%s", err, js)
			}
			fromJSON := &device{}
			if err := fs.Unmarshal([]byte(js), fromJSON); err != nil {
				t.Fatalf("ygot cannot read libyang's JSON: %v\n%s", err, js)
			}
			if diff := cmp.Diff(canonical(want), canonical(fromJSON)); diff != "" {
				t.Errorf("XML -> yanglint JSON -> ygot differs (-want +got):\n%s", diff)
			}

			ours, err := ygot.EmitJSON(want, &ygot.EmitJSONConfig{Format: ygot.RFC7951, RFC7951Config: &ygot.RFC7951JSONConfig{AppendModuleName: true}})
			if err != nil {
				t.Fatalf("ygot EmitJSON: %v", err)
			}
			x, err := yanglint(t, "-t", "data", "-d", "trim", "-f", "xml", modelFile, writeTemp(t, "in.json", []byte(ours)))
			if err != nil {
				t.Fatalf("yanglint JSON->XML: %v\n%s", err, x)
			}
			fromXML := &device{}
			if err := c.Unmarshal([]byte(x), fromXML); err != nil {
				t.Fatalf("our decoder cannot read libyang's XML: %v\n%s", err, x)
			}
			if diff := cmp.Diff(canonical(want), canonical(fromXML)); diff != "" {
				t.Errorf("ygot JSON -> yanglint XML -> yangxml differs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInteropYanglintAgreesOnBadInput: documents our decoder rejects for a
// value or structure reason are rejected by libyang too (so the codec is not
// stricter or looser than a reference implementation on these).
func TestInteropYanglintAgreesOnBadInput(t *testing.T) {
	c := newCodec(t)
	bad := map[string]string{
		"uint8 overflow":  wrapSessions(okSession + `<tcp><original><window-scale>300</window-scale></original></tcp></session>`),
		"range":           wrapSessions(okSession + `<tcp><original><window-scale>15</window-scale></original></tcp></session>`),
		"enum":            wrapSessions(okSession + `<tcp><state>sideways</state></tcp></session>`),
		"address":         wrapSessions(strings.Replace(okSession, "10.0.0.2<", "10.0.0.300<", 1) + `</session>`),
		"id pattern":      wrapSessions(`<session><id>tcp:1.2.3.4</id><address-family>ipv4</address-family><protocol>6</protocol><original><source-address>1.2.3.4</source-address><destination-address>1.2.3.5</destination-address></original></session>`),
		"duplicate key":   wrapSessions(okSession + `</session>` + okSession + `</session>`),
		"unknown element": wrapSessions(okSession + `<colour>red</colour></session>`),
		"label range":     wrapSessions(okSession + `<label>128</label></session>`),
		"decimal64":       `<flow-state xmlns="` + testNS + `"><capabilities><utilization>100.01</utilization></capabilities></flow-state>`,
		"union":           `<flow-state xmlns="` + testNS + `"><capabilities><max-sessions>lots</max-sessions></capabilities></flow-state>`,
		"identity":        `<flow-state xmlns="` + testNS + `"><capabilities><features>teleport</features></capabilities></flow-state>`,
	}
	for name, doc := range bad {
		t.Run(name, func(t *testing.T) {
			if err := c.Unmarshal([]byte(doc), &device{}); err == nil {
				t.Errorf("yangxml accepted it")
			}
			if out, err := yanglint(t, "-t", "data", modelFile, writeTemp(t, "bad.xml", []byte(doc))); err == nil {
				t.Errorf("yanglint accepted it:\n%s", out)
			}
		})
	}
}

// canonical removes the differences libyang may legitimately introduce: it
// prints leaves equal to their default as absent (-d trim) and rewrites
// date-and-time values in its canonical (UTC) form. Both sides get defaults
// filled in and timestamps normalized.
func canonical(d *device) *device {
	c, err := ygot.DeepCopy(d)
	if err != nil {
		panic(err)
	}
	out := c.(*device)
	out.PopulateDefaults()
	for _, s := range out.GetFlowState().GetSessions().Session {
		if tm := s.Timers; tm != nil {
			tm.Created = normTime(tm.Created)
			tm.LastSeen = normTime(tm.LastSeen)
		}
	}
	return out
}

func normTime(p *string) *string {
	if p == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *p)
	if err != nil {
		return p
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}
