package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/topology"
)

// Statuses of a migration as the API shows it: the journal's four plus
// queued (waiting for devices), unfinished (left open in the journal: the
// next start or `sami journal resume` finishes it) and cancelled (dropped
// from the queue by a shutdown: nothing was written).
const (
	StatusQueued     = "queued"
	StatusRunning    = string(journal.Running)
	StatusDone       = string(journal.Done)
	StatusRolledBack = string(journal.RolledBack)
	StatusFailed     = string(journal.Failed)
	StatusUnfinished = "unfinished"
	StatusCancelled  = "cancelled"
	// StatusRefused: refused before writing (capacity, features, domains,
	// read-only); a metrics result only: the migration's status is failed.
	StatusRefused = "refused"
)

// maxEvents bounds a migration's event log (a pre-copy with many rounds).
const maxEvents = 10000

// Migration is a migration as GET /v1/migrations/{id} shows it.
type Migration struct {
	ID        string   `json:"id"`
	Status    string   `json:"status"`
	Kind      string   `json:"kind,omitempty"`
	Requester string   `json:"requester,omitempty"`
	Endpoints []string `json:"endpoints,omitempty"`
	From      string   `json:"from,omitempty"`
	To        string   `json:"to,omitempty"`
	Devices   []string `json:"devices,omitempty"`
	// Phase is the last phase reached.
	Phase    string    `json:"phase,omitempty"`
	Progress *Progress `json:"progress,omitempty"`
	// WaitingFor (queued) lists the devices it waits for and Behind the
	// migrations ahead of it.
	WaitingFor []string        `json:"waiting-for,omitempty"`
	Behind     []string        `json:"behind,omitempty"`
	Created    time.Time       `json:"created"`
	Started    *time.Time      `json:"started,omitempty"`
	Finished   *time.Time      `json:"finished,omitempty"`
	Error      string          `json:"error,omitempty"`
	Report     *migrate.Report `json:"report,omitempty"`
	// Move is the path change (topology.Move's JSON): sources,
	// destinations, pairs per direction, the routing case.
	Move json.RawMessage `json:"move,omitempty"`
	// Events is the event stream's address.
	Events string `json:"events"`
}

// Progress is the last progress event of a running migration.
type Progress struct {
	Phase   string `json:"phase"`
	Device  string `json:"device,omitempty"`
	Done    int    `json:"done,omitempty"`
	Total   int    `json:"total,omitempty"`
	Message string `json:"message,omitempty"`
	// Events counts the events so far.
	Events int `json:"events"`
}

// DryRun is the answer to a dry-run trigger: the path change and the
// engine's plan (sessions, capacity at each destination).
type DryRun struct {
	DryRun bool            `json:"dry-run"`
	Move   json.RawMessage `json:"move"`
	Report *migrate.Report `json:"report"`
}

// migration is one trigger's state. Every field after the first block is
// guarded by Server.mu.
type migration struct {
	id        string
	req       migrate.Request
	move      *topology.Move
	moveJSON  json.RawMessage
	devices   []string
	requester string
	created   time.Time
	abandon   *atomic.Bool
	cancel    context.CancelFunc

	status            string
	started, finished time.Time
	waiting, behind   []string
	events            []Event
	notify            chan struct{} // closed and replaced on every event
	report            *migrate.Report
	err               error
}

