package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/migrate"
)

func TestTriggerRunsToDone(t *testing.T) {
	s := newSite(t)
	s.fill(t, "fw1", "10.1.0.5", 12)
	s.fill(t, "fw1", "10.1.0.99", 3) // another VM: stays
	e := s.start(t, envConfig{})

	st, m, p := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
	if st != http.StatusAccepted {
		t.Fatalf("trigger: %d %+v", st, p)
	}
	if m.ID == "" || (m.Status != api.StatusRunning && m.Status != api.StatusQueued) {
		t.Fatalf("accepted: %+v", m)
	}
	if diff := cmp.Diff([]string{"fw1", "fw2"}, m.Devices); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	done := e.wait(m.ID)
	if done.Status != api.StatusDone || done.Report == nil || done.Report.Sessions != 12 || done.Report.Requester != "anonymous" {
		t.Fatalf("ended: %+v report %+v", done, done.Report)
	}
	if got := [2]int{s.fws["fw1"].Len(), s.fws["fw2"].Len()}; got != [2]int{3, 12} {
		t.Errorf("fw1, fw2 hold %v sessions, want [3 12]", got)
	}
	if done.Report.SourceDigest == "" || done.Report.SourceDigest != done.Report.DestinationDigest {
		t.Errorf("digests %q / %q", done.Report.SourceDigest, done.Report.DestinationDigest)
	}

	t.Run("listed", func(t *testing.T) {
		var l api.MigrationList
		if st := e.call("GET", "/v1/migrations?status=done", nil, &l); st != http.StatusOK {
			t.Fatalf("list: %d", st)
		}
		if len(l.Migrations) != 1 || l.Migrations[0].ID != m.ID {
			t.Fatalf("list: %+v", l)
		}
	})
	t.Run("devices", func(t *testing.T) {
		var devs []api.Device
		if st := e.call("GET", "/v1/devices", nil, &devs); st != http.StatusOK {
			t.Fatalf("devices: %d", st)
		}
		var names []string
		for _, d := range devs {
			names = append(names, d.Name+"@"+d.Domain+"/"+d.Driver)
			if d.Address != s.agents[d.Name].Addr {
				t.Errorf("%s at %s, want %s", d.Name, d.Address, s.agents[d.Name].Addr)
			}
		}
		if diff := cmp.Diff([]string{"fw1@dc/sami", "fw2@dc/sami", "fw3@dc/sami"}, names); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}
	})
	t.Run("dry run moves nothing", func(t *testing.T) {
		var dr api.DryRun
		st := e.call("POST", "/v1/migrations", map[string]any{"endpoints": []string{"10.1.0.99"}, "from": "s1", "to": "s2", "dry-run": true}, &dr)
		var mv struct{ From, To string }
		json.Unmarshal(dr.Move, &mv)
		if st != http.StatusOK || dr.Report == nil || !dr.Report.DryRun || mv.From != "s1" || mv.To != "s2" || len(dr.Report.Devices) != 2 {
			t.Fatalf("dry run: %d %+v %+v", st, dr, dr.Report)
		}
		if s.fws["fw1"].Len() != 3 {
			t.Errorf("a dry run moved sessions")
		}
	})
}

// phaseOrder is the planned migration's phases, in order.
var phaseOrder = []migrate.Phase{
	migrate.PhasePlan, migrate.PhaseNegotiate, migrate.PhaseLock, migrate.PhaseSnapshot, migrate.PhaseTransform,
	migrate.PhaseStage, migrate.PhaseCommit, migrate.PhaseVerify, migrate.PhaseConfirm, migrate.PhaseCutover,
	migrate.PhaseEliminate, migrate.PhaseEliminated, migrate.PhaseSourceDone, migrate.PhaseDone,
}

