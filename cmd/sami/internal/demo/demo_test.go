package demo_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/root"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// sami builds the real binary once per test run.
func sami(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sami-demo-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sami")
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command(goBin, "build", "-o", binPath, "github.com/sami-netops/sami/cmd/sami").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building sami: %v\n%s", buildErr, binPath)
	}
	return binPath
}

func runBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(sami(t), args...)
	cmd.Env = append(os.Environ(), "SAMI_INVENTORY=", "SAMI_JOURNAL=", "SAMI_CONFIG=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// TestDemoBinary runs the real `sami demo`, as `make demo` does (smaller).
func TestDemoBinary(t *testing.T) {
	for _, mode := range []string{"--precopy", "--planned"} {
		t.Run(mode, func(t *testing.T) {
			out, errOut, code := runBin(t, "demo", "--sessions", "500", mode)
			if code != 0 {
				t.Fatalf("sami demo %s: exit %d\nstdout:\n%s\nstderr:\n%s", mode, code, out, errOut)
			}
			for _, want := range []string{
				"fwA  sami-sim", "fwB  ipv4-only", "holds 500 sessions of VM 10.1.0.5",
				"Sessions   500 moved, 0 left behind", "match", "PHASE", "stage", "eliminate",
				"fwA holds none of the VM's sessions      ok",
				"fwA still holds every other session      ok      250 of 250",
				"fwB holds every session of the VM        ok      500 of 500",
				"demo passed",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if mode == "--precopy" && !strings.Contains(out, "Blackout") {
				t.Errorf("pre-copy output lacks the blackout:\n%s", out)
			}
			t.Logf("\n%s", out)
		})
	}
}

func TestDemoJSON(t *testing.T) {
	out, errOut, code := runBin(t, "demo", "--sessions", "200", "--others", "50", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Passed bool `json:"passed"`
		Report struct {
			Sessions int    `json:"sessions"`
			Status   string `json:"status"`
		} `json:"report"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not JSON (the narration belongs on stderr): %v\n%s", err, out)
	}
	if !res.Passed || res.Report.Sessions != 200 || len(res.Checks) < 5 {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(errOut, "sami demo: two simulated firewalls") {
		t.Errorf("the narration is not on stderr:\n%s", errOut)
	}
}

// TestDemoErrors runs the command in-process: bad flags are usage errors,
// a VM that does not fit fwB is refused before anything is written.
func TestDemoErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no sessions", []string{"demo", "--sessions", "0"}, app.ExitUsage, "--sessions 0: give 1 to 200000"},
		{"negative rate", []string{"demo", "--rate", "-1"}, app.ExitUsage, "--rate -1"},
		{"both modes", []string{"demo", "--precopy", "--planned"}, app.ExitUsage, "--precopy and --planned: choose one"},
		{"bad output", []string{"demo", "-o", "xml"}, app.ExitUsage, `"xml" for -o`},
		{"capacity", []string{"demo", "--sessions", "120", "--capacity", "100", "--rate", "0"}, app.ExitRefused, "120 sessions must move but only 100 fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SAMI_INVENTORY", "")
			var out, errw bytes.Buffer
			code := root.Run(tc.args, strings.NewReader(""), &out, &errw)
			if code != tc.code || !strings.Contains(errw.String(), tc.want) {
				t.Errorf("exit %d, want %d; stderr %q, want it to name %q", code, tc.code, errw.String(), tc.want)
			}
		})
	}
}
