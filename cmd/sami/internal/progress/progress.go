// Package progress draws the progress of long sami operations on the
// terminal: one mpb bar per device and phase of a migration (driven by
// migrate.Event: a bar with Done/Total where the engine counts sessions,
// a spinner where it does not), on the App's error stream so the output
// stream stays clean for tables and JSON. Off a terminal (or with
// --progress never) nothing is drawn; phases are logged at info level.
//
// Call Wait before printing anything else to the terminal: it completes
// the bars and waits for their last render, so the final table comes after
// them rather than through them.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress is one operation's progress display. Its methods are safe for
// concurrent use; after Wait they do nothing.
type Progress struct {
	mu   sync.Mutex
	p    *mpb.Progress // nil: disabled
	log  *slog.Logger
	bars map[string]*mpb.Bar
	// counted lines have a total; the others are spinners.
	counted map[string]bool
	// ended lines were completed or aborted (mpb's Completed races with
	// its renderer, so the state is kept here).
	ended  map[string]bool
	order  []string
	phase  migrate.Phase
	closed bool
}

// Option configures New.
type Option func(*config)

type config struct {
	refresh time.Duration
	width   int
}

// WithRefreshRate sets how often the bars are redrawn (default 80 ms).
func WithRefreshRate(d time.Duration) Option { return func(c *config) { c.refresh = d } }

// WithWidth sets the bars' width (default 32 columns).
func WithWidth(w int) Option { return func(c *config) { c.width = w } }

// New returns the progress display of a's operation: drawn on a.Err when
// a.Progress() says so, else a logger of phases.
func New(a *app.App, opts ...Option) *Progress {
	return NewWriter(a.Err, a.Progress(), a.Logger(), opts...)
}

// NewWriter draws on w when enabled; log receives the phases either way
// (at info level).
func NewWriter(w io.Writer, enabled bool, log *slog.Logger, opts ...Option) *Progress {
	c := config{refresh: 80 * time.Millisecond, width: 32}
	for _, o := range opts {
		o(&c)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pr := &Progress{log: log, bars: make(map[string]*mpb.Bar), counted: make(map[string]bool), ended: make(map[string]bool)}
	if enabled {
		// AutoRefresh: mpb would otherwise hold back the frames when w
		// is not a terminal (--progress always into a file or a pipe).
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(c.width), mpb.WithRefreshRate(c.refresh), mpb.WithAutoRefresh())
	}
	return pr
}

// Enabled reports whether bars are drawn.
func (pr *Progress) Enabled() bool { return pr.p != nil }

// Event takes a migration event (use it as orchestrator.Trigger.Progress).
// A counted event (Total > 0) sets its bar to Done/Total; an uncounted one
// starts a spinner for its phase and device. A new line completes the
// uncounted ones before it: the engine runs its phases in order.
func (pr *Progress) Event(ev migrate.Event) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed {
		return
	}
	if ev.Phase != pr.phase {
		pr.phase = ev.Phase
		pr.log.Info("migration phase", "id", ev.ID, "phase", string(ev.Phase), "device", ev.Device)
	}
	if ev.Message != "" {
		pr.log.Info(ev.Message, "id", ev.ID, "phase", string(ev.Phase), "device", ev.Device)
	}
	if pr.p == nil {
		return
	}
	label := string(ev.Phase)
	if ev.Device != "" {
		label += " " + ev.Device
	}
	pr.update(label, ev.Done, ev.Total)
}

// Task is a line for an operation outside a migration (reading a device's
// sessions, a replication); Set moves it, Done ends it.
type Task struct {
	pr    *Progress
	label string
}

// Task starts a line labelled label with total steps (0: a spinner).
func (pr *Progress) Task(label string, total int) *Task {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.log.Info(label)
	if pr.p != nil && !pr.closed {
		pr.update(label, 0, total)
	}
	return &Task{pr: pr, label: label}
}

// Set reports done of total steps (total 0: still unknown).
func (t *Task) Set(done, total int) {
	t.pr.mu.Lock()
	defer t.pr.mu.Unlock()
	if t.pr.p != nil && !t.pr.closed {
		if b := t.pr.bars[t.label]; b != nil {
			if total > 0 {
				t.pr.counted[t.label] = true
				b.SetTotal(int64(total), false)
			}
			b.SetCurrent(int64(done))
		}
	}
}

// Done completes the line.
func (t *Task) Done() {
	t.pr.mu.Lock()
	defer t.pr.mu.Unlock()
	if t.pr.bars[t.label] != nil && !t.pr.closed && !t.pr.ended[t.label] {
		t.pr.end(t.label)
	}
}

// update creates or moves label's bar; pr.mu is held.
func (pr *Progress) update(label string, done, total int) {
	b, ok := pr.bars[label]
	if !ok {
		// An earlier uncounted line is finished when a new one starts.
		for _, l := range pr.order {
			if !pr.counted[l] && !pr.ended[l] {
				pr.end(l)
			}
		}
		b = pr.p.MustAdd(0, filler{}, mpb.BarFillerTrim(),
			mpb.PrependDecorators(decor.Name(label, decor.WC{C: decor.DindentRight | decor.DextraSpace | decor.DSyncWidth})),
			mpb.AppendDecorators(decor.Any(counts, decor.WC{C: decor.DextraSpace})),
		)
		pr.bars[label] = b
		pr.order = append(pr.order, label)
	}
	if total > 0 {
		pr.counted[label] = true
		b.SetTotal(int64(total), false)
		b.SetCurrent(int64(done))
		if done >= total {
			pr.end(label)
		}
	}
}

// end completes label's line; pr.mu is held.
func (pr *Progress) end(label string) {
	pr.ended[label] = true
	pr.bars[label].SetTotal(-1, true)
}

// counts is "done/total", "done" on an uncounted line that finished.
func counts(st decor.Statistics) string {
	switch {
	case st.Aborted:
		return fmt.Sprintf("%d/%d stopped", st.Current, st.Total)
	case st.Total <= 0 && st.Completed:
		return "done"
	case st.Total <= 0:
		return ""
	}
	return fmt.Sprintf("%d/%d", st.Current, st.Total)
}

// filler draws a spinner while the total is unknown, a bar once known.
type filler struct{}

var (
	spin = mpb.SpinnerStyle().Build()
	bar  = mpb.BarStyle().Build()
)

func (filler) Fill(w io.Writer, st decor.Statistics) error {
	if st.Total <= 0 && !st.Completed {
		return spin.Fill(w, st)
	}
	if st.Total <= 0 { // an uncounted step that finished: a full bar
		st.Total, st.Current = 1, 1
	}
	return bar.Fill(w, st)
}

// Wait completes every line (a line left short by a failure is shown as
// stopped) and waits for the last frame. Print the result after it.
func (pr *Progress) Wait() {
	pr.mu.Lock()
	if pr.closed {
		pr.mu.Unlock()
		return
	}
	pr.closed = true
	for _, l := range pr.order {
		switch {
		case pr.ended[l]:
		case !pr.counted[l]:
			pr.end(l)
		default:
			pr.ended[l] = true
			pr.bars[l].Abort(false)
		}
	}
	p := pr.p
	pr.mu.Unlock()
	if p != nil {
		p.Wait()
	}
}
