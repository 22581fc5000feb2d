// Package api is sami's HTTP trigger API, served by `sami serve`: VM
// managers and automation POST a trigger ("this endpoint moved from here to
// there") and follow the migration by polling or by server-sent events;
// operators list migrations and devices, Prometheus scrapes /metrics, and
// agents announce themselves.
//
// A Server is an http.Handler over an *orchestrator.Orchestrator. Triggers
// whose devices are held by a running migration wait in a FIFO queue per
// device (status "queued") or, with ?wait=false, are refused with 409:
// migrations that share a device never interleave. The server is ready
// (/readyz) once Recover has finished or rolled back what the journal holds
// as unfinished. Shutdown stops taking triggers, lets running migrations
// finish for a grace period and abandons the rest at their next phase
// boundary, as if the process had died there: they stay in the journal and
// the next start's Recover finishes them. Install ShutdownHook in the engine
// for that; without it they are cancelled (rolled back before a
// destination confirmed).
//
// Requests are authenticated by bearer tokens (a tokens file, see
// ParseTokens) and/or client certificates (mTLS, the CN names the
// requester); errors are RFC 9457 problem details. docs/api.md and
// docs/openapi.yaml describe the endpoints.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/topology"
)

// ErrInterrupted: Shutdown's grace period ended with migrations running;
// they were abandoned and stay unfinished in the journal for the next start.
var ErrInterrupted = errors.New("api: migrations interrupted by shutdown (left in the journal: the next start resumes them)")

// Option configures a Server.
type Option func(*Server) error

// WithLogger sets the logger (default: discard). Tokens and Authorization
// headers are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) error { s.log = l; return nil }
}

// WithTokens accepts the bearer tokens t (see ParseTokens).
func WithTokens(t *Tokens) Option {
	return func(s *Server) error {
		if t == nil || t.Len() == 0 {
			return fmt.Errorf("%w: WithTokens: no tokens", ErrTokens)
		}
		s.tokens = t
		return nil
	}
}

// WithClientCerts accepts clients by their TLS certificate, verified by the
// http.Server's tls.Config (ClientCAs, ClientAuth VerifyClientCertIfGiven or
// RequireAndVerifyClientCert): the certificate's CN is the requester.
// With names, only those CNs are let in (403 for the others).
func WithClientCerts(names ...string) Option {
	return func(s *Server) error { s.mtls = true; s.allowedCNs = names; return nil }
}

// WithAnnounce mounts the agents' announcement directory
// (topology.NewHandler: POST /v1/announce, GET /v1/agents), guarded by its
// own bearer token. Give the orchestrator the same directory
// (orchestrator.WithDirectory) so announced agents become devices.
func WithAnnounce(dir *topology.Directory, token string) Option {
	return func(s *Server) error {
		h, err := topology.NewHandler(dir, token, topology.WithHandlerLogger(s.log))
		if err != nil {
			return err
		}
		s.announce, s.dir = h, dir
		return nil
	}
}

// WithHistory sets how many finished migrations stay in memory (default
// 1000); older ones are read from the journal (those that failed before the
// journal had a record are then forgotten).
func WithHistory(n int) Option {
	return func(s *Server) error {
		if n < 1 {
			return fmt.Errorf("api: WithHistory(%d): want at least 1", n)
		}
		s.history = n
		return nil
	}
}

// WithClock sets the clock of the API's own times (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) error { s.now = now; return nil }
}

// Server is the trigger API. It is an http.Handler.
type Server struct {
	o          *orchestrator.Orchestrator
	log        *slog.Logger
	tokens     *Tokens
	mtls       bool
	allowedCNs []string
	announce   http.Handler
	dir        *topology.Directory
	history    int
	now        func() time.Time
	metrics    *metrics
	mux        *http.ServeMux
	patterns   []string

	base    context.Context // migrations' parent: not a request's
	stopAll context.CancelFunc
	closing chan struct{} // closed when Shutdown is done: event streams end
	wg      sync.WaitGroup

	mu         sync.Mutex
	ready      bool
	draining   bool
	recoverErr error
	recovered  int
	migs       map[string]*migration
	running    []*migration
	queue      []*migration
	finished   []*migration // oldest first, for the history bound
}

