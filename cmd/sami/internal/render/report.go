package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/migrate"
)

// Report writes a migration's outcome: the summary (sessions moved and left
// behind, digests, blackout for pre-copy, checkpoint age for unplanned
// moves, lost fields), the per-device rows and the phase timings.
func Report(w io.Writer, f Format, r *migrate.Report) error {
	if f != Table {
		return writeData(w, f, r)
	}
	head := fmt.Sprintf("%s  %s  %s  in %s", r.ID, orDash(string(r.Kind)), orDash(string(r.Status)), Duration(r.Duration()))
	pairs := [][2]string{
		{"Migration", head},
		{"Endpoint", orDash(strings.Join(r.Endpoints, ", "))},
		{"Sessions", fmt.Sprintf("%d moved, %d left behind", r.Sessions, r.LeftBehind)},
	}
	if r.Conflicts > 0 {
		pairs = append(pairs, [2]string{"Conflicts", fmt.Sprintf("%d session(s) differed between sources (first source by name kept)", r.Conflicts)})
	}
	if r.SourceDigest != "" || r.DestinationDigest != "" {
		match := "match"
		if r.SourceDigest != r.DestinationDigest {
			match = "DIFFER"
		}
		pairs = append(pairs, [2]string{"Digest", fmt.Sprintf("source %s  destination %s  %s", Short(r.SourceDigest), Short(r.DestinationDigest), match)})
	}
	if r.Kind == migrate.PreCopy {
		pairs = append(pairs, [2]string{"Blackout", fmt.Sprintf("%s (%d round(s) while traffic flowed, %d late session(s))", Duration(r.Blackout), r.Rounds, r.Late)})
	}
	if r.Kind == migrate.Unplanned {
		pairs = append(pairs, [2]string{"Checkpoint", Duration(r.CheckpointAge) + " old when installed"})
	}
	for _, l := range r.Lost {
		pairs = append(pairs, [2]string{"Lost", fmt.Sprintf("%s: %s stripped from %d session(s)", l.Device, l.Feature, l.Sessions)})
	}
	if r.Error != "" {
		pairs = append(pairs, [2]string{"Error", r.Error})
	}
	if err := kv(w, pairs...); err != nil {
		return err
	}
	if len(r.Devices) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "DEVICE", "ROLE", "SESSIONS", "FREE", "DOMAIN")
		for _, d := range r.Devices {
			t.row(d.Device, d.Role, strconv.Itoa(d.Sessions), free(d.Free), d.Domain)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(r.Phases) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "PHASE", "TIME")
		for _, p := range r.Phases {
			t.row(string(p.Phase), Duration(p.Duration))
		}
		return t.flush()
	}
	return nil
}

// Short cuts a hex digest to 12 characters for tables.
func Short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return orDash(digest)
}

// Duration rounds d for people: microseconds below a second, milliseconds
// above.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func free(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return strconv.FormatInt(n, 10)
}
