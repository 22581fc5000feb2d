package journal

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// stepClock returns t0, t0+1s, t0+2s, ...: deterministic and increasing.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		c.t = t0
	}
	t := c.t
	c.t = c.t.Add(time.Second)
	return t
}

// open opens a fresh journal in a temporary directory (durable, as in
// production, unless opts say otherwise) and closes it at the end of the
// test.
func open(t testing.TB, opts ...Option) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	return openAt(t, path, opts...), path
}

func openAt(t testing.TB, path string, opts ...Option) *Journal {
	t.Helper()
	c := &stepClock{}
	j, err := Open(path, append([]Option{WithClock(c.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func mustCreate(t testing.TB, j *Journal, r *Record) *Record {
	t.Helper()
	if err := j.Create(context.Background(), r); err != nil {
		t.Fatalf("Create(%q): %v", r.ID, err)
	}
	return r
}

func mustAppend(t testing.TB, j *Journal, id string, e Entry) Entry {
	t.Helper()
	got, err := j.Append(context.Background(), id, e)
	if err != nil {
		t.Fatalf("Append(%q, %s): %v", id, e.Phase, err)
	}
	return got
}

// wantErr checks err against a sentinel (nil: no error) and a fragment of
// its message.
func wantErr(t *testing.T, err, sentinel error, fragment string) {
	t.Helper()
	switch {
	case sentinel == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case sentinel == nil:
	case !errors.Is(err, sentinel):
		t.Fatalf("error %v, want %v", err, sentinel)
	case !strings.Contains(err.Error(), fragment):
		t.Fatalf("error %q does not say %q", err, fragment)
	}
}

func TestCreateAppendFinishGet(t *testing.T) {
	ctx := context.Background()
	j, _ := open(t)
	r := mustCreate(t, j, &Record{ID: "m1", Kind: "migrate", Requester: "alice",
		Plan:   json.RawMessage(`{ "sources": ["fwA"], "destinations": ["fwB"] }`),
		Status: Failed, Result: json.RawMessage(`1`), Error: "stale"})
	if r.Status != Running || !r.Created.Equal(t0) || r.Result != nil || r.Error != "" {
		t.Fatalf("Create did not fill in the record: %+v", r)
	}
	e1 := mustAppend(t, j, "m1", Entry{Seq: 99, Phase: "stage", Device: "fwB", Data: json.RawMessage(`{"persist_id": "p1"}`)})
	e2 := mustAppend(t, j, "m1", Entry{Phase: "commit", Device: "fwB", Time: t0.Add(time.Hour).In(time.FixedZone("x", 3600)), Note: "confirmed, 600s"})
	if e1.Seq != 1 || e2.Seq != 2 {
		t.Fatalf("seqs %d, %d; want 1, 2", e1.Seq, e2.Seq)
	}
	if err := j.Finish(ctx, "m1", Done, json.RawMessage(`{"sessions": 3}`), ""); err != nil {
		t.Fatal(err)
	}
	got, err := j.Get(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	want := &Record{ID: "m1", Kind: "migrate", Requester: "alice", Created: t0, Updated: t0.Add(4 * time.Second),
		Status: Done, Phase: "commit",
		Plan: json.RawMessage(`{"sources":["fwA"],"destinations":["fwB"]}`),
		Entries: []Entry{
			{Seq: 1, Time: t0.Add(time.Second), Phase: "stage", Device: "fwB", Data: json.RawMessage(`{"persist_id":"p1"}`)},
			{Seq: 2, Time: t0.Add(time.Hour), Phase: "commit", Device: "fwB", Note: "confirmed, 600s"},
		},
		Result: json.RawMessage(`{"sessions":3}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	j, _ := open(t)
	mustCreate(t, j, &Record{ID: "run"})
	mustCreate(t, j, &Record{ID: "fin"})
	if err := j.Finish(ctx, "fin", RolledBack, nil, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		op       func() error
		sentinel error
		fragment string
	}{
		{"create nil", func() error { return j.Create(ctx, nil) }, ErrInvalid, "nil record"},
		{"create exists", func() error { return j.Create(ctx, &Record{ID: "run"}) }, ErrExists, `"run"`},
		{"create id with space", func() error { return j.Create(ctx, &Record{ID: "a b"}) }, ErrInvalid, `record id "a b" contains ' '`},
		{"create id control", func() error { return j.Create(ctx, &Record{ID: "a\x00"}) }, ErrInvalid, `contains '\x00'`},
		{"create id not utf8", func() error { return j.Create(ctx, &Record{ID: "\xff"}) }, ErrInvalid, "not UTF-8"},
		{"create id too long", func() error { return j.Create(ctx, &Record{ID: strings.Repeat("x", 201)}) }, ErrInvalid, "201 bytes"},
		{"create bad plan", func() error { return j.Create(ctx, &Record{ID: "p", Plan: json.RawMessage(`{`)}) }, ErrInvalid, "plan of record p is not valid JSON"},
		{"create bad entry", func() error { return j.Create(ctx, &Record{ID: "p", Entries: []Entry{{}}}) }, ErrInvalid, "empty phase"},
		{"append unknown", func() error { _, err := j.Append(ctx, "nope", Entry{Phase: "x"}); return err }, ErrNotFound, `append to record "nope"`},
		{"append finished", func() error { _, err := j.Append(ctx, "fin", Entry{Phase: "x"}); return err }, ErrFinished, `record "fin": it is rolled-back`},
		{"append empty phase", func() error { _, err := j.Append(ctx, "run", Entry{}); return err }, ErrInvalid, "empty phase"},
		{"append bad data", func() error {
			_, err := j.Append(ctx, "run", Entry{Phase: "stage", Data: json.RawMessage(`{"a":}`)})
			return err
		}, ErrInvalid, `data of stage entry for record "run" is not valid JSON`},
		{"append empty id", func() error { _, err := j.Append(ctx, "", Entry{Phase: "x"}); return err }, ErrInvalid, "empty record id"},
		{"finish running status", func() error { return j.Finish(ctx, "run", Running, nil, "") }, ErrInvalid, `status "running"`},
		{"finish unknown status", func() error { return j.Finish(ctx, "run", "ok", nil, "") }, ErrInvalid, `status "ok"`},
		{"finish twice", func() error { return j.Finish(ctx, "fin", Done, nil, "") }, ErrFinished, `finish record "fin"`},
		{"finish unknown", func() error { return j.Finish(ctx, "nope", Done, nil, "") }, ErrNotFound, `"nope"`},
		{"finish bad result", func() error { return j.Finish(ctx, "run", Done, json.RawMessage(`x`), "") }, ErrInvalid, "result of record run"},
		{"get unknown", func() error { _, err := j.Get(ctx, "nope"); return err }, ErrNotFound, `record "nope"`},
		{"list negative limit", func() error { _, err := j.List(ctx, Filter{Limit: -1}); return err }, ErrInvalid, "negative limit"},
		{"list bad status", func() error { _, err := j.List(ctx, Filter{Status: []Status{"x"}}); return err }, ErrInvalid, `status "x"`},
		{"cancelled", func() error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := j.Append(ctx, "run", Entry{Phase: "x"})
			return err
		}, context.Canceled, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.op(), tt.sentinel, tt.fragment) })
	}
	// None of the failed writes left a trace.
	r, err := j.Get(ctx, "run")
	if err != nil || len(r.Entries) != 0 || r.Status != Running {
		t.Fatalf("after failed writes: %+v, %v", r, err)
	}
	if _, err := j.Get(ctx, "p"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused Create left record p: %v", err)
	}
}

func TestCreateGeneratesID(t *testing.T) {
	j, _ := open(t)
	a := mustCreate(t, j, &Record{Kind: "precopy", Entries: []Entry{{Phase: "plan"}, {Phase: "read", Device: "fwA"}}})
	b := mustCreate(t, j, &Record{Kind: "precopy"})
	if a.ID >= b.ID {
		t.Fatalf("ids %q, %q not increasing", a.ID, b.ID)
	}
	if ts, err := IDTime(a.ID); err != nil || !ts.Equal(t0) {
		t.Fatalf("IDTime(%q) = %v, %v; want the journal clock's %v", a.ID, ts, err, t0)
	}
	if a.Phase != "read" || len(a.Entries) != 2 || a.Entries[1].Seq != 2 {
		t.Fatalf("initial entries not filled in: %+v", a)
	}
	// Appends continue the initial entries' sequence.
	if e := mustAppend(t, j, a.ID, Entry{Phase: "stage"}); e.Seq != 3 {
		t.Fatalf("seq after 2 initial entries = %d", e.Seq)
	}
}

// seed makes records m0..m4, created an hour apart, finished alternately.
func seed(t *testing.T, j *Journal) {
	t.Helper()
	ctx := context.Background()
	statuses := []Status{Done, Running, Failed, Running, RolledBack}
	for i, st := range statuses {
		id := "m" + string(rune('0'+i))
		mustCreate(t, j, &Record{ID: id, Created: t0.Add(time.Duration(i) * time.Hour)})
		mustAppend(t, j, id, Entry{Phase: "stage"})
		if st != Running {
			if err := j.Finish(ctx, id, st, nil, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func ids(rs []*Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestList(t *testing.T) {
	ctx := context.Background()
	j, _ := open(t)
	seed(t, j)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all newest first", Filter{}, []string{"m4", "m3", "m2", "m1", "m0"}},
		{"limit", Filter{Limit: 2}, []string{"m4", "m3"}},
		{"status", Filter{Status: []Status{Running}}, []string{"m3", "m1"}},
		{"two statuses", Filter{Status: []Status{Done, Failed}}, []string{"m2", "m0"}},
		{"since", Filter{Since: t0.Add(2 * time.Hour)}, []string{"m4", "m3", "m2"}},
		{"since and status and limit", Filter{Since: t0.Add(time.Hour), Status: []Status{Running, Failed}, Limit: 2}, []string{"m3", "m2"}},
		{"since after all", Filter{Since: t0.Add(10 * time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := j.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			for _, r := range got {
				if len(r.Entries) != 0 {
					t.Errorf("%s: entries without WithEntries", r.ID)
				}
			}
		})
	}
	got, err := j.List(ctx, Filter{Limit: 1, WithEntries: true})
	if err != nil || len(got) != 1 || len(got[0].Entries) != 1 {
		t.Fatalf("WithEntries: %+v, %v", got, err)
	}
}

func TestUnfinishedAndReopen(t *testing.T) {
	ctx := context.Background()
	j, path := open(t)
	seed(t, j)
	mustAppend(t, j, "m1", Entry{Phase: "commit", Data: json.RawMessage(`{"persist_id":"p-m1"}`)})
	before, err := j.List(ctx, Filter{WithEntries: true})
	if err != nil {
		t.Fatal(err)
	}
	// Close without finishing m1 and m3: what a stopped engine leaves.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openAt(t, path)
	after, err := j.List(ctx, Filter{WithEntries: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("records changed across Close/Open (-before +after):\n%s", diff)
	}
	un, err := j.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"m1", "m3"}, ids(un)); diff != "" {
		t.Fatalf("Unfinished oldest first (-want +got):\n%s", diff)
	}
	last := un[0].Entries[len(un[0].Entries)-1]
	if un[0].Phase != "commit" || string(last.Data) != `{"persist_id":"p-m1"}` {
		t.Fatalf("the engine cannot resume m1 from %+v", un[0])
	}
	// The engine resolves them; nothing is left.
	for _, r := range un {
		if err := j.Finish(ctx, r.ID, RolledBack, nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	if un, err := j.Unfinished(ctx); err != nil || len(un) != 0 {
		t.Fatalf("Unfinished after Finish: %v, %v", ids(un), err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	j, _ := open(t)
	mustCreate(t, j, &Record{ID: "a"})
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		op   func() error
	}{
		{"close", j.Close},
		{"create", func() error { return j.Create(ctx, &Record{ID: "b"}) }},
		{"append", func() error { _, err := j.Append(ctx, "a", Entry{Phase: "x"}); return err }},
		{"get", func() error { _, err := j.Get(ctx, "a"); return err }},
		{"list", func() error { _, err := j.List(ctx, Filter{}); return err }},
		{"unfinished", func() error { _, err := j.Unfinished(ctx); return err }},
		{"audit", func() error { return j.Audit(ctx, AuditRecord{Action: "x"}) }},
		{"checkpoint", func() error { _, _, err := j.Checkpoint(ctx, "fw"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.op(), ErrClosed, "closed") })
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked.db")
	openAt(t, locked)
	notJournal := filepath.Join(dir, "text")
	writeFile(t, notJournal, strings.Repeat("not a database\n", 1000))
	tests := []struct {
		name     string
		path     string
		opts     []Option
		sentinel error
		fragment string
	}{
		{"second open times out", locked, []Option{WithOpenTimeout(100 * time.Millisecond)}, ErrLocked, locked + ": still locked after 100ms"},
		{"empty path", "", nil, ErrInvalid, "empty path"},
		{"zero timeout", filepath.Join(dir, "x.db"), []Option{WithOpenTimeout(0)}, ErrInvalid, "open timeout 0s must be positive"},
		{"not a database", notJournal, nil, ErrCorrupt, notJournal + ": not a journal"},
		{"missing directory", filepath.Join(dir, "no", "j.db"), nil, nil, ""},
		{"read-only missing file", filepath.Join(dir, "absent.db"), []Option{WithReadOnly()}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			j, err := Open(tt.path, tt.opts...)
			if err == nil {
				j.Close()
				t.Fatal("Open succeeded")
			}
			if tt.sentinel != nil {
				wantErr(t, err, tt.sentinel, tt.fragment)
			} else if !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("error %q does not name the path", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Open took %v", d)
			}
		})
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	j, path := open(t)
	seed(t, j)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	r1 := openAt(t, path, WithReadOnly())
	r2 := openAt(t, path, WithReadOnly()) // readers share the file
	for _, r := range []*Journal{r1, r2} {
		if un, err := r.Unfinished(ctx); err != nil || len(un) != 2 {
			t.Fatalf("Unfinished read-only: %v, %v", ids(un), err)
		}
	}
	_, err := r1.Append(ctx, "m1", Entry{Phase: "x"})
	wantErr(t, err, ErrReadOnly, "read-only")
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	j, _ := open(t)
	seed(t, j) // updated times are those of the step clock: t0 .. t0+14s
	n, err := j.Prune(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune before m1 = %d, %v; want 1 (m0)", n, err)
	}
	n, err = j.Prune(ctx, t0.Add(24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Prune all = %d, %v; want 2 (m2, m4; m1 and m3 run)", n, err)
	}
	got, err := j.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"m3", "m1"}, ids(got)); diff != "" {
		t.Errorf("left after Prune (-want +got):\n%s", diff)
	}
	if _, err := j.Get(ctx, "m0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned m0 still there: %v", err)
	}
}

// TestTimesStoredUTC: a time given in any zone reads back equal, in UTC.
func TestTimesStoredUTC(t *testing.T) {
	j, _ := open(t)
	zone := time.FixedZone("CET", 3600)
	r := mustCreate(t, j, &Record{ID: "z", Created: time.Date(2026, 1, 1, 1, 0, 0, 5, zone)})
	got, err := j.Get(context.Background(), "z")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-created +read):\n%s", diff)
	}
	if got.Created.Location() != time.UTC || got.Created.Hour() != 0 || got.Created.Nanosecond() != 5 {
		t.Errorf("created read back as %v", got.Created)
	}
}
