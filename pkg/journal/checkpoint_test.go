package journal

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCheckpoints(t *testing.T) {
	ctx := context.Background()
	j, path := open(t)
	if _, _, err := j.Checkpoint(ctx, "fwA"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Checkpoint of nothing: %v", err)
	}
	big := bytes.Repeat([]byte("<session>...</session>"), 1<<20) // 22 MiB
	steps := []struct {
		device string
		taken  time.Time
		data   []byte
	}{
		{"fwA", t0, []byte("v1")},
		{"fwB", t0.Add(time.Minute), nil}, // an empty table
		{"fwA", t0.Add(2 * time.Minute), big},
		{"fwA", t0.Add(3 * time.Minute), []byte("v3")}, // overwrite a big one with a small one
	}
	for _, s := range steps {
		if err := j.PutCheckpoint(ctx, s.device, s.taken, s.data); err != nil {
			t.Fatal(err)
		}
		taken, data, err := j.Checkpoint(ctx, s.device)
		if err != nil {
			t.Fatal(err)
		}
		if !taken.Equal(s.taken) || !bytes.Equal(data, s.data) {
			t.Fatalf("%s: read back %v, %d bytes; want %v, %d bytes", s.device, taken, len(data), s.taken, len(s.data))
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openAt(t, path)
	infos, err := j.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []CheckpointInfo{{Device: "fwA", Taken: t0.Add(3 * time.Minute), Size: 2}, {Device: "fwB", Taken: t0.Add(time.Minute)}}
	if diff := cmp.Diff(want, infos); diff != "" {
		t.Errorf("Checkpoints (-want +got):\n%s", diff)
	}
	if err := j.DeleteCheckpoint(ctx, "fwB"); err != nil {
		t.Fatal(err)
	}
	if err := j.DeleteCheckpoint(ctx, "fwB"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestCheckpointErrors(t *testing.T) {
	ctx := context.Background()
	j, _ := open(t)
	tests := []struct {
		name     string
		op       func() error
		sentinel error
		fragment string
	}{
		{"empty device", func() error { return j.PutCheckpoint(ctx, "", t0, nil) }, ErrInvalid, "empty device name"},
		{"zero time", func() error { return j.PutCheckpoint(ctx, "fw", time.Time{}, nil) }, ErrInvalid, `checkpoint of "fw": zero time taken`},
		{"device with newline", func() error { _, _, err := j.Checkpoint(ctx, "fw\n"); return err }, ErrInvalid, "device name"},
		{"too big", func() error {
			return j.PutCheckpoint(ctx, "fw", t0, make([]byte, MaxCheckpointSize+1))
		}, ErrInvalid, "at most 1073741824"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.op(), tt.sentinel, tt.fragment) })
	}
}

func TestAudits(t *testing.T) {
	ctx := context.Background()
	j, path := open(t)
	recs := []AuditRecord{
		{Time: t0, MigrationID: "m1", Requester: "alice", Action: "migrate", Endpoint: "10.0.0.5",
			Sources: []string{"fwA"}, Destinations: []string{"fwB"}, Sessions: 120, SourceDigest: "aa", DestinationDigest: "aa", Result: "done"},
		{Time: t0.Add(time.Hour), MigrationID: "m2", Requester: "webhook", Action: "refuse", Error: "6 sessions, 4 free slots"},
		{Time: t0.Add(time.Hour), MigrationID: "m3", Requester: "alice", Action: "migrate", Result: "rolled-back"}, // same time
		{MigrationID: "m4", Requester: "bob", Action: "migrate"},                                                   // time from the clock: t0
	}
	for _, a := range recs {
		if err := j.Audit(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, j.Audit(ctx, AuditRecord{MigrationID: "m9"}), ErrInvalid, `migration "m9": empty action`)
	wantErr(t, j.Audit(ctx, AuditRecord{Action: "x", Sessions: -1}), ErrInvalid, "negative session count")
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openAt(t, path)
	tests := []struct {
		name string
		f    AuditFilter
		want []string
	}{
		{"all newest first, ties in write order reversed", AuditFilter{}, []string{"m3", "m2", "m4", "m1"}},
		{"requester", AuditFilter{Requester: "alice"}, []string{"m3", "m1"}},
		{"action", AuditFilter{Action: "refuse"}, []string{"m2"}},
		{"migration", AuditFilter{MigrationID: "m1"}, []string{"m1"}},
		{"since", AuditFilter{Since: t0.Add(time.Hour)}, []string{"m3", "m2"}},
		{"until", AuditFilter{Until: t0.Add(time.Hour)}, []string{"m4", "m1"}},
		{"until after all", AuditFilter{Until: t0.Add(48 * time.Hour)}, []string{"m3", "m2", "m4", "m1"}},
		{"limit", AuditFilter{Limit: 3}, []string{"m3", "m2", "m4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := j.Audits(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range got {
				ids = append(ids, a.MigrationID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	got, err := j.Audits(ctx, AuditFilter{MigrationID: "m1"})
	if err != nil || len(got) != 1 {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs[0], got[0]); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	_, err = j.Audits(ctx, AuditFilter{Since: t0, Until: t0})
	wantErr(t, err, ErrInvalid, "is not after since")
}