func (s *Server) trigger(w http.ResponseWriter, r *http.Request) {
	id, _ := IdentityFrom(r.Context())
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeProblem(w, r, newProblem(http.StatusUnsupportedMediaType, ProblemMediaType, "Content-Type must be application/json"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxTriggerBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, ProblemTooLarge, fmt.Sprintf("the trigger is larger than %d bytes", MaxTriggerBytes)))
			return
		}
		writeProblem(w, r, newProblem(http.StatusBadRequest, ProblemBadRequest, "reading the body: "+err.Error()))
		return
	}
	wait := true
	if v := r.URL.Query().Get("wait"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p := newProblem(http.StatusBadRequest, ProblemBadRequest, fmt.Sprintf("query wait=%q: want true or false", v))
			p.Field = "wait"
			writeProblem(w, r, p)
			return
		}
		wait = b
	}
	t, err := ParseTrigger(body)
	if err != nil {
		p := newProblem(http.StatusBadRequest, ProblemBadRequest, err.Error())
		var te *TriggerError
		if errors.As(err, &te) {
			p.Field = te.Field
		}
		writeProblem(w, r, p)
		return
	}
	t.Requester = id.Name
	if !s.Ready() {
		s.unavailable(w, r)
		return
	}
	inv := s.o.Inventory()
	for _, f := range []struct{ field, loc string }{{"from", t.From}, {"to", t.To}} {
		if _, ok := inv.Location(f.loc); !ok {
			p := newProblem(http.StatusUnprocessableEntity, ProblemUnknownPlace, fmt.Sprintf("%s: location %q is not in the inventory", f.field, f.loc))
			p.Field = f.field
			writeProblem(w, r, p)
			return
		}
	}
	if t.ID == "" {
		t.ID = journal.NewID()
	} else if s.exists(r.Context(), t.ID) {
		p := newProblem(http.StatusConflict, ProblemConflict, fmt.Sprintf("migration %s exists: a retried trigger is not run twice", t.ID))
		p.Migration, p.Field = t.ID, "id"
		w.Header().Set("Location", "/v1/migrations/"+t.ID)
		writeProblem(w, r, p)
		return
	}
	req, mv, err := s.o.Plan(t)
	if err != nil {
		s.planProblem(w, r, err)
		return
	}
	if kept(mv) {
		p := newProblem(http.StatusUnprocessableEntity, ProblemNothingToMove,
			fmt.Sprintf("nothing to move from %s to %s: every box on the new path (%s) is on the old one and keeps its state", t.From, t.To, strings.Join(mv.Destinations, ", ")))
		p.Field = "to"
		writeProblem(w, r, p)
		return
	}
	if t.DryRun {
		s.dryRun(w, r, req, mv)
		return
	}
	m := &migration{
		id: t.ID, req: req, move: mv, devices: unionSorted(req.Sources, req.Destinations), requester: t.Requester,
		created: s.now(), abandon: new(atomic.Bool), notify: make(chan struct{}),
	}
	m.moveJSON, _ = json.Marshal(mv)
	busy, holders, err := s.admit(m, wait)
	if err != nil {
		if errors.Is(err, errDraining) {
			s.unavailable(w, r)
			return
		}
		p := newProblem(http.StatusConflict, ProblemBusy, fmt.Sprintf("devices %s are held by migration(s) %s; retry later or send the trigger without wait=false to queue it",
			strings.Join(busy, ", "), strings.Join(holders, ", ")))
		p.Busy, p.Holders = busy, holders
		writeProblem(w, r, p)
		return
	}
	s.log.Info("api: migration accepted", "migration", m.id, "requester", t.Requester, "from", t.From, "to", t.To, "devices", m.devices)
	w.Header().Set("Location", "/v1/migrations/"+m.id)
	writeJSON(w, http.StatusAccepted, s.view(m))
}

// kept: every destination is a source that keeps its state.
func kept(mv *topology.Move) bool {
	for _, d := range mv.Destinations {
		if !slices.Contains(mv.Keep, d) {
			return false
		}
	}
	return true
}

func (s *Server) unavailable(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	msg := "the journal is being recovered: retry in a few seconds"
	if s.draining {
		msg = "the server is shutting down: send the trigger to its successor"
	}
	s.mu.Unlock()
	w.Header().Set("Retry-After", "5")
	writeProblem(w, r, newProblem(http.StatusServiceUnavailable, ProblemUnavailable, msg))
}

func (s *Server) planProblem(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, topology.ErrUnknownLocation):
		writeProblem(w, r, newProblem(http.StatusUnprocessableEntity, ProblemUnknownPlace, err.Error()))
	case errors.Is(err, orchestrator.ErrNothingToMove):
		writeProblem(w, r, newProblem(http.StatusUnprocessableEntity, ProblemNothingToMove, err.Error()))
	case errors.Is(err, topology.ErrInventory), errors.Is(err, topology.ErrUnknownDevice), errors.Is(err, migrate.ErrInvalidRequest):
		writeProblem(w, r, newProblem(http.StatusUnprocessableEntity, ProblemRefused, err.Error()))
	default:
		s.log.Error("api: plan", "err", err)
		writeProblem(w, r, newProblem(http.StatusInternalServerError, ProblemInternal, err.Error()))
	}
}

