package render

import (
	"fmt"
	"io"
	"strings"
)

// Why a canonical field does not survive a move.
type Why string

// The two reasons, in the capability report's words.
const (
	// NotInSource: the source driver's mapping never reads the field, so
	// the device may hold it but sami cannot move it.
	NotInSource Why = "not in the source mapping"
	// NotWritable: the destination driver cannot write the field.
	NotWritable Why = "not writable at the destination"
)

// PairLoss is the capability report of one (source driver, destination
// driver) pair of a plan that loses fields: mapping.Survives of the two
// drivers' declarative mappings.
type PairLoss struct {
	FromDriver string       `json:"from-driver"`
	ToDriver   string       `json:"to-driver"`
	Devices    []DevicePair `json:"devices"`
	// Kept counts the canonical leaves that survive.
	Kept int          `json:"kept"`
	Lost []LostFields `json:"lost,omitempty"`
	// Unchecked says why the pair was not compared (a driver without a
	// declarative mapping); Lost is then empty.
	Unchecked string `json:"unchecked,omitempty"`
}

// DevicePair is a source device feeding a destination device.
type DevicePair struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// LostFields are canonical leaves lost for one reason: a single leaf, or
// the leaves of a container a mapping declares unsupported.
type LostFields struct {
	// Field is the leaf or the container ("all": everything the source
	// provides, for a read-only destination).
	Field  string   `json:"field"`
	Leaves []string `json:"leaves"`
	Why    Why      `json:"why"`
	// Reason is the mapping's own explanation, when it gives one.
	Reason string `json:"reason,omitempty"`
}

// Count is the number of lost leaves.
func (p PairLoss) Count() int {
	n := 0
	for _, l := range p.Lost {
		n += len(l.Leaves)
	}
	return n
}

// writeLosses writes the capability report section of a plan: nothing
// when no pair loses a field.
func writeLosses(w io.Writer, ls []PairLoss) error {
	for _, p := range ls {
		var devs []string
		for _, d := range p.Devices {
			devs = append(devs, d.Source+" -> "+d.Destination)
		}
		pair := p.FromDriver + " -> " + p.ToDriver
		if p.Unchecked != "" {
			fmt.Fprintf(w, "Lost fields: %s (%s): not checked: %s\n\n", pair, strings.Join(devs, ", "), p.Unchecked)
			continue
		}
		fmt.Fprintf(w, "Lost fields: %s (%s): %s lost, %d kept\n", pair, strings.Join(devs, ", "), plural(p.Count(), "canonical field"), p.Kept)
		t := newTable(w, "DRIVERS", "LOST", "WHY")
		for _, l := range p.Lost {
			field := l.Field
			if len(l.Leaves) > 1 {
				field = fmt.Sprintf("%s (%d fields)", l.Field, len(l.Leaves))
			}
			why := string(l.Why)
			if l.Reason != "" {
				why += ": " + l.Reason
			}
			t.row(pair, field, why)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
