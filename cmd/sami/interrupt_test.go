package main_test

import (
	"bufio"
	"bytes"
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
)

// TestInterruptedMigration: Ctrl-C in the middle of a migration. Before
// the destination confirmed, sami rolls it back, leaves the source as it
// was and exits 1; after, the migration stays open in the journal (exit 6)
// and sami journal resume finishes it. The device being interrupted takes
// a second for every write, so the signal lands inside its phase.
func TestInterruptedMigration(t *testing.T) {
	for _, tc := range []struct {
		name, vm   string
		from, to   string // devices
		slow       string // the device that takes its time
		phase      string // the phase to interrupt, at slow
		code       int
		status     string // in the report
		src, dst   int    // sessions of the VM after the interrupted run
		resumeToDo bool
	}{
		{name: "before confirm", vm: "10.9.0.1", from: "fw3", to: "fw4", slow: "fw4", phase: "commit",
			code: 1, status: "rolled-back", src: 30, dst: 0},
		{name: "after confirm", vm: "10.9.0.2", from: "fw3", to: "fw4", slow: "fw3", phase: "eliminate",
			code: 6, status: "running", src: 30, dst: 30, resumeToDo: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			env := l.env(filepath.Join(t.TempDir(), "journal.db"))
			if err := l.fws[tc.from].Upsert(t.Context(), vmFlows(tc.vm, 30)); err != nil {
				t.Fatal(err)
			}
			l.fws[tc.slow].SetLatency(time.Second)
			run := func(args ...string) (string, int) {
				t.Helper()
				c := exec.Command(samiBin, args...)
				c.Env = append(os.Environ(), env...)
				out, err := c.CombinedOutput()
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatal(err)
				}
				return string(out), c.ProcessState.ExitCode()
			}
			out, logged, code := interrupt(t, env, "phase="+tc.phase+" device="+tc.slow,
				"migrate", "--endpoint", tc.vm, "--from", "s-"+tc.from, "--to", "s-"+tc.to, "--yes",
				"--confirm-timeout", "30s", "--log-level", "info")
			if code != tc.code {
				t.Fatalf("migrate after Ctrl-C exited %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, logged)
			}
			if !regexp.MustCompile(`(?m)^Migration +\S+ +planned +` + tc.status + ` `).MatchString(out) {
				t.Errorf("the report does not say %s:\n%s", tc.status, out)
			}
			if !strings.Contains(logged, "sami: interrupted: ") && tc.code == 1 {
				t.Errorf("the error does not say it was interrupted:\n%s", logged)
			}
			if n, _ := l.count(tc.from, tc.vm); n != tc.src {
				t.Errorf("%s holds %d sessions of the VM, want %d", tc.from, n, tc.src)
			}
			if n, _ := l.count(tc.to, tc.vm); n != tc.dst {
				t.Errorf("%s holds %d sessions of the VM, want %d", tc.to, n, tc.dst)
			}
			jl, _ := run("journal", "list", "--status", tc.status)
			id := regexp.MustCompile(`(?m)^(\S+) +planned +` + tc.status + ` `).FindStringSubmatch(jl)
			if id == nil {
				t.Fatalf("journal list --status %s shows no such migration:\n%s", tc.status, jl)
			}
			if !tc.resumeToDo {
				return
			}
			l.fws[tc.slow].SetLatency(0)
			if res, code := run("journal", "resume", id[1]); code != 0 {
				t.Fatalf("journal resume exited %d:\n%s", code, res)
			}
			if n, _ := l.count(tc.from, tc.vm); n != 0 {
				t.Errorf("after resume %s holds %d sessions of the VM, want 0", tc.from, n)
			}
			if n, _ := l.count(tc.to, tc.vm); n != 30 {
				t.Errorf("after resume %s holds %d sessions of the VM, want 30", tc.to, n)
			}
		})
	}
}

// interrupt runs sami with args, sends it SIGINT once its stderr logged a
// migration phase line containing at (and 200 ms more, for the phase's
// call to reach the device), and returns its stdout, stderr and exit code.
func interrupt(t *testing.T, env []string, at string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(samiBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	sc := bufio.NewScanner(stderr)
	reached := false
	for !reached && sc.Scan() {
		logged.WriteString(sc.Text() + "\n")
		reached = strings.Contains(sc.Text(), `msg="migration phase"`) && strings.Contains(sc.Text(), at)
	}
	if !reached {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("sami never logged %q:\n%s", at, logged.String())
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stderr)
	logged.Write(rest)
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), logged.String(), cmd.ProcessState.ExitCode()
}