func refusal(err error) bool {
	return errors.Is(err, migrate.ErrCapacity) || errors.Is(err, migrate.ErrUnsupported) || errors.Is(err, migrate.ErrCrossDomain) ||
		errors.Is(err, migrate.ErrReadOnly) || errors.Is(err, migrate.ErrInvalidRequest)
}

// dryRun runs the engine up to negotiation, in the request: it writes
// nothing and takes no device, so it does not queue.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request, req migrate.Request, mv *topology.Move) {
	req.DryRun = true
	rep, err := s.o.Engine().Migrate(r.Context(), req)
	if err != nil {
		st, name := http.StatusBadGateway, ProblemDryRunFailed
		if refusal(err) {
			st, name = http.StatusUnprocessableEntity, ProblemRefused
		}
		p := newProblem(st, name, err.Error())
		p.Report, p.Migration = rep, req.ID
		writeProblem(w, r, p)
		return
	}
	mj, _ := json.Marshal(mv)
	writeJSON(w, http.StatusOK, DryRun{DryRun: true, Move: mj, Report: rep})
}

func (s *Server) exists(ctx context.Context, id string) bool {
	s.mu.Lock()
	_, ok := s.migs[id]
	s.mu.Unlock()
	if ok {
		return true
	}
	_, err := s.o.Journal().Get(ctx, id)
	return err == nil
}

var errDraining = errors.New("draining")

// admit queues m, or refuses it when !wait and its devices are busy. The
// queue is FIFO per device: m waits for the running migrations holding its
// devices and for the queued ones ahead of it that want them.
func (s *Server) admit(m *migration, wait bool) (busy, holders []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil, nil, errDraining
	}
	busy, holders = s.heldLocked(m.devices)
	busy = unionSorted(busy, s.o.Engine().Busy(m.devices...))
	if len(busy) > 0 && !wait {
		return busy, holders, errors.New("busy")
	}
	m.status = StatusQueued
	s.migs[m.id] = m
	s.queue = append(s.queue, m)
	s.dispatchLocked()
	if m.status == StatusQueued {
		s.emitLocked(m, Event{Type: EventStatus, Status: StatusQueued,
			Message: fmt.Sprintf("waiting for %s (held by %s)", strings.Join(m.waiting, ", "), strings.Join(m.behind, ", "))})
	}
	return nil, nil, nil
}

// heldLocked lists which of devs running or queued migrations hold or
// wait for, and those migrations.
func (s *Server) heldLocked(devs []string) (busy, holders []string) {
	for _, list := range [][]*migration{s.running, s.queue} {
		for _, o := range list {
			hit := false
			for _, d := range o.devices {
				if slices.Contains(devs, d) {
					busy, hit = append(busy, d), true
				}
			}
			if hit {
				holders = append(holders, o.id)
			}
		}
	}
	return unionSorted(busy), holders
}

// dispatchLocked starts every queued migration whose devices are free and
// not wanted by a migration queued before it.
func (s *Server) dispatchLocked() {
	held := map[string]string{}
	for _, m := range s.running {
		for _, d := range m.devices {
			held[d] = m.id
		}
	}
	var rest []*migration
	for _, m := range s.queue {
		var waiting, behind []string
		for _, d := range m.devices {
			if h, ok := held[d]; ok {
				waiting = append(waiting, d)
				if !slices.Contains(behind, h) {
					behind = append(behind, h)
				}
			}
		}
		if len(waiting) > 0 {
			m.waiting, m.behind = waiting, behind
			rest = append(rest, m)
		} else {
			s.startLocked(m)
		}
		// Later triggers for these devices wait behind m either way.
		for _, d := range m.devices {
			if _, ok := held[d]; !ok {
				held[d] = m.id
			}
		}
	}
	s.queue = rest
	s.metrics.queued.Set(float64(len(s.queue)))
	s.metrics.inFlight.Set(float64(len(s.running)))
}

