package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentMigrations: 50 migrations, each appending 20 entries at the
// same time as the others (durable, with fsync), plus all of them appending
// to one shared record. Every entry is there once, in order.
func TestConcurrentMigrations(t *testing.T) {
	const workers, appends = 50, 20
	ctx := context.Background()
	j, path := open(t)
	mustCreate(t, j, &Record{ID: "shared"})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			id := fmt.Sprintf("m%02d", w)
			if err := j.Create(ctx, &Record{ID: id, Kind: "migrate"}); err != nil {
				errs <- err
				return
			}
			for i := range appends {
				e, err := j.Append(ctx, id, Entry{Phase: "step", Note: fmt.Sprint(i)})
				if err != nil {
					errs <- err
					return
				}
				if e.Seq != uint64(i+1) {
					errs <- fmt.Errorf("%s: entry %d got seq %d", id, i, e.Seq)
					return
				}
				if _, err := j.Append(ctx, "shared", Entry{Phase: "step", Device: id, Note: fmt.Sprint(i)}); err != nil {
					errs <- err
					return
				}
				// Readers run alongside the writers.
				if i%5 == 0 {
					if _, err := j.Get(ctx, id); err != nil {
						errs <- err
						return
					}
				}
			}
			if err := j.Finish(ctx, id, Done, json.RawMessage(`{}`), ""); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	// Check after a reopen: what is acknowledged is on disk.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openAt(t, path)
	all, err := j.List(ctx, Filter{Status: []Status{Done}, WithEntries: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != workers {
		t.Fatalf("%d finished records, want %d", len(all), workers)
	}
	for _, r := range all {
		for i, e := range r.Entries {
			if e.Seq != uint64(i+1) || e.Note != fmt.Sprint(i) {
				t.Fatalf("%s entry %d: %+v", r.ID, i, e)
			}
		}
		if len(r.Entries) != appends {
			t.Fatalf("%s: %d entries", r.ID, len(r.Entries))
		}
	}
	shared, err := j.Get(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(shared.Entries) != workers*appends {
		t.Fatalf("shared record: %d entries, want %d", len(shared.Entries), workers*appends)
	}
	next := map[string]int{} // per writer, its entries are in its order
	for i, e := range shared.Entries {
		if e.Seq != uint64(i+1) {
			t.Fatalf("shared entry %d has seq %d", i, e.Seq)
		}
		if e.Note != fmt.Sprint(next[e.Device]) {
			t.Fatalf("shared: %s's entries out of order at seq %d: %q", e.Device, e.Seq, e.Note)
		}
		next[e.Device]++
	}
}

// TestGroupCommitIsolation: one bad write in a shared commit fails alone.
func TestGroupCommitIsolation(t *testing.T) {
	ctx := context.Background()
	j, _ := open(t)
	mustCreate(t, j, &Record{ID: "ok"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var okErrs, badErrs []error
	for i := range 40 {
		wg.Go(func() {
			id := "ok"
			if i%4 == 0 {
				id = "missing"
			}
			_, err := j.Append(ctx, id, Entry{Phase: "p"})
			mu.Lock()
			defer mu.Unlock()
			if id == "ok" {
				okErrs = append(okErrs, err)
			} else {
				badErrs = append(badErrs, err)
			}
		})
	}
	wg.Wait()
	for _, err := range okErrs {
		if err != nil {
			t.Errorf("good append failed: %v", err)
		}
	}
	for _, err := range badErrs {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("bad append: %v, want ErrNotFound", err)
		}
	}
	r, err := j.Get(ctx, "ok")
	if err != nil || len(r.Entries) != 30 || r.Entries[29].Seq != 30 {
		t.Fatalf("ok record after mixed batch: %d entries, %v", len(r.Entries), err)
	}
}

// TestCancelledWriteNotWritten: a write whose context ends while it waits
// for the commit either returns the context's error and is not in the
// journal, or returns nil and is.
func TestCancelledWriteNotWritten(t *testing.T) {
	j, _ := open(t)
	mustCreate(t, j, &Record{ID: "c"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for i := range 200 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%10)*100*time.Microsecond)
			defer cancel()
			_, err := j.Append(ctx, "c", Entry{Phase: "p"})
			switch {
			case err == nil:
				mu.Lock()
				acked++
				mu.Unlock()
			case !errors.Is(err, context.DeadlineExceeded):
				t.Errorf("Append: %v", err)
			}
		})
	}
	wg.Wait()
	r, err := j.Get(context.Background(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != acked {
		t.Fatalf("%d entries stored, %d acknowledged", len(r.Entries), acked)
	}
	t.Logf("%d of 200 acknowledged before their deadline", acked)
}

// TestCloseWaitsForWrites: Close during writes lets the acknowledged ones
// finish and refuses the rest with ErrClosed.
func TestCloseWaitsForWrites(t *testing.T) {
	ctx := context.Background()
	j, path := open(t)
	mustCreate(t, j, &Record{ID: "w"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for range 20 {
		wg.Go(func() {
			for {
				_, err := j.Append(ctx, "w", Entry{Phase: "p"})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		})
	}
	// Close while the writers are going: once some appends were
	// acknowledged (a fixed pause may see none on a slow disk).
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := acked
		mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("only %d appends acknowledged in 30 s", n)
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	j = openAt(t, path)
	r, err := j.Get(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != acked || acked == 0 {
		t.Fatalf("%d entries stored, %d acknowledged", len(r.Entries), acked)
	}
}

// The crash test runs itself as a child that is killed (SIGKILL) right after
// its appends are acknowledged: no Close, no deferred code.
const (
	crashEnv = "JOURNAL_TEST_CRASH_PATH"
	holdEnv  = "JOURNAL_TEST_HOLD_PATH" // open, say so, hold until stdin closes
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if path := os.Getenv(holdEnv); path != "" {
		j, err := Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("open")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = j.Close()
		return
	}
	os.Exit(m.Run())
}

// TestOpenLockedByOtherProcess: a journal held by another process is a
// clear error after the open timeout, and opens once that process is gone.
func TestOpenLockedByOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "open\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	start := time.Now()
	_, err = Open(path, WithOpenTimeout(300*time.Millisecond))
	wantErr(t, err, ErrLocked, path+": still locked after 300ms (is another sami running with this journal?)")
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("gave up after %v, timeout 300ms", d)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	openAt(t, path)
}

func crashChild(path string) {
	ctx := context.Background()
	j, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := j.Create(ctx, &Record{ID: "crashed", Kind: "migrate", Plan: json.RawMessage(`{"n":1}`)}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, phase := range []string{"stage", "commit"} {
		if _, err := j.Append(ctx, "crashed", Entry{Phase: phase, Device: "fwB", Data: json.RawMessage(`{"persist_id":"x"}`)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	fmt.Println("appended")
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestUnfinishedAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL || string(out) != "appended\n" {
		t.Fatalf("child: %v, output %q", err, out)
	}
	j := openAt(t, path)
	un, err := j.Unfinished(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(un) != 1 || un[0].ID != "crashed" || un[0].Phase != "commit" || len(un[0].Entries) != 2 ||
		string(un[0].Plan) != `{"n":1}` || string(un[0].Entries[1].Data) != `{"persist_id":"x"}` {
		t.Fatalf("after the crash: %+v", un)
	}
	// The killed process's lock died with it.
	if _, err := j.Append(context.Background(), "crashed", Entry{Phase: "cancel"}); err != nil {
		t.Fatal(err)
	}
}
