package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
)

// Records writes the journal's migration records, newest first, without
// their entries.
func Records(w io.Writer, f Format, rs []*journal.Record) error {
	if f != Table {
		if rs == nil {
			rs = []*journal.Record{}
		}
		return writeData(w, f, map[string]any{"migrations": rs})
	}
	t := newTable(w, "ID", "KIND", "STATUS", "PHASE", "CREATED", "UPDATED", "REQUESTER")
	for _, r := range rs {
		t.row(r.ID, r.Kind, string(r.Status), r.Phase, stamp(r.Created), stamp(r.Updated), r.Requester)
	}
	return t.flush()
}

// Record writes one record: its header, the engine's report when it has
// finished, and every journaled step.
func Record(w io.Writer, f Format, r *journal.Record) error {
	if f != Table {
		return writeData(w, f, r)
	}
	pairs := [][2]string{
		{"ID", r.ID},
		{"Kind", orDash(r.Kind)},
		{"Status", string(r.Status)},
		{"Phase", orDash(r.Phase)},
		{"Created", stamp(r.Created)},
		{"Updated", stamp(r.Updated)},
		{"Requester", orDash(r.Requester)},
	}
	if r.Error != "" {
		pairs = append(pairs, [2]string{"Error", r.Error})
	}
	if err := kv(w, pairs...); err != nil {
		return err
	}
	if len(r.Result) > 0 {
		var rep migrate.Report
		if err := json.Unmarshal(r.Result, &rep); err == nil && rep.ID != "" {
			fmt.Fprintln(w)
			if err := Report(w, Table, &rep); err != nil {
				return err
			}
		}
	}
	if len(r.Entries) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "SEQ", "TIME", "PHASE", "DEVICE", "NOTE")
	for _, e := range r.Entries {
		t.row(strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format("15:04:05.000000"), e.Phase, e.Device, e.Note)
	}
	return t.flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