func TestEventStream(t *testing.T) {
	s := newSite(t)
	s.fill(t, "fw1", "10.1.0.5", 20)
	g := newGate(migrate.PhaseStage)
	e := s.start(t, envConfig{hook: g.hook})
	st, m, p := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
	if st != http.StatusAccepted {
		t.Fatalf("trigger: %d %+v", st, p)
	}
	waitFor(t, g.reached, "the stage phase")

	// A live subscriber joins mid-way: it gets what happened so far, then
	// the rest as it happens.
	live := e.do("GET", "/v1/migrations/"+m.ID+"/events", nil)
	defer live.Body.Close()
	if ct := live.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	mid := e.get(m.ID)
	// Held after stage was journaled, before its event: transform is the last.
	if mid.Status != api.StatusRunning || mid.Progress == nil || mid.Phase != string(migrate.PhaseTransform) {
		t.Errorf("mid-way: status %s phase %s progress %+v", mid.Status, mid.Phase, mid.Progress)
	}
	close(g.release)
	evs := readEvents(t, live.Body)

	check := func(t *testing.T, evs []api.Event) {
		t.Helper()
		if len(evs) < 5 {
			t.Fatalf("%d events: %+v", len(evs), evs)
		}
		if evs[0].Type != api.EventStatus || evs[0].Status != api.StatusRunning {
			t.Errorf("first event %+v, want status running", evs[0])
		}
		last := evs[len(evs)-1]
		if last.Type != api.EventEnd || last.Status != api.StatusDone || last.Report == nil || last.Report.Sessions != 20 {
			t.Errorf("last event %+v, want end done with the report", last)
		}
		var seen []string
		at := -1
		for i, ev := range evs {
			if ev.Seq != i+1 || ev.Migration != m.ID {
				t.Errorf("event %d: seq %d migration %s", i, ev.Seq, ev.Migration)
			}
			if ev.Type != api.EventProgress || ev.Total > 0 {
				continue // counts may come after the phase's later steps
			}
			k := slices.Index(phaseOrder, migrate.Phase(ev.Phase))
			if k < 0 {
				t.Errorf("unknown phase %q", ev.Phase)
				continue
			}
			if k < at {
				t.Errorf("phase %s after %s: out of order", ev.Phase, phaseOrder[at])
			}
			at = k
			if len(seen) == 0 || seen[len(seen)-1] != ev.Phase {
				seen = append(seen, ev.Phase)
			}
		}
		for _, want := range []migrate.Phase{migrate.PhasePlan, migrate.PhaseLock, migrate.PhaseSnapshot, migrate.PhaseStage, migrate.PhaseCommit, migrate.PhaseVerify, migrate.PhaseConfirm, migrate.PhaseEliminate, migrate.PhaseDone} {
			if !slices.Contains(seen, string(want)) {
				t.Errorf("phase %s missing from %v", want, seen)
			}
		}
		t.Logf("phases: %v", seen)
	}
	t.Run("live", func(t *testing.T) { check(t, evs) })
	t.Run("late subscriber", func(t *testing.T) {
		resp := e.do("GET", "/v1/migrations/"+m.ID+"/events", nil)
		defer resp.Body.Close()
		late := readEvents(t, resp.Body)
		check(t, late)
		if diff := cmp.Diff(evs, late); diff != "" {
			t.Errorf("late subscriber saw other events (-live +late):\n%s", diff)
		}
	})
	t.Run("resume after Last-Event-ID", func(t *testing.T) {
		resp := e.do("GET", "/v1/migrations/"+m.ID+"/events", nil, "Last-Event-ID", "3")
		defer resp.Body.Close()
		rest := readEvents(t, resp.Body)
		if diff := cmp.Diff(evs[3:], rest); diff != "" {
			t.Errorf("after event 3 (-want +got):\n%s", diff)
		}
	})
	t.Run("from the journal after a restart", func(t *testing.T) {
		e.stop(time.Second)
		e2 := s.start(t, envConfig{})
		resp := e2.do("GET", "/v1/migrations/"+m.ID+"/events", nil)
		defer resp.Body.Close()
		jevs := readEvents(t, resp.Body)
		if len(jevs) == 0 || jevs[0].Phase != string(migrate.PhaseLock) || jevs[len(jevs)-1].Type != api.EventEnd || jevs[len(jevs)-1].Status != api.StatusDone {
			t.Fatalf("journal replay: %+v", jevs)
		}
		if got := e2.get(m.ID); got.Status != api.StatusDone || got.Report == nil || got.Report.Sessions != 20 {
			t.Errorf("from the journal: %+v", got)
		}
	})
}

