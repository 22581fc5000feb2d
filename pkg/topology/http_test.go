package topology

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "t0ken-for-tests"

func serveDirectory(t *testing.T, d *Directory) *httptest.Server {
	t.Helper()
	h, err := NewHandler(d, testToken)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestHandler(t *testing.T) {
	clock := newFakeClock()
	d := NewDirectory(WithClock(clock.Now))
	srv := serveDirectory(t, d)
	a := announcement(t, "fw-a")
	body, _ := json.Marshal(a)
	other := announcement(t, "fw-a") // same name, another host key
	otherBody, _ := json.Marshal(other)
	noKey := a
	noKey.HostKey = ""
	noKeyBody, _ := json.Marshal(noKey)
	tests := []struct {
		name        string
		method      string
		path        string
		auth        string
		contentType string
		body        string
		status      int
		want        string // in the body
	}{
		{"no token", "POST", AnnouncePath, "", "application/json", string(body), 401, "bearer token"},
		{"wrong token", "POST", AnnouncePath, "Bearer nope", "application/json", string(body), 401, "bearer token"},
		{"token prefix", "POST", AnnouncePath, "Bearer " + testToken[:5], "application/json", string(body), 401, "bearer token"},
		{"basic auth", "POST", AnnouncePath, "Basic " + testToken, "application/json", string(body), 401, "bearer token"},
		{"not json", "POST", AnnouncePath, "Bearer " + testToken, "text/plain", string(body), 415, "application/json"},
		{"malformed json", "POST", AnnouncePath, "Bearer " + testToken, "application/json", `{"name":`, 400, "invalid announcement"},
		{"unknown field", "POST", AnnouncePath, "Bearer " + testToken, "application/json", `{"name":"fw","colour":"red"}`, 400, `unknown field \"colour\"`},
		{"invalid announcement", "POST", AnnouncePath, "Bearer " + testToken, "application/json", string(noKeyBody), 400, "host-key: missing"},
		{"too large", "POST", AnnouncePath, "Bearer " + testToken, "application/json", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
		{"wrong method", "GET", AnnouncePath, "Bearer " + testToken, "", "", 405, ""},
		{"unknown path", "GET", "/v1/nothing", "Bearer " + testToken, "", "", 404, ""},
		{"announce", "POST", AnnouncePath, "bearer " + testToken, "application/json; charset=utf-8", string(body), 200, `"expires":"2025-06-01T12:00:10Z"`},
		{"impostor", "POST", AnnouncePath, "Bearer " + testToken, "application/json", string(otherBody), 409, "another host key"},
		{"list", "GET", AgentsPath, "Bearer " + testToken, "", "", 200, `"name":"fw-a"`},
		{"list needs the token", "GET", AgentsPath, "", "", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(got), tt.want) {
				t.Fatalf("%d %s\nwant %d with %q", resp.StatusCode, got, tt.status, tt.want)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if got := names(d.List()); len(got) != 1 {
		t.Errorf("directory holds %v", got)
	}
}

func TestHandlerFull(t *testing.T) {
	d := NewDirectory(WithMaxAgents(1))
	srv := serveDirectory(t, d)
	ctx := context.Background()
	if _, err := AnnounceOnce(ctx, srv.URL, testToken, announcement(t, "a")); err != nil {
		t.Fatal(err)
	}
	_, err := AnnounceOnce(ctx, srv.URL, testToken, announcement(t, "b"))
	var he *HTTPError
	if !errors.Is(err, ErrFull) || !errors.As(err, &he) || he.Status != 503 {
		t.Errorf("err = %v, want 503 ErrFull", err)
	}
}

func TestNewHandlerRefusesOpenDirectory(t *testing.T) {
	if _, err := NewHandler(NewDirectory(), " "); err == nil {
		t.Error("an empty token was accepted")
	}
	if _, err := NewHandler(nil, "x"); err == nil {
		t.Error("a nil directory was accepted")
	}
}

func TestAnnounceOnce(t *testing.T) {
	d := NewDirectory()
	srv := serveDirectory(t, d)
	ctx := context.Background()
	a := announcement(t, "fw-a")
	for _, u := range []string{srv.URL, srv.URL + "/", srv.URL + AnnouncePath} {
		ag, err := AnnounceOnce(ctx, u, testToken, a)
		if err != nil || ag.Name != "fw-a" || ag.Expires.IsZero() {
			t.Errorf("%s: %+v, %v", u, ag, err)
		}
	}
	tests := []struct {
		name  string
		url   string
		token string
		a     Announcement
		is    error
	}{
		{"wrong token", srv.URL, "nope", a, ErrUnauthorized},
		{"impostor", srv.URL, testToken, announcement(t, "fw-a"), ErrConflict},
		{"invalid", srv.URL, testToken, Announcement{Name: "x"}, ErrInvalidAnnouncement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AnnounceOnce(ctx, tt.url, tt.token, tt.a)
			var he *HTTPError
			if !errors.Is(err, tt.is) || !errors.As(err, &he) {
				t.Fatalf("err = %v, want %v as *HTTPError", err, tt.is)
			}
			if strings.Contains(err.Error(), tt.token) && tt.token != "" {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	if _, err := AnnounceOnce(ctx, "ftp://x", testToken, a); err == nil || !strings.Contains(err.Error(), "want http(s)") {
		t.Errorf("ftp URL: %v", err)
	}
}

// syncBuffer is a log sink for a logger used from another goroutine.
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

// TestAnnounceLoop: the loop keeps announcing through a directory that
// fails, and stops when its context ends.
func TestAnnounceLoop(t *testing.T) {
	d := NewDirectory()
	h, err := NewHandler(d, testToken)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 { // the directory is restarting
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := announcement(t, "fw-a")
	a.TTL = 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Announce(ctx, srv.URL, testToken, a, 10*time.Millisecond, WithAnnounceLogger(log)) }()
	// A few announcements past the failures; the registration lives three
	// intervals (30 ms), so it is looked up until one is caught live (a
	// single look may come after a late renewal let it lapse).
	deadline := time.Now().Add(10 * time.Second)
	var ag Agent
	ok := false
	for (calls.Load() < 5 || !ok) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		ag, ok = d.Lookup("fw-a")
	}
	if !ok || ag.TTL != 30*time.Millisecond {
		t.Errorf("registered %+v (%v); want a TTL of three intervals", ag, ok)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Announce returned %v when its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Announce did not stop")
	}
	out := logs.String()
	for _, want := range []string{"announce failed; retrying", "attempt=2", "announced again after failures", "failures=2"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testToken) {
		t.Error("the token is in the log")
	}
}

func TestAnnounceBadArguments(t *testing.T) {
	ctx := context.Background()
	a := announcement(t, "fw")
	tests := []struct {
		name, url, token string
		interval         time.Duration
		a                Announcement
		want             string
	}{
		{"bad url", "::", testToken, time.Second, a, "announce URL"},
		{"no host", "http://", testToken, time.Second, a, "want http(s)"},
		{"empty token", "http://127.0.0.1:1", "", time.Second, a, "empty token"},
		{"zero interval", "http://127.0.0.1:1", testToken, 0, a, "interval 0s must be positive"},
		{"invalid announcement", "http://127.0.0.1:1", testToken, time.Second, Announcement{Name: "fw"}, "address: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Announce(ctx, tt.url, tt.token, tt.a, tt.interval)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// The plain-http warning is for remote directories only.
func TestAnnouncePlainHTTPWarning(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// 192.0.2.1 (TEST-NET-1) never answers; the context ends the loop.
	Announce(ctx, "http://192.0.2.1:1", testToken, announcement(t, "fw"), time.Second, WithAnnounceLogger(log))
	if !strings.Contains(logs.String(), "plain http") {
		t.Errorf("no warning for a remote plain-http directory:\n%s", logs.String())
	}
}
