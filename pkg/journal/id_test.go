package journal

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestNewIDOrder(t *testing.T) {
	prev := ""
	for range 10000 { // many in the same millisecond
		id := NewID()
		if len(id) != 26 || id <= prev {
			t.Fatalf("id %q after %q", id, prev)
		}
		prev = id
	}
	ts, err := IDTime(prev)
	if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < -time.Minute {
		t.Fatalf("IDTime(%q) = %v, %v", prev, ts, err)
	}
	// A clock that goes back does not make ids go back.
	var g idGen
	before := g.at(time.Now().Add(time.Hour))
	after := g.at(time.Now())
	if after <= before {
		t.Fatalf("id %q after a clock step back sorts before %q", after, before)
	}
}

func TestIDTime(t *testing.T) {
	tests := []struct {
		id       string
		want     time.Time
		fragment string
	}{
		{"00000000000000000000000000", time.UnixMilli(0).UTC(), ""},
		{"01ARZ3NDEKTSV4RRFFQ69G5FAV", time.UnixMilli(1469922850259).UTC(), ""}, // the ULID spec's example
		{"01arz3ndektsv4rrffq69g5fav", time.UnixMilli(1469922850259).UTC(), ""},
		{"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", time.UnixMilli(1<<48 - 1).UTC(), ""},
		{"80000000000000000000000000", time.Time{}, "overflows 48 bits"},
		{"0000000000000000000000000", time.Time{}, "25 characters"},
		{"0000000000000000000000000U", time.Time{}, `character 26 ('U')`},
		{"", time.Time{}, "0 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := IDTime(tt.id)
			if tt.fragment != "" {
				wantErr(t, err, ErrInvalid, tt.fragment)
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("IDTime = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func FuzzIDTime(f *testing.F) {
	f.Add(NewID())
	f.Add("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
	f.Add("zzzzzzzzzzzzzzzzzzzzzzzzzz")
	f.Fuzz(func(t *testing.T, id string) {
		ts, err := IDTime(id)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		// A valid id's time re-encodes to its first 10 characters.
		if got := encodeID(uint64(ts.UnixMilli()), [10]byte{})[:10]; got != strings.ToUpper(id[:10]) {
			t.Fatalf("IDTime(%q) = %v, re-encoded %q", id, ts, got)
		}
	})
}

// FuzzDecode feeds arbitrary stored bytes to the decoders of everything the
// journal reads back: they must report damage, never panic or accept a value
// that breaks their invariants.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"m1","created":"2026-03-01T12:00:00Z","updated":"2026-03-01T12:00:00Z","status":"running"}`), []byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte(`{"seq":1,"time":"2026-03-01T12:00:00Z","phase":"stage","data":{"a":1}}`), []byte{0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte(`{"time":"2026-03-01T12:00:00Z","action":"migrate","sessions":3}`), make([]byte, 16))
	f.Add([]byte(`{"taken":"2026-03-01T12:00:00Z","size":0,"crc32c":0}`), []byte{})
	f.Add([]byte(`{} {}`), []byte("k"))
	f.Fuzz(func(t *testing.T, v, k []byte) {
		if d, err := decodeRecord("m1", v); err == nil && (d.ID != "m1" || !d.Status.Valid()) {
			t.Fatalf("decodeRecord accepted %+v", d)
		} else if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeRecord: %v is not ErrCorrupt", err)
		}
		if e, err := decodeEntry("m1", k, v); err == nil {
			if len(k) != 8 || e.Seq == 0 && string(k) != "\x00\x00\x00\x00\x00\x00\x00\x00" {
				t.Fatalf("decodeEntry accepted key %x: %+v", k, e)
			}
			if len(e.Data) != 0 && !json.Valid(e.Data) {
				t.Fatalf("decodeEntry accepted data %q", e.Data)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeEntry: %v is not ErrCorrupt", err)
		}
		if a, err := decodeAudit(k, v); err == nil && (a.Action == "" || len(k) != 16) {
			t.Fatalf("decodeAudit accepted %+v", a)
		} else if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeAudit: %v is not ErrCorrupt", err)
		}
	})
}

// FuzzStoredRecord writes arbitrary bytes where a record's meta belongs and
// reads the journal through its public API: a damaged record is an error
// naming it, never a panic, and never hides the healthy record next to it.
func FuzzStoredRecord(f *testing.F) {
	f.Add([]byte(`{"id":"bad","status":"done"}`))
	f.Add([]byte(`{"id":"bad","status":"running","created":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	path := f.TempDir() + "/journal.db"
	j, err := Open(path, WithNoSync())
	if err != nil {
		f.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	for _, id := range []string{"bad", "good"} {
		if err := j.Create(ctx, &Record{ID: id, Created: t0}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, meta []byte) {
		err := j.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bRecords).Bucket([]byte("bad")).Put(kMeta, append([]byte{}, meta...))
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Get(ctx, "bad"); err != nil && !strings.Contains(err.Error(), `"bad"`) {
			t.Fatalf("Get: error %v does not name the record", err)
		}
		all, err := j.List(ctx, Filter{WithEntries: true})
		found := false
		for _, r := range all {
			found = found || r.ID == "good"
		}
		if !found {
			t.Fatalf("List lost the healthy record: %v", err)
		}
		if _, err := j.Unfinished(ctx); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Unfinished: %v", err)
		}
		_, _ = j.Append(ctx, "bad", Entry{Phase: "x"})
	})
}