func (s *Server) startLocked(m *migration) {
	m.status, m.started, m.waiting, m.behind = StatusRunning, s.now(), nil, nil
	ctx, cancel := context.WithCancel(context.WithValue(s.base, abandonKey{}, m.abandon))
	m.cancel = cancel
	s.running = append(s.running, m)
	s.emitLocked(m, Event{Type: EventStatus, Status: StatusRunning})
	req := m.req
	req.Progress = func(ev migrate.Event) {
		s.mu.Lock()
		s.emitLocked(m, Event{Type: EventProgress, Phase: string(ev.Phase), Device: ev.Device, Done: ev.Done, Total: ev.Total, Message: ev.Message, Time: ev.Time})
		s.mu.Unlock()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		rep, err := s.o.Engine().Migrate(ctx, req)
		s.ended(m, rep, err)
	}()
}

// ended records a migration's outcome and starts what waited for it.
func (s *Server) ended(m *migration, rep *migrate.Report, err error) {
	st := StatusFailed
	if rep != nil {
		st = string(rep.Status)
	}
	if st == StatusRunning {
		st = StatusUnfinished
	}
	result := st
	if err != nil && refusal(err) && st != StatusUnfinished {
		result = StatusRefused
	}
	s.metrics.observe(m.req.Kind, result, rep, err)
	lvl := s.log.Info
	if err != nil {
		lvl = s.log.Warn
	}
	lvl("api: migration ended", "migration", m.id, "status", st, "err", err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = slices.DeleteFunc(s.running, func(o *migration) bool { return o == m })
	s.endLocked(m, st, rep, err)
	s.dispatchLocked()
}

func (s *Server) endLocked(m *migration, st string, rep *migrate.Report, err error) {
	m.status, m.report, m.err, m.finished = st, rep, err, s.now()
	ev := Event{Type: EventEnd, Status: st, Report: rep}
	if err != nil {
		ev.Error = err.Error()
	}
	if st == StatusCancelled {
		s.metrics.observe(m.req.Kind, StatusCancelled, nil, nil)
	}
	s.emitLocked(m, ev)
	s.finished = append(s.finished, m)
	for len(s.finished) > s.history {
		delete(s.migs, s.finished[0].id)
		s.finished = s.finished[1:]
	}
}

func (s *Server) emitLocked(m *migration, ev Event) {
	if len(m.events) >= maxEvents && ev.Type == EventProgress {
		return // the log is full; the end event still gets in
	}
	ev.Seq = len(m.events) + 1
	ev.Migration = m.id
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	m.events = append(m.events, ev)
	close(m.notify)
	m.notify = make(chan struct{})
}

// view is the API's picture of an in-memory migration.
func (s *Server) view(m *migration) Migration {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := Migration{
		ID: m.id, Status: m.status, Kind: string(m.req.Kind), Requester: m.requester, Endpoints: endpointStrings(m.req.Endpoints),
		Devices: m.devices, WaitingFor: m.waiting, Behind: m.behind, Created: m.created, Report: m.report, Move: m.moveJSON,
		Events: "/v1/migrations/" + m.id + "/events",
	}
	if m.move != nil {
		v.From, v.To = m.move.From, m.move.To
	}
	if !m.started.IsZero() {
		t := m.started
		v.Started = &t
	}
	if !m.finished.IsZero() {
		t := m.finished
		v.Finished = &t
	}
	if m.err != nil {
		v.Error = m.err.Error()
	}
	for i := len(m.events) - 1; i >= 0; i-- {
		if ev := m.events[i]; ev.Type == EventProgress {
			v.Phase = ev.Phase
			if m.status == StatusRunning {
				v.Progress = &Progress{Phase: ev.Phase, Device: ev.Device, Done: ev.Done, Total: ev.Total, Message: ev.Message, Events: len(m.events)}
			}
			break
		}
	}
	return v
}

// recordView is the picture of a migration known only to the journal.
func (s *Server) recordView(rec *journal.Record) Migration {
	v := Migration{
		ID: rec.ID, Status: string(rec.Status), Kind: rec.Kind, Requester: rec.Requester, Phase: rec.Phase,
		Created: rec.Created, Error: rec.Error, Report: decodeReport(rec.Result), Events: "/v1/migrations/" + rec.ID + "/events",
	}
	if rec.Status == journal.Running && s.Ready() {
		// Not ours and not being recovered: left open.
		v.Status = StatusUnfinished
	}
	if v.Report != nil {
		v.Endpoints, v.Devices = v.Report.Endpoints, unionSorted(v.Report.Sources, v.Report.Destinations)
		if !v.Report.Started.IsZero() {
			t := v.Report.Started
			v.Started = &t
		}
		if !v.Report.Finished.IsZero() {
			t := v.Report.Finished
			v.Finished = &t
		}
	}
	if v.Kind == "" {
		v.Kind = string(migrate.Planned)
	}
	return v
}

func (s *Server) lookup(id string) *migration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.migs[id]
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if m := s.lookup(id); m != nil {
		writeJSON(w, http.StatusOK, s.view(m))
		return
	}
	rec, err := s.o.Journal().Get(r.Context(), id)
	if err != nil {
		s.journalProblem(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, s.recordView(rec))
}

func (s *Server) journalProblem(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, journal.ErrNotFound) || errors.Is(err, journal.ErrInvalid) {
		writeProblem(w, r, newProblem(http.StatusNotFound, ProblemNotFound, fmt.Sprintf("no migration %q (neither running nor in the journal)", id)))
		return
	}
	s.log.Error("api: journal", "migration", id, "err", err)
	writeProblem(w, r, newProblem(http.StatusInternalServerError, ProblemInternal, "journal: "+err.Error()))
}

