package journal

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// dump writes every bucket, key and value of a journal file in key order, so
// the on-disk format is pinned by a golden file: changing it means a new
// format number and a migration of old files.
func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	var walk func(prefix string, bk *bolt.Bucket)
	walk = func(prefix string, bk *bolt.Bucket) {
		if s := bk.Sequence(); s != 0 {
			fmt.Fprintf(&b, "%s (sequence %d)\n", prefix, s)
		}
		_ = bk.ForEach(func(k, v []byte) error {
			name := prefix + "/" + printable(k)
			if v == nil {
				walk(name, bk.Bucket(k))
				return nil
			}
			fmt.Fprintf(&b, "%s = %s\n", name, printable(v))
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			walk(string(name), bk)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// printable shows text as is and binary (keys with times and sequence
// numbers) as hex, with any text tail after the 8-byte binary head.
func printable(v []byte) string {
	text := utf8.Valid(v)
	for _, r := range string(v) {
		text = text && unicode.IsPrint(r)
	}
	switch {
	case text:
		return string(v)
	case len(v) > 8:
		return fmt.Sprintf("%x|%s", v[:8], printable(v[8:]))
	default:
		return fmt.Sprintf("%x", v)
	}
}

func TestLayoutGolden(t *testing.T) {
	ctx := context.Background()
	j, path := open(t)
	mustCreate(t, j, &Record{ID: "01JNKQ6X8E0000000000000000", Kind: "migrate", Requester: "alice",
		Plan: json.RawMessage(`{"sources":["fwA"],"destinations":["fwB"],"endpoint":"10.0.0.5"}`)})
	mustAppend(t, j, "01JNKQ6X8E0000000000000000", Entry{Phase: "stage", Device: "fwB", Note: "120 sessions"})
	mustAppend(t, j, "01JNKQ6X8E0000000000000000", Entry{Phase: "commit", Device: "fwB", Data: json.RawMessage(`{"persist_id":"sami-1"}`)})
	mustCreate(t, j, &Record{ID: "done-one", Kind: "precopy"})
	if err := j.Finish(ctx, "done-one", Failed, json.RawMessage(`{"left":["fwA"]}`), "fwA unreachable"); err != nil {
		t.Fatal(err)
	}
	if err := j.Audit(ctx, AuditRecord{MigrationID: "done-one", Requester: "bob", Action: "migrate", Sessions: 3, Result: "failed"}); err != nil {
		t.Fatal(err)
	}
	if err := j.PutCheckpoint(ctx, "fwA", t0, []byte("<sessions/>")); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	got := dump(t, path)
	golden := filepath.Join("testdata", "layout.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("on-disk layout changed (if on purpose: bump format, migrate old files, go test -update):\n--- want\n%s--- got\n%s", want, got)
	}
}

// corrupt rewrites one value of a closed journal file.
func corrupt(t *testing.T, path string, value []byte, keys ...string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(keys[0]))
		for _, k := range keys[1 : len(keys)-1] {
			bk = bk.Bucket([]byte(k))
		}
		return bk.Put([]byte(keys[len(keys)-1]), value)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCorruptData(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		keys     []string
		value    string
		fragment string
	}{
		{"record meta not JSON", []string{"records", "m1", "meta"}, "{", `record "m1": cannot decode: unexpected EOF`},
		{"record meta trailing data", []string{"records", "m1", "meta"}, `{"id":"m1","status":"running"} x`, `record "m1": cannot decode: trailing data`},
		{"record meta other id", []string{"records", "m1", "meta"}, `{"id":"m9","status":"running"}`, `stored under "m1" but says id "m9"`},
		{"record unknown status", []string{"records", "m1", "meta"}, `{"id":"m1","status":"paused"}`, `unknown status "paused"`},
		{"entry not JSON", []string{"records", "m1", "entries", "\x00\x00\x00\x00\x00\x00\x00\x01"}, "\x00", `entry 1 of record "m1": cannot decode`},
		{"entry wrong seq", []string{"records", "m1", "entries", "\x00\x00\x00\x00\x00\x00\x00\x01"}, `{"seq":7,"phase":"x"}`, "stored under seq 1 but says 7"},
		{"entry bad key", []string{"records", "m1", "entries", "k"}, `{}`, "is not a sequence number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, path := open(t)
			seed(t, j)
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			corrupt(t, path, []byte(tt.value), tt.keys...)
			j = openAt(t, path)
			_, err := j.Get(ctx, "m1")
			wantErr(t, err, ErrCorrupt, tt.fragment)
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.ID != "m1" {
				t.Fatalf("error %v does not carry the id", err)
			}
			// The other records are still listed, with the damage reported.
			all, err := j.List(ctx, Filter{WithEntries: true})
			wantErr(t, err, ErrCorrupt, `"m1"`)
			if diff := ids(all); len(diff) != 4 {
				t.Fatalf("List with one damaged record: %v", diff)
			}
			un, err := j.Unfinished(ctx)
			wantErr(t, err, ErrCorrupt, `"m1"`)
			if len(un) != 1 || un[0].ID != "m3" {
				t.Fatalf("Unfinished with one damaged record: %v", ids(un))
			}
			_, err = j.Append(ctx, "m1", Entry{Phase: "x"})
			if strings.HasPrefix(tt.name, "record") {
				wantErr(t, err, ErrCorrupt, `"m1"`)
			}
		})
	}
}

func TestCorruptCheckpointAndAudit(t *testing.T) {
	ctx := context.Background()
	j, path := open(t)
	if err := j.PutCheckpoint(ctx, "fwA", t0, []byte("sessions")); err != nil {
		t.Fatal(err)
	}
	if err := j.Audit(ctx, AuditRecord{Action: "migrate", MigrationID: "good"}); err != nil {
		t.Fatal(err)
	}
	if err := j.Audit(ctx, AuditRecord{Action: "migrate", MigrationID: "bad"}); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	corrupt(t, path, []byte("sessionS"), "checkpoints", "fwA", "data")
	k := string(timeKey(t0.Add(time.Second))) + "\x00\x00\x00\x00\x00\x00\x00\x02"
	corrupt(t, path, []byte(`{"action":`), "audit", k)
	j = openAt(t, path)
	_, _, err := j.Checkpoint(ctx, "fwA")
	wantErr(t, err, ErrCorrupt, `checkpoint of device "fwA": cannot decode: checksum`)
	got, err := j.Audits(ctx, AuditFilter{})
	wantErr(t, err, ErrCorrupt, `audit record "#2"`)
	if len(got) != 1 || got[0].MigrationID != "good" {
		t.Fatalf("Audits with one damaged record: %+v", got)
	}
}

func TestOpenOtherFormat(t *testing.T) {
	j, path := open(t)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	corrupt(t, path, []byte("2"), "meta", "format")
	_, err := Open(path)
	wantErr(t, err, ErrCorrupt, `journal format "2", this sami reads format "1"`)
}
