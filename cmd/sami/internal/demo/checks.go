package demo

import (
	"fmt"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/migrate"
)

// checks verifies the outcome on the firewalls themselves, not on the
// engine's word: before is the other endpoints' state at fwA before the
// migration, atCutover the VM's state at fwA when it froze. Remaining
// timers count down between those reads and now: the tolerance grows with
// the time since.
func (l *lab) checks(rep *migrate.Report, before []*flow.Session, startAt time.Time, atCutover []*flow.Session, cutAt time.Time) []render.Check {
	a, b := l.fwA.Snapshot(), l.fwB.Snapshot()
	since := func(t time.Time) flow.DiffOption {
		return flow.WithTimeoutTolerance(time.Since(t) + flow.DefaultTimeoutTolerance)
	}
	aVM, aOther, bVM, bOther := l.vm(a), l.notVM(a), l.vm(b), l.notVM(b)
	var cs []render.Check
	cs = append(cs, render.Check{
		Name: "fwA holds none of the VM's sessions", OK: len(aVM) == 0,
		Detail: fmt.Sprintf("%d of %d left", len(aVM), l.vmCount),
	})
	d := flow.Diff(before, aOther, since(startAt))
	cs = append(cs, render.Check{
		Name: "fwA still holds every other session", OK: d.Empty() && len(aOther) == l.oth,
		Detail: fmt.Sprintf("%d of %d, field by field%s", len(aOther), l.oth, diffNote(d)),
	})
	// Strictly, the timers may differ by the time since the freeze; the
	// sessions traffic refreshed while they were copied may lag by up to
	// the copy's duration (the engine does not resend a timer refresh
	// alone), which is reported, not failed.
	d = flow.Diff(atCutover, bVM, since(startAt))
	strict := flow.Diff(atCutover, bVM, since(cutAt))
	lag := ""
	if d.Empty() && !strict.Empty() {
		lag = fmt.Sprintf("; %d refreshed timer(s) lag by up to %s", len(strict.Changed), maxTimerLag(strict).Round(time.Second))
	}
	cs = append(cs, render.Check{
		Name: "fwB holds every session of the VM", OK: d.Empty() && len(bVM) == l.vmCount && len(atCutover) == l.vmCount,
		Detail: fmt.Sprintf("%d of %d, field by field equal to fwA's at the freeze%s%s", len(bVM), l.vmCount, diffNote(d), lag),
	})
	cs = append(cs, render.Check{
		Name: "fwB holds nothing else", OK: len(bOther) == 0,
		Detail: fmt.Sprintf("%d other session(s)", len(bOther)),
	})
	cs = append(cs, render.Check{
		Name: "digests of source and destination match", OK: rep.SourceDigest != "" && rep.SourceDigest == rep.DestinationDigest,
		Detail: render.Short(rep.SourceDigest) + " = " + render.Short(rep.DestinationDigest),
	})
	return cs
}

func diffNote(d flow.Result) string {
	if d.Empty() {
		return ""
	}
	s := fmt.Sprintf(" (%d missing, %d extra, %d changed, %d unreadable", len(d.Removed), len(d.Added), len(d.Changed), len(d.Errors))
	if len(d.Changed) > 0 {
		c := d.Changed[0]
		s += "; first: " + c.ID
		for _, f := range c.Fields {
			s += fmt.Sprintf(" %s %v -> %v", f.Path, f.A, f.B)
		}
	}
	return s + ")"
}

// maxTimerLag is the largest timers/remaining difference among changes
// that differ in nothing else.
func maxTimerLag(d flow.Result) time.Duration {
	var most time.Duration
	for _, c := range d.Changed {
		for _, f := range c.Fields {
			a, okA := f.A.(uint32)
			b, okB := f.B.(uint32)
			if f.Path != "timers/remaining" || !okA || !okB {
				continue
			}
			lag := time.Duration(int64(a)-int64(b)) * time.Second
			most = max(most, lag, -lag)
		}
	}
	return most
}

func (l *lab) trafficReport(tr *traffic, rate int, frozen time.Duration) trafficReport {
	hitA, _ := tr.Counts(l.fwA)
	hitB, missB := tr.Counts(l.fwB)
	return trafficReport{Rate: rate, Frozen: frozen, TouchesAtA: hitA, TouchesAtB: hitB, MissesAtB: missB}
}

func trafficCheck(t trafficReport) render.Check {
	return render.Check{
		Name: "the VM's traffic finds its state at fwB", OK: t.MissesAtB == 0,
		Detail: fmt.Sprintf("%d packets after the move, %d to a session fwB lacks (%d before it, at fwA)", t.TouchesAtB, t.MissesAtB, t.TouchesAtA),
	}
}

func passed(cs []render.Check) bool { return failed(cs) == 0 }

func failed(cs []render.Check) int {
	n := 0
	for _, c := range cs {
		if !c.OK {
			n++
		}
	}
	return n
}
