package progress_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/progress"
	"github.com/sami-netops/sami/pkg/migrate"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// syncBuffer: mpb writes from its own goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func events() []migrate.Event {
	return []migrate.Event{
		{ID: "m1", Phase: migrate.PhasePlan},
		{ID: "m1", Phase: migrate.PhaseNegotiate},
		{ID: "m1", Phase: migrate.PhaseSnapshot, Device: "fw1"},
		{ID: "m1", Phase: migrate.PhaseSnapshot, Device: "fw1", Done: 12, Total: 12},
		{ID: "m1", Phase: migrate.PhaseStage, Device: "fw2"},
		{ID: "m1", Phase: migrate.PhaseStage, Device: "fw2", Done: 5, Total: 12, Message: "half way"},
	}
}

func TestProgress(t *testing.T) {
	tests := []struct {
		name    string
		enabled bool
		drawn   []string // on the stream, ANSI stripped
		logged  []string
	}{
		{"terminal", true, []string{"plan", "negotiate", "snapshot fw1", "12/12", "stage fw2", "5/12 stopped"}, []string{"phase=snapshot", "half way"}},
		{"not a terminal", false, nil, []string{"phase=plan", "phase=snapshot device=fw1", "half way"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			p := progress.NewWriter(&out, tc.enabled, log, progress.WithRefreshRate(5*time.Millisecond))
			if p.Enabled() != tc.enabled {
				t.Fatalf("Enabled %v", p.Enabled())
			}
			for _, ev := range events() {
				p.Event(ev)
				time.Sleep(10 * time.Millisecond)
			}
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Wait hangs on a line left short")
			}
			p.Event(migrate.Event{Phase: migrate.PhaseDone}) // after Wait: ignored
			p.Wait()
			got := ansi.ReplaceAllString(out.String(), "")
			if !tc.enabled && got != "" {
				t.Errorf("drew %q while disabled", got)
			}
			for _, w := range tc.drawn {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.logged {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
		})
	}
}

func TestTask(t *testing.T) {
	var out syncBuffer
	p := progress.NewWriter(&out, true, nil, progress.WithRefreshRate(5*time.Millisecond))
	task := p.Task("read fw1", 0)
	task.Set(3, 10)
	task.Set(10, 10)
	task.Done()
	p.Wait()
	if got := ansi.ReplaceAllString(out.String(), ""); !strings.Contains(got, "read fw1") || !strings.Contains(got, "10/10") {
		t.Errorf("output:\n%s", got)
	}
}

func ExampleNewWriter() {
	var out bytes.Buffer
	// Off a terminal: nothing is drawn, phases go to the logger.
	p := progress.NewWriter(&out, false, nil)
	p.Event(migrate.Event{Phase: migrate.PhaseStage, Device: "fw2", Done: 12, Total: 12})
	p.Wait()
	fmt.Println(out.Len())
	// Output: 0
}
