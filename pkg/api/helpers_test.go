package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
)

// site is a set of in-process agents (fw1..fwN) and an inventory written
// for them the way an operator would; servers built on it share one
// journal file, so a test can stop one and start the next.
type site struct {
	fws     map[string]*simfw.Firewall
	agents  map[string]*agenttest.Agent
	inv     *topology.Inventory
	journal string
}

// twoBoxes: fw1 at s1, fw2 at s2, fw3 (a small table) at s3.
const twoBoxes = `locations:
  - {name: s1, domain: dc, ingress: [fw1], egress: [fw1]}
  - {name: s2, domain: dc, ingress: [fw2], egress: [fw2]}
  - {name: s3, domain: dc, ingress: [fw3], egress: [fw3]}
`

func newSite(t *testing.T) *site {
	t.Helper()
	small := simfw.Vendors()["sami-sim"]
	small.MaxSessions = 4
	pers := []simfw.Personality{simfw.Vendors()["sami-sim"], simfw.Vendors()["sami-sim"], small}
	s := &site{fws: map[string]*simfw.Firewall{}, agents: map[string]*agenttest.Agent{}, journal: filepath.Join(t.TempDir(), "journal.db")}
	var b strings.Builder
	b.WriteString("devices:\n")
	for i, p := range pers {
		name := fmt.Sprintf("fw%d", i+1)
		a, fw := agenttest.StartSim(t, name, p)
		s.fws[name], s.agents[name] = fw, a
		fmt.Fprintf(&b, "  - name: %s\n    address: %q\n    driver: sami\n    domain: dc\n    credentials: {user: %s, key-file: %q, known-hosts: [%q]}\n",
			name, a.Addr, a.User, a.KeyFile, a.KnownHosts)
	}
	b.WriteString(twoBoxes)
	inv, err := topology.Load(strings.NewReader(b.String()), topology.WithName("inventory.yaml"))
	if err != nil {
		t.Fatalf("inventory: %v\n%s", err, b.String())
	}
	s.inv = inv
	return s
}

// env is one running API server over the site.
type env struct {
	t   *testing.T
	srv *api.Server
	ts  *httptest.Server
	j   *journal.Journal
	o   *orchestrator.Orchestrator
	url string
	// token is sent as the bearer token when set.
	token  string
	client *http.Client
	closed bool
}

type envConfig struct {
	hook      migrate.Hook
	opts      []api.Option
	orchOpts  []orchestrator.Option
	noRecover bool
	tls       func(*httptest.Server) // configures TLS before start
}

func (s *site) start(t *testing.T, c envConfig) *env {
	t.Helper()
	reg := device.NewRegistry()
	if err := plugins.Register(reg); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(s.journal, journal.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	o, err := orchestrator.New(s.inv, reg, j, append([]orchestrator.Option{
		orchestrator.WithEngineOptions(migrate.WithHook(api.ShutdownHook(c.hook)), migrate.WithConfirmTimeout(30*time.Second)),
	}, c.orchOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(o, c.opts...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, j: j, o: o, client: &http.Client{Timeout: 60 * time.Second}}
	if c.tls != nil {
		e.ts = httptest.NewUnstartedServer(srv)
		c.tls(e.ts)
		e.ts.StartTLS()
	} else {
		e.ts = httptest.NewServer(srv)
	}
	e.url = e.ts.URL
	if !c.noRecover {
		if err := srv.Recover(context.Background()); err != nil {
			t.Fatalf("recover: %v", err)
		}
	}
	t.Cleanup(func() { e.stop(2 * time.Second) })
	return e
}

// stop shuts the server down like sami serve does: the API first (grace),
// then the HTTP server, then the journal.
func (e *env) stop(grace time.Duration) error {
	if e.closed {
		return nil
	}
	e.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	e.ts.Close()
	e.j.Close()
	return err
}

func (e *env) do(method, path string, body any, hdr ...string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// call does a request and decodes the JSON answer into out (if not nil).
func (e *env) call(method, path string, body, out any, hdr ...string) int {
	e.t.Helper()
	resp := e.do(method, path, body, hdr...)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func (e *env) trigger(body any, query string) (int, api.Migration, api.Problem) {
	e.t.Helper()
	resp := e.do("POST", "/v1/migrations"+query, body)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m api.Migration
	var p api.Problem
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			e.t.Errorf("error answer with Content-Type %q: %s", ct, raw)
		}
		json.Unmarshal(raw, &p)
	} else {
		json.Unmarshal(raw, &m)
	}
	return resp.StatusCode, m, p
}

func (e *env) get(id string) api.Migration {
	e.t.Helper()
	var m api.Migration
	if st := e.call("GET", "/v1/migrations/"+id, nil, &m); st != http.StatusOK {
		e.t.Fatalf("GET %s: %d", id, st)
	}
	return m
}

// wait polls a migration until it is no longer queued or running.
func (e *env) wait(id string) api.Migration {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		m := e.get(id)
		if m.Status != api.StatusQueued && m.Status != api.StatusRunning {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("migration %s did not end", id)
	return api.Migration{}
}

// readEvents reads a server-sent event stream to its end.
func readEvents(t *testing.T, r io.Reader) []api.Event {
	t.Helper()
	var out []api.Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var typ string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var ev api.Event
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
				t.Fatalf("event %q: %v", line, err)
			}
			if ev.Type != typ {
				t.Errorf("event field %q, data type %q", typ, ev.Type)
			}
			out = append(out, ev)
		}
	}
	return out
}

func vmFlows(vm string, n int) []*flow.Session {
	var out []*flow.Session
	for i := range n {
		s := &flow.Session{
			AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4, Protocol: ygot.Uint8(6),
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
				SourceAddress: ygot.String(vm), DestinationAddress: ygot.String("198.51.100.1"),
				SourcePort: ygot.Uint16(uint16(30000 + i)), DestinationPort: ygot.Uint16(443),
			},
			Tcp: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established},
		}
		if err := flow.SetKey(s); err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}

func (s *site) fill(t *testing.T, fw, vm string, n int) {
	t.Helper()
	if err := s.fws[fw].Upsert(context.Background(), vmFlows(vm, n)); err != nil {
		t.Fatal(err)
	}
}

// gate is an engine hook that records every phase boundary and can hold
// a migration at one (after it is journaled) until released.
type gate struct {
	mu      sync.Mutex
	log     []string // "id phase"
	phase   migrate.Phase
	dev     string
	reached chan string // the id of a migration held
	release chan struct{}
}

func newGate(p migrate.Phase) *gate {
	return &gate{phase: p, reached: make(chan string, 16), release: make(chan struct{})}
}

func (g *gate) hook(ctx context.Context, id string, p migrate.Phase, dev string, journaled bool) error {
	if !journaled {
		return nil
	}
	g.mu.Lock()
	g.log = append(g.log, id+" "+string(p))
	hold := g.phase != "" && p == g.phase && (g.dev == "" || g.dev == dev)
	g.mu.Unlock()
	if !hold {
		return nil
	}
	g.reached <- id
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) entries() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.log...)
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func journalAuditFilter(id string) journal.AuditFilter { return journal.AuditFilter{MigrationID: id} }