// MigrationList is the body of GET /v1/migrations.
type MigrationList struct {
	Migrations []Migration `json:"migrations"`
	// JournalError reports records the journal could not decode (the
	// others are listed).
	JournalError string `json:"journal-error,omitempty"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			p := newProblem(http.StatusBadRequest, ProblemBadRequest, fmt.Sprintf("query limit=%q: want a number from 1 to 10000", v))
			p.Field = "limit"
			writeProblem(w, r, p)
			return
		}
		limit = n
	}
	var statuses []string
	if v := q.Get("status"); v != "" {
		for st := range strings.SplitSeq(v, ",") {
			switch st {
			case StatusQueued, StatusRunning, StatusDone, StatusRolledBack, StatusFailed, StatusUnfinished, StatusCancelled:
				statuses = append(statuses, st)
			default:
				p := newProblem(http.StatusBadRequest, ProblemBadRequest, fmt.Sprintf("query status=%q: %q is not a status (queued, running, done, rolled-back, failed, unfinished, cancelled)", v, st))
				p.Field = "status"
				writeProblem(w, r, p)
				return
			}
		}
	}
	want := func(st string) bool { return len(statuses) == 0 || slices.Contains(statuses, st) }

	s.mu.Lock()
	mem := make([]*migration, 0, len(s.migs))
	for _, m := range s.migs {
		mem = append(mem, m)
	}
	s.mu.Unlock()
	out := MigrationList{Migrations: []Migration{}}
	seen := map[string]bool{}
	for _, m := range mem {
		v := s.view(m)
		seen[v.ID] = true
		if want(v.Status) {
			out.Migrations = append(out.Migrations, v)
		}
	}
	recs, err := s.o.Journal().List(r.Context(), journal.Filter{Limit: limit + len(mem)})
	if err != nil {
		if !errors.Is(err, journal.ErrCorrupt) {
			s.journalProblem(w, r, "", err)
			return
		}
		out.JournalError = err.Error()
	}
	for _, rec := range recs {
		if seen[rec.ID] {
			continue
		}
		if v := s.recordView(rec); want(v.Status) {
			out.Migrations = append(out.Migrations, v)
		}
	}
	slices.SortStableFunc(out.Migrations, func(a, b Migration) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if len(out.Migrations) > limit {
		out.Migrations = out.Migrations[:limit]
	}
	writeJSON(w, http.StatusOK, out)
}
