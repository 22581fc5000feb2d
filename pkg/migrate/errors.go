package migrate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sami-netops/sami/pkg/flow"
)

// CapacityError: a destination cannot take every session (R3).
type CapacityError struct {
	Device string
	Need   uint64 // sessions that are new to the device
	Free   uint64 // free slots it reported
}

func (e *CapacityError) Error() string {
	return fmt.Sprintf("destination %s: %d sessions must move but only %d fit (%d free slots); nothing was written (use partial to move %d and leave the rest at the source)",
		e.Device, e.Need, e.Free, e.Free, e.Free)
}
func (e *CapacityError) Unwrap() error { return ErrCapacity }

// FeatureError: a destination cannot hold what some sessions carry.
type FeatureError struct {
	Device string
	// Missing counts, per feature name, the sessions that need it.
	Missing map[string]int
	// Strippable: every missing feature could be dropped (StripUnsupported).
	Strippable bool
}

func (e *FeatureError) Error() string {
	names := make([]string, 0, len(e.Missing))
	for n := range e.Missing {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (%d sessions)", n, e.Missing[n])
	}
	hint := "use partial to leave these sessions at the source"
	if e.Strippable {
		hint = "use strip-unsupported to move them without that data, or partial to leave them at the source"
	}
	return fmt.Sprintf("destination %s lacks %s; nothing was written (%s)", e.Device, strings.Join(parts, ", "), hint)
}
func (e *FeatureError) Unwrap() error { return ErrUnsupported }

// DomainError: a source and a destination are in different administrative
// domains and no rule allows the crossing (R8).
type DomainError struct {
	Source, SourceDomain, Destination, DestinationDomain string
}

func (e *DomainError) Error() string {
	return fmt.Sprintf("state of %s (domain %q) may not move to %s (domain %q): no rule allows %s -> %s; nothing was written",
		e.Source, e.SourceDomain, e.Destination, e.DestinationDomain, e.SourceDomain, e.DestinationDomain)
}
func (e *DomainError) Unwrap() error { return ErrCrossDomain }

// VerifyError: what a device holds after the commit is not what was
// written (a damaged or incomplete copy).
type VerifyError struct {
	Device    string
	Want, Got flow.Digest
	Diff      flow.Result
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("device %s: read-back digest %x, want %x: %d sessions missing, %d unexpected, %d changed%s",
		e.Device, e.Got[:6], e.Want[:6], len(e.Diff.Removed), len(e.Diff.Added), len(e.Diff.Changed), firstChange(e.Diff))
}
func (e *VerifyError) Unwrap() error { return ErrVerify }

func firstChange(r flow.Result) string {
	for _, c := range r.Changed {
		for _, f := range c.Fields {
			return fmt.Sprintf(" (first: %s %s: wrote %v, read %v)", c.ID, f.Path, f.A, f.B)
		}
	}
	return ""
}
