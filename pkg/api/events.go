package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
)

// Event types of the stream (the SSE "event:" field).
const (
	EventStatus   = "status"   // queued, running
	EventProgress = "progress" // an engine phase (migrate.Event)
	EventEnd      = "end"      // the last event: final status and report
)

// Event is one server-sent event of GET /v1/migrations/{id}/events.
type Event struct {
	// Seq numbers the migration's events from 1 (the SSE id: a client
	// reconnecting with Last-Event-ID gets the events after it).
	Seq       int    `json:"seq"`
	Migration string `json:"migration"`
	Type      string `json:"type"`
	Status    string `json:"status,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Device    string `json:"device,omitempty"`
	// Done and Total count sessions (Total 0: not counted).
	Done    int             `json:"done,omitempty"`
	Total   int             `json:"total,omitempty"`
	Message string          `json:"message,omitempty"`
	Time    time.Time       `json:"time"`
	Error   string          `json:"error,omitempty"`
	Report  *migrate.Report `json:"report,omitempty"`
}

// KeepAlive is how often an idle event stream gets a comment line, so
// proxies do not cut it.
const KeepAlive = 15 * time.Second

// journalPoll is how often the stream of a migration known only to the
// journal (being recovered) looks for new entries.
const journalPoll = 250 * time.Millisecond

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	after := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			p := newProblem(http.StatusBadRequest, ProblemBadRequest, fmt.Sprintf("Last-Event-ID %q: want an event's seq", v))
			p.Field = "Last-Event-ID"
			writeProblem(w, r, p)
			return
		}
		after = n
	}
	m := s.lookup(id)
	var rec *journal.Record
	if m == nil {
		var err error
		if rec, err = s.o.Journal().Get(r.Context(), id); err != nil {
			s.journalProblem(w, r, id, err)
			return
		}
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		s.log.Warn("api: event stream cannot flush", "err", err)
		return
	}
	if m != nil {
		s.streamMemory(w, rc, r, m, after)
	} else {
		s.streamJournal(w, rc, r, rec, after)
	}
}

func writeEvent(w http.ResponseWriter, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, b)
	return err
}

// streamMemory sends a live migration's events: those so far, then each
// as it happens, until the end event.
func (s *Server) streamMemory(w http.ResponseWriter, rc *http.ResponseController, r *http.Request, m *migration, after int) {
	tick := time.NewTicker(KeepAlive)
	defer tick.Stop()
	for {
		s.mu.Lock()
		var evs []Event
		if after < len(m.events) {
			evs = append(evs, m.events[after:]...)
		}
		notify := m.notify
		s.mu.Unlock()
		for _, ev := range evs {
			if writeEvent(w, ev) != nil {
				return
			}
			after = ev.Seq
			if ev.Type == EventEnd {
				rc.Flush()
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-notify:
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
}

// streamJournal replays a journaled migration's entries as progress events
// and, while it is still running (being recovered), polls for more.
func (s *Server) streamJournal(w http.ResponseWriter, rc *http.ResponseController, r *http.Request, rec *journal.Record, after int) {
	sent := 0 // entries sent (events 1..sent)
	last := time.Now()
	for {
		for i := sent; i < len(rec.Entries); i++ {
			e := rec.Entries[i]
			ev := Event{Seq: i + 1, Migration: rec.ID, Type: EventProgress, Phase: e.Phase, Device: e.Device, Message: e.Note, Time: e.Time}
			if ev.Seq > after && writeEvent(w, ev) != nil {
				return
			}
		}
		sent = len(rec.Entries)
		if rec.Status != journal.Running || !s.recovering() {
			v := s.recordView(rec)
			ev := Event{Seq: sent + 1, Migration: rec.ID, Type: EventEnd, Status: v.Status, Report: v.Report, Error: rec.Error, Time: rec.Updated}
			if ev.Seq > after {
				writeEvent(w, ev)
			}
			rc.Flush()
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-time.After(journalPoll):
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
		if time.Since(last) > KeepAlive {
			fmt.Fprint(w, ": keep-alive\n\n")
			last = time.Now()
		}
		next, err := s.o.Journal().Get(r.Context(), rec.ID)
		if err != nil {
			fmt.Fprintf(w, ": journal: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
			rc.Flush()
			return
		}
		rec = next
	}
}

// recovering: Recover has not finished yet (the record may still move).
func (s *Server) recovering() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ready
}