// New returns the API over o. Without WithTokens or WithClientCerts every
// request is let in as "anonymous": only for a loopback listener.
func New(o *orchestrator.Orchestrator, opts ...Option) (*Server, error) {
	if o == nil {
		return nil, errors.New("api: New: nil orchestrator")
	}
	s := &Server{
		o: o, log: slog.New(slog.DiscardHandler), history: 1000, now: time.Now,
		metrics: newMetrics(), mux: http.NewServeMux(), closing: make(chan struct{}),
		migs: make(map[string]*migration),
	}
	s.base, s.stopAll = context.WithCancel(context.Background())
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)
	s.handle("GET /metrics", s.guard(ScopeRead, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP))
	s.handle("POST /v1/migrations", s.guard(ScopeTrigger, s.trigger))
	s.handle("GET /v1/migrations", s.guard(ScopeRead, s.list))
	s.handle("GET /v1/migrations/{id}", s.guard(ScopeRead, s.get))
	s.handle("GET /v1/migrations/{id}/events", s.guard(ScopeRead, s.events))
	s.handle("GET /v1/devices", s.guard(ScopeRead, s.devices))
	if s.announce != nil {
		s.handle("POST "+topology.AnnouncePath, s.announce.ServeHTTP)
		s.handle("GET "+topology.AgentsPath, s.announce.ServeHTTP)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, newProblem(http.StatusNotFound, ProblemNotFound, fmt.Sprintf("no endpoint %s %s (see docs/openapi.yaml)", r.Method, r.URL.Path)))
	})
}

// handle registers a route and remembers its pattern (the OpenAPI
// document is checked against them).
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.HandleFunc(pattern, h)
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("api: handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			writeProblem(w, r, newProblem(http.StatusInternalServerError, ProblemInternal, "internal error (logged)"))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// Metrics is the server's Prometheus registry (served at /metrics).
func (s *Server) Metrics() *prometheus.Registry { return s.metrics.reg }

// Ready reports whether the server takes triggers: recovered, not draining.
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready && !s.draining
}

// Recover runs the engine's Recover (the journal's unfinished migrations
// are finished or rolled back), then the server turns ready. Migrations
// whose devices cannot be reached stay unfinished (the error names them;
// `sami journal resume` or the next start retries): the server turns ready
// anyway, and /readyz lists them.
func (s *Server) Recover(ctx context.Context) error {
	reps, err := s.o.Engine().Recover(ctx)
	for _, rep := range reps {
		res := string(rep.Status)
		if rep.Status == "running" {
			res = StatusUnfinished
		}
		s.metrics.observe(rep.Kind, res, rep, nil)
		s.log.Info("api: recovered migration", "migration", rep.ID, "status", rep.Status, "sessions", rep.Sessions)
	}
	if err != nil {
		s.log.Error("api: recovery left migrations unfinished", "err", err)
	}
	s.mu.Lock()
	s.ready, s.recoverErr, s.recovered = true, err, len(reps)
	s.mu.Unlock()
	return err
}

// MarkReady makes the server ready without recovering (a journal known to
// hold nothing unfinished; tests).
func (s *Server) MarkReady() {
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
}

// Shutdown stops taking triggers (503), cancels the queued ones (nothing
// was written for them) and waits for the running migrations until ctx
// ends. Those still running then are abandoned at their next phase boundary
// (see ShutdownHook) and ErrInterrupted names them. Event streams end.
// Call it before the http.Server's Shutdown, so clients can poll while the
// migrations finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for _, m := range s.queue {
		s.endLocked(m, StatusCancelled, nil, errors.New("the server shut down before the migration started: nothing was written; trigger it again"))
	}
	s.queue = nil
	s.metrics.queued.Set(0)
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		var ids []string
		for _, m := range s.running {
			ids = append(ids, m.id)
			m.abandon.Store(true)
			m.cancel()
		}
		s.mu.Unlock()
		s.log.Warn("api: grace period over: abandoning running migrations (the journal keeps them)", "migrations", ids)
		err = fmt.Errorf("%w: %v", ErrInterrupted, ids)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			s.log.Error("api: migrations did not stop 30s after being abandoned", "migrations", ids)
		}
	}
	s.stopAll()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	return err
}

