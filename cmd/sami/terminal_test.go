package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

// runPTY runs sami on a terminal (stdin, stdout and stderr), types input,
// and returns what the terminal showed (ANSI stripped) and the exit code.
func runPTY(t *testing.T, env []string, input string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(samiBin, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if input != "" {
		if _, err := f.WriteString(input); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&out, f); close(done) }() // ends with EIO when sami exits
	werr := cmd.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("terminal output did not end")
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	return ansi.ReplaceAllString(out.String(), ""), code
}

// TestTerminal runs sami migrate on a pty: the progress bars are drawn
// (progress auto: on a terminal), then the final table, after them; without
// --yes the plan is shown and the answer decides.
func TestTerminal(t *testing.T) {
	l := newLab(t)
	env := l.env(filepath.Join(t.TempDir(), "journal.db"))
	env = append(env, "SAMI_PROGRESS=auto")
	if err := l.fws["fw1"].Upsert(t.Context(), vmFlows("10.7.0.1", 40)); err != nil {
		t.Fatal(err)
	}
	t.Run("--yes", func(t *testing.T) {
		out, code := runPTY(t, env, "", "migrate", "--endpoint", "10.7.0.1", "--from", "s-fw1", "--to", "s-fw2", "--yes")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, want := range []string{"snapshot fw1", "stage fw2", "40/40", "verify fw2", "eliminate fw1", "Sessions   40 moved, 0 left behind"} {
			if !strings.Contains(out, want) {
				t.Errorf("terminal lacks %q:\n%s", want, out)
			}
		}
		// The table comes after the last bar, not through it.
		if bar, table := strings.LastIndex(out, "eliminate fw1"), strings.Index(out, "Migration  "); bar < 0 || table < bar {
			t.Errorf("final table (at %d) not after the bars (last at %d):\n%s", table, bar, out)
		}
		if !strings.Contains(out, "PHASE      TIME") {
			t.Errorf("no phase timings:\n%s", out)
		}
		t.Logf("terminal:\n%s", out)
	})
	t.Run("asked, no", func(t *testing.T) {
		out, code := runPTY(t, env, "n\n", "migrate", "--endpoint", "10.7.0.1", "--from", "s-fw2", "--to", "s-fw1")
		if code != 1 || !strings.Contains(out, "Migrate? [y/N]") || !strings.Contains(out, "not confirmed: nothing was written") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if !strings.Contains(out, "Plan (dry run, nothing written)") {
			t.Errorf("no plan before the question:\n%s", out)
		}
		if n, _ := l.count("fw2", "10.7.0.1"); n != 40 {
			t.Errorf("fw2 holds %d, want 40 (nothing written)", n)
		}
	})
	t.Run("asked, yes", func(t *testing.T) {
		out, code := runPTY(t, env, "y\n", "migrate", "--endpoint", "10.7.0.1", "--from", "s-fw2", "--to", "s-fw1")
		if code != 0 || !strings.Contains(out, "Sessions   40 moved") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if n, _ := l.count("fw1", "10.7.0.1"); n != 40 {
			t.Errorf("fw1 holds %d, want 40", n)
		}
	})
}

// TestReplicateThenUnplanned: sami replicate prints checkpoints until
// interrupted (exit 0); when the device is gone, sami migrate --unplanned
// installs the last checkpoint elsewhere.
func TestReplicateThenUnplanned(t *testing.T) {
	l := newLab(t)
	env := l.env(filepath.Join(t.TempDir(), "journal.db"))
	if err := l.fws["fw1"].Upsert(t.Context(), vmFlows("10.8.0.1", 9)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(samiBin, "replicate", "fw1", "--interval", "100ms", "-o", "json")
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	checkpointed := false
	for !checkpointed && sc.Scan() {
		var line struct {
			Device     string     `json:"device"`
			Sessions   int        `json:"sessions"`
			Checkpoint *time.Time `json:"checkpoint"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		checkpointed = line.Device == "fw1" && line.Sessions == 9 && line.Checkpoint != nil
	}
	if !checkpointed {
		cmd.Process.Kill()
		t.Fatalf("no checkpoint printed; stderr:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("replicate after Ctrl-C: %v\n%s", err, stderr.String())
	}

	l.agents["fw1"].Stop() // the source is gone
	mig := exec.Command(samiBin, "migrate", "--unplanned", "--endpoint", "10.8.0.1", "--from", "s-fw1", "--to", "s-fw2", "--yes")
	mig.Env = append(os.Environ(), env...)
	out, err := mig.CombinedOutput()
	if err != nil {
		t.Fatalf("unplanned migrate: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "unplanned") || !strings.Contains(string(out), "old when installed") {
		t.Errorf("report:\n%s", out)
	}
	if n, _ := l.count("fw2", "10.8.0.1"); n != 9 {
		t.Errorf("fw2 holds %d sessions of the VM, want 9\n%s", n, out)
	}
}
