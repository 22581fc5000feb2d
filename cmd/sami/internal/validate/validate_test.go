package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	mt "github.com/sami-netops/sami/pkg/mapping/mappingtest"
)

const fixtures = "../../../../pkg/mapping/testdata"

// run executes sami validate with args and -o output; it returns stdout
// and the exit code.
func run(t *testing.T, output string, args ...string) (string, int) {
	t.Helper()
	var out, errw bytes.Buffer
	a := app.New(strings.NewReader(""), &out, &errw)
	a.V.Set(app.KeyOutput, output)
	cmd := New(a)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errw)
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		out.WriteString("ERROR: " + err.Error())
	}
	return out.String(), app.ExitCode(err)
}

func brokenMapping(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "acme.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(p, []byte(strings.Replace(string(b), "original/source-port: sport", "original/source-port: sprot", 1)), 0o644)
	return p
}

func TestValidate(t *testing.T) {
	yang := filepath.Join(fixtures, "yang")
	good := filepath.Join(fixtures, "acme.yaml")
	sample := filepath.Join(fixtures, "acme-reply.xml")
	for _, tc := range []struct {
		name   string
		output string
		args   []string
		code   int
		want   []string
	}{
		{"good", "table", []string{"--yang-path", yang, "--sample", sample, good}, app.ExitOK,
			[]string{"acme-fw: sample " + sample, "2 sessions", "acme-fw ", "ok", "checks passed"}},
		{"wrong mapping", "table", []string{"--yang-path", yang, "BROKEN"}, app.ExitMapping,
			[]string{"FAILED", `broken.yaml:19: fields.original/source-port: vendor path /acme-fw:fw-state/session/sprot: no node "sprot"`}},
		{"modules cannot be loaded", "table", []string{"--yang-path", t.TempDir(), good}, app.ExitModules,
			[]string{"modules", "cannot load vendor modules"}},
		{"mapping file unreadable", "table", []string{"--yang-path", yang, "nope.yaml"}, app.ExitMapping,
			[]string{"cannot read mapping"}},
		{"no yang path", "table", []string{good}, app.ExitUsage, []string{"--yang-path"}},
		{"sample without mapping name", "table", []string{"--yang-path", yang, "--sample", sample, good, "../../../../plugins/ciscoiosxe/mapping.yaml"}, app.ExitUsage,
			[]string{"MAPPING=FILE"}},
		{"bad output", "csv", []string{"--yang-path", yang, good}, app.ExitUsage, []string{"junit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string(nil), tc.args...)
			for i, a := range args {
				if a == "BROKEN" {
					args[i] = brokenMapping(t)
				}
			}
			out, code := run(t, tc.output, args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestJSONAndJUnit(t *testing.T) {
	yang := filepath.Join(fixtures, "yang")
	broken := brokenMapping(t)
	good := filepath.Join(fixtures, "acme.yaml")
	out, code := run(t, "json", "--yang-path", yang, broken)
	if code != app.ExitMapping {
		t.Errorf("exit %d", code)
	}
	var o Outcome
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &o); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if o.OK || len(o.Results) != 1 || o.Results[0].OK {
		t.Errorf("%+v", o)
	}
	out, code = run(t, "junit", "--yang-path", yang, "--sample", "acme-fw="+filepath.Join(fixtures, "acme-reply.json"), good)
	if code != app.ExitOK {
		t.Errorf("exit %d\n%s", code, out)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &suites); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if suites.Failures != 0 || len(suites.Suites) != 1 || suites.Tests < 20 || suites.Tests != len(suites.Suites[0].Cases) {
		t.Errorf("junit: %+v", suites)
	}
}

// TestRealPlugins is the CI check: the three real plugins against the real
// vendor modules, with the real Junos replies and the project's samples.
func TestRealPlugins(t *testing.T) {
	root := filepath.Dir(mt.VendorYANG(t, "juniper"))
	samples := filepath.Join(root, "juniper", "samples")
	repo := "../../../.."
	out, code := run(t, "table",
		"--yang-path", filepath.Join(root, "juniper"), "--yang-path", filepath.Join(root, "ietf"), "--yang-path", filepath.Join(root, "cisco-iosxe"),
		"--sample", "junos-srx="+filepath.Join(samples, "flow-session-brief-srx-15.1I0-ipv6.xml"),
		"--sample", "junos-srx="+filepath.Join(samples, "flow-session-brief-srx-cluster-18.2I0-source-nat.xml"),
		"--sample", "cisco-iosxe-nat="+filepath.Join(repo, "plugins/ciscoiosxe/testdata/nat-data-sample.xml"),
		"--sample", "ietf-nat="+filepath.Join(fixtures, "ietf-nat-sample.xml"),
		filepath.Join(repo, "plugins/junos/mapping.yaml"), filepath.Join(repo, "plugins/ciscoiosxe/mapping.yaml"), filepath.Join(repo, "plugins/ietfnat/mapping.yaml"))
	if code != app.ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, w := range []string{"1 sessions", "4 sessions", "2 sessions", "3 sessions", "junos-srx ", "cisco-iosxe-nat ", "ietf-nat "} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