type abandonKey struct{}

var errShutdown = errors.New("server shutting down after its grace period")

// ShutdownHook wraps next (nil: none) into the engine hook that lets
// Shutdown abandon a migration at its next phase boundary, leaving it in the
// journal like a crash would (the devices' confirm timeouts and the next
// start's Recover take over). Install it when building the orchestrator:
//
//	orchestrator.WithEngineOptions(migrate.WithHook(api.ShutdownHook(nil)))
func ShutdownHook(next migrate.Hook) migrate.Hook {
	return func(ctx context.Context, id string, p migrate.Phase, dev string, journaled bool) error {
		abandoned := func() bool {
			f, ok := ctx.Value(abandonKey{}).(*atomic.Bool)
			return ok && f.Load()
		}
		if abandoned() {
			return errShutdown
		}
		if next != nil {
			if err := next(ctx, id, p, dev, journaled); err != nil {
				return err
			}
		}
		if abandoned() {
			return errShutdown
		}
		return nil
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readiness is the body of /readyz.
type Readiness struct {
	Ready    bool `json:"ready"`
	Draining bool `json:"draining,omitempty"`
	// Recovered counts the migrations Recover finished or rolled back at
	// start; RecoverError says which it could not.
	Recovered    int    `json:"recovered"`
	RecoverError string `json:"recover-error,omitempty"`
	Running      int    `json:"running"`
	Queued       int    `json:"queued"`
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	rd := Readiness{Ready: s.ready && !s.draining, Draining: s.draining, Recovered: s.recovered, Running: len(s.running), Queued: len(s.queue)}
	if s.recoverErr != nil {
		rd.RecoverError = s.recoverErr.Error()
	}
	s.mu.Unlock()
	st := http.StatusOK
	if !rd.Ready {
		st = http.StatusServiceUnavailable
	}
	writeJSON(w, st, rd)
}

// Device is one entry of GET /v1/devices: the inventory's devices merged
// with the agents that announced themselves. Credentials are never shown.
type Device struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	GNMIAddress string `json:"gnmi-address,omitempty"`
	Driver      string `json:"driver,omitempty"`
	Protocol    string `json:"protocol,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Location    string `json:"location,omitempty"`
	Role        string `json:"role,omitempty"`
	Discovered  bool   `json:"discovered,omitempty"`
	// LastSeen and Expires: a discovered agent's last announcement and
	// when the directory forgets it.
	LastSeen *time.Time `json:"last-seen,omitempty"`
	Expires  *time.Time `json:"expires,omitempty"`
	// Migration is the migration holding the device now, if any.
	Migration string `json:"migration,omitempty"`
}

func (s *Server) devices(w http.ResponseWriter, _ *http.Request) {
	inv := s.o.Inventory()
	s.mu.Lock()
	holder := map[string]string{}
	for _, m := range s.running {
		for _, d := range m.devices {
			holder[d] = m.id
		}
	}
	s.mu.Unlock()
	out := []Device{}
	for _, d := range inv.Devices() {
		dv := Device{
			Name: d.Name, Address: d.Address, GNMIAddress: d.GNMIAddress, Driver: d.Driver, Protocol: d.Protocol,
			Domain: inv.DomainOf(d.Name), Location: d.Location, Role: d.Role, Discovered: d.Discovered, Migration: holder[d.Name],
		}
		if dv.Driver == "" {
			dv.Driver = inv.Defaults().Driver
		}
		if s.dir != nil {
			if a, ok := s.dir.Lookup(d.Name); ok && d.Discovered {
				dv.LastSeen, dv.Expires = &a.LastSeen, &a.Expires
			}
		}
		out = append(out, dv)
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeReport reads the engine's report from a journal record's result.
func decodeReport(raw json.RawMessage) *migrate.Report {
	if len(raw) == 0 {
		return nil
	}
	var rep migrate.Report
	if json.Unmarshal(raw, &rep) != nil {
		return nil
	}
	return &rep
}

func unionSorted(a ...[]string) []string {
	return slices.Compact(slices.Sorted(slices.Values(slices.Concat(a...))))
}