// TestQueuedNeverInterleaved: a trigger for devices a running migration
// holds waits its turn (status queued), runs after it, and with
// ?wait=false is refused naming the busy devices.
func TestQueuedNeverInterleaved(t *testing.T) {
	s := newSite(t)
	s.fill(t, "fw1", "10.1.0.5", 10)
	s.fill(t, "fw1", "10.1.0.6", 7)
	g := newGate(migrate.PhaseLock)
	e := s.start(t, envConfig{hook: g.hook})

	_, a, _ := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
	if held := waitFor(t, g.reached, "migration A at lock"); held != a.ID {
		t.Fatalf("held %s, want %s", held, a.ID)
	}
	st, b, p := e.trigger(map[string]any{"endpoints": []string{"10.1.0.6"}, "from": "s1", "to": "s2"}, "")
	if st != http.StatusAccepted || b.Status != api.StatusQueued {
		t.Fatalf("second trigger: %d %+v %+v", st, b, p)
	}
	if diff := cmp.Diff([]string{"fw1", "fw2"}, b.WaitingFor); diff != "" {
		t.Errorf("waiting for (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{a.ID}, b.Behind); diff != "" {
		t.Errorf("behind (-want +got):\n%s", diff)
	}
	if got := e.get(b.ID); got.Status != api.StatusQueued {
		t.Errorf("GET queued migration: %s", got.Status)
	}

	st, _, p = e.trigger(map[string]any{"endpoints": []string{"10.1.0.7"}, "from": "s2", "to": "s1"}, "?wait=false")
	if st != http.StatusConflict || p.Name() != api.ProblemBusy {
		t.Fatalf("wait=false: %d %+v", st, p)
	}
	if diff := cmp.Diff([]string{"fw1", "fw2"}, p.Busy); diff != "" {
		t.Errorf("busy (-want +got):\n%s", diff)
	}
	if !slices.Contains(p.Holders, a.ID) || !strings.Contains(p.Detail, "fw1") {
		t.Errorf("409 does not name the holder: %+v", p)
	}
	if body := metricsText(t, e); !strings.Contains(body, "sami_migrations_queued 1\n") || !strings.Contains(body, "sami_migrations_in_flight 1\n") {
		t.Errorf("metrics while queued:\n%s", grep(body, "sami_migrations_"))
	}

	close(g.release)
	if m := e.wait(a.ID); m.Status != api.StatusDone {
		t.Fatalf("A: %+v", m)
	}
	if m := e.wait(b.ID); m.Status != api.StatusDone || m.Report.Sessions != 7 {
		t.Fatalf("B: %+v", m)
	}
	// Never interleaved: every phase boundary of A comes before B's first.
	log := g.entries()
	lastA, firstB := -1, len(log)
	for i, l := range log {
		if strings.HasPrefix(l, a.ID+" ") {
			lastA = i
		}
		if strings.HasPrefix(l, b.ID+" ") && i < firstB {
			firstB = i
		}
	}
	if lastA > firstB || lastA < 0 {
		t.Errorf("interleaved: A's last step at %d, B's first at %d:\n%s", lastA, firstB, strings.Join(log, "\n"))
	}
	if s.fws["fw2"].Len() != 17 || s.fws["fw1"].Len() != 0 {
		t.Errorf("fw1 %d fw2 %d", s.fws["fw1"].Len(), s.fws["fw2"].Len())
	}
	// B's stream shows the wait.
	resp := e.do("GET", "/v1/migrations/"+b.ID+"/events", nil)
	defer resp.Body.Close()
	evs := readEvents(t, resp.Body)
	if len(evs) < 2 || evs[0].Status != api.StatusQueued || !strings.Contains(evs[0].Message, a.ID) || evs[1].Status != api.StatusRunning {
		t.Errorf("B's first events: %+v", evs[:min(2, len(evs))])
	}
}

// TestRestartMidMigration stops the server while a migration is held at a
// phase, past its grace period: the migration is abandoned, stays in the
// journal, and the next server's Recover finishes it (rolled back before a
// destination confirmed, done after).
func TestRestartMidMigration(t *testing.T) {
	tests := []struct {
		at         migrate.Phase
		want       string
		fw1, fw2   int
		midJournal string
	}{
		{migrate.PhaseCommit, api.StatusRolledBack, 12, 0, string(migrate.PhaseCommit)},
		{migrate.PhaseEliminate, api.StatusDone, 0, 12, string(migrate.PhaseEliminate)},
	}
	for _, tc := range tests {
		t.Run(string(tc.at), func(t *testing.T) {
			s := newSite(t)
			s.fill(t, "fw1", "10.1.0.5", 12)
			g := newGate(tc.at)
			e := s.start(t, envConfig{hook: g.hook})
			_, m, _ := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
			waitFor(t, g.reached, "the held phase")

			err := e.stop(200 * time.Millisecond)
			if !errors.Is(err, api.ErrInterrupted) || !strings.Contains(err.Error(), m.ID) {
				t.Fatalf("shutdown: %v, want ErrInterrupted naming %s", err, m.ID)
			}

			e2 := s.start(t, envConfig{noRecover: true})
			var rd api.Readiness
			if st := e2.call("GET", "/readyz", nil, &rd); st != http.StatusServiceUnavailable || rd.Ready {
				t.Errorf("readyz before recovery: %d %+v", st, rd)
			}
			if st, _, p := e2.trigger(map[string]any{"endpoints": []string{"10.9.9.9"}, "from": "s1", "to": "s2"}, ""); st != http.StatusServiceUnavailable || p.Name() != api.ProblemUnavailable {
				t.Errorf("trigger before recovery: %d %+v", st, p)
			}
			if got := e2.get(m.ID); got.Status != api.StatusRunning || got.Phase != tc.midJournal {
				t.Errorf("before recovery: status %s phase %s", got.Status, got.Phase)
			}
			if err := e2.srv.Recover(context.Background()); err != nil {
				t.Fatalf("recover: %v", err)
			}
			if st := e2.call("GET", "/readyz", nil, &rd); st != http.StatusOK || rd.Recovered != 1 {
				t.Errorf("readyz after recovery: %d %+v", st, rd)
			}
			got := e2.get(m.ID)
			if got.Status != tc.want {
				t.Errorf("after recovery: %s (%s), want %s", got.Status, got.Error, tc.want)
			}
			if a, b := s.fws["fw1"].Len(), s.fws["fw2"].Len(); a != tc.fw1 || b != tc.fw2 {
				t.Errorf("fw1 %d fw2 %d, want %d %d", a, b, tc.fw1, tc.fw2)
			}
			if body := metricsText(t, e2); !strings.Contains(body, `sami_migrations_total{kind="planned",result="`+tc.want+`"} 1`) {
				t.Errorf("metrics after recovery:\n%s", grep(body, "sami_migrations_total"))
			}
		})
	}
}

// TestShutdownWaitsForRunning: within the grace period a running
// migration finishes; new triggers are refused meanwhile.
func TestShutdownWaitsForRunning(t *testing.T) {
	s := newSite(t)
	s.fill(t, "fw1", "10.1.0.5", 12)
	s.fill(t, "fw1", "10.1.0.6", 2)
	g := newGate(migrate.PhaseSnapshot)
	e := s.start(t, envConfig{hook: g.hook})
	_, a, _ := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
	waitFor(t, g.reached, "the snapshot")
	_, b, _ := e.trigger(map[string]any{"endpoints": []string{"10.1.0.6"}, "from": "s1", "to": "s2"}, "")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- e.srv.Shutdown(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.srv.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st, _, p := e.trigger(map[string]any{"endpoints": []string{"10.1.0.9"}, "from": "s1", "to": "s2"}, ""); st != http.StatusServiceUnavailable {
		t.Errorf("trigger while draining: %d %+v", st, p)
	}
	if got := e.get(b.ID); got.Status != api.StatusCancelled {
		t.Errorf("queued migration at shutdown: %s, want cancelled", got.Status)
	}
	close(g.release)
	if err := waitFor(t, res, "shutdown"); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := e.get(a.ID); got.Status != api.StatusDone {
		t.Errorf("running migration at shutdown: %s", got.Status)
	}
	if s.fws["fw1"].Len() != 2 || s.fws["fw2"].Len() != 12 {
		t.Errorf("fw1 %d fw2 %d", s.fws["fw1"].Len(), s.fws["fw2"].Len())
	}
}

func metricsText(t *testing.T, e *env) string {
	t.Helper()
	resp := e.do("GET", "/metrics", nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

func grep(s, prefix string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetrics(t *testing.T) {
	s := newSite(t)
	s.fill(t, "fw1", "10.1.0.5", 12)
	e := s.start(t, envConfig{})
	_, m, _ := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
	e.wait(m.ID)
	// fw3 holds 4: the move back is refused before anything is written.
	_, r, _ := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s2", "to": "s3"}, "")
	if got := e.wait(r.ID); got.Status != api.StatusRolledBack || !strings.Contains(got.Error, "fw3") || s.fws["fw2"].Len() != 12 {
		t.Errorf("refused migration: %s %q", got.Status, got.Error)
	}
	body := metricsText(t, e)
	for _, want := range []string{
		`sami_migrations_total{kind="planned",result="done"} 1`,
		`sami_migrations_total{kind="planned",result="refused"} 1`,
		`sami_sessions_moved_total 12`,
		`sami_device_errors_total{device="fw3"} 1`,
		`sami_migrations_in_flight 0`,
		`sami_migrations_queued 0`,
		`sami_migration_phase_duration_seconds_count{phase="stage"} 1`,
		`sami_migration_duration_seconds_count 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, grep(body, "sami_"))
		}
	}
}
