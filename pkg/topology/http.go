package topology

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AnnouncePath is where a directory takes announcements; AgentsPath lists
// the live agents.
const (
	AnnouncePath = "/v1/announce"
	AgentsPath   = "/v1/agents"
)

const maxAnnouncement = 64 << 10

// HandlerOption configures NewHandler.
type HandlerOption func(*handler)

// WithHandlerLogger logs refused requests (never the token).
func WithHandlerLogger(l *slog.Logger) HandlerOption { return func(h *handler) { h.log = l } }

type handler struct {
	dir   *Directory
	token [sha256.Size]byte
	log   *slog.Logger
	mux   *http.ServeMux
}

// NewHandler serves a directory over HTTP: POST /v1/announce (JSON
// Announcement; answers the registered Agent) and GET /v1/agents. Every
// request needs "Authorization: Bearer <token>"; an empty token is an
// error, never an open directory. Serve it over TLS where the network is
// not trusted: the token is a bearer secret.
func NewHandler(dir *Directory, token string, opts ...HandlerOption) (http.Handler, error) {
	if dir == nil {
		return nil, errors.New("topology: NewHandler: nil directory")
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("topology: NewHandler: empty token (the directory must not be open)")
	}
	h := &handler{dir: dir, token: sha256.Sum256([]byte(token)), log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	for _, f := range opts {
		f(h)
	}
	h.mux.HandleFunc("POST "+AnnouncePath, h.announce)
	h.mux.HandleFunc("GET "+AgentsPath, h.agents)
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		h.log.Warn("directory: request refused: bad or missing bearer token", "remote", r.RemoteAddr, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="sami"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized compares digests in constant time, so neither the token's
// bytes nor its length leak through timing.
func (h *handler) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], h.token[:]) == 1
}

func (h *handler) announce(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAnnouncement))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("announcement larger than %d bytes", maxAnnouncement))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	var a Announcement
	if err := json.Unmarshal(body, &a); err != nil {
		if !errors.Is(err, ErrInvalidAnnouncement) {
			err = fmt.Errorf("%w: %v", ErrInvalidAnnouncement, err)
		}
		h.log.Warn("directory: bad announcement", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ag, err := h.dir.Register(a)
	switch {
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
		return
	case errors.Is(err, ErrFull):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		h.log.Warn("directory: bad announcement", "remote", r.RemoteAddr, "agent", a.Name, "err", err)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ag)
}

func (h *handler) agents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, h.dir.List())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// AnnounceOption configures Announce and AnnounceOnce.
type AnnounceOption func(*announceOpts)

type announceOpts struct {
	client *http.Client
	log    *slog.Logger
}

// WithHTTPClient sets the client (TLS roots, proxies); default: a client
// with the default transport.
func WithHTTPClient(c *http.Client) AnnounceOption { return func(o *announceOpts) { o.client = c } }

// WithAnnounceLogger logs failed and recovered announcements.
func WithAnnounceLogger(l *slog.Logger) AnnounceOption { return func(o *announceOpts) { o.log = l } }

func announceOptions(opts []AnnounceOption) announceOpts {
	o := announceOpts{client: &http.Client{}, log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// announceURL accepts the directory's base URL or the full announce URL.
func announceURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("topology: announce URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("topology: announce URL %q: want http(s)://host[:port][/path]", base)
	}
	if !strings.HasSuffix(u.Path, AnnouncePath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + AnnouncePath
	}
	return u.String(), nil
}

// AnnounceOnce posts one announcement and returns what the directory
// registered. A refusal is an *HTTPError (wrapping ErrUnauthorized,
// ErrConflict or ErrInvalidAnnouncement).
func AnnounceOnce(ctx context.Context, dirURL, token string, a Announcement, opts ...AnnounceOption) (Agent, error) {
	o := announceOptions(opts)
	u, err := announceURL(dirURL)
	if err != nil {
		return Agent{}, err
	}
	return postAnnouncement(ctx, o.client, u, token, a)
}

func postAnnouncement(ctx context.Context, c *http.Client, u, token string, a Announcement) (Agent, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return Agent{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Agent{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return Agent{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnnouncement))
	if err != nil {
		return Agent{}, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return Agent{}, &HTTPError{Status: resp.StatusCode, Message: e.Error}
	}
	var ag Agent
	if err := json.Unmarshal(data, &ag); err != nil {
		return Agent{}, fmt.Errorf("topology: directory answered 200 with %q: %w", truncate(data), err)
	}
	return ag, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// Announce announces a to the directory at dirURL now and every interval
// until ctx ends, then returns nil. Failures are logged and retried at the
// next tick: a directory that is down or restarting learns of the agent
// when it is back. A zero TTL becomes three intervals, so one lost
// announcement does not expire the agent. Bad arguments are returned at
// once.
func Announce(ctx context.Context, dirURL, token string, a Announcement, interval time.Duration, opts ...AnnounceOption) error {
	o := announceOptions(opts)
	u, err := announceURL(dirURL)
	if err != nil {
		return err
	}
	if token == "" {
		return errors.New("topology: Announce: empty token")
	}
	if interval <= 0 {
		return fmt.Errorf("topology: Announce: interval %v must be positive", interval)
	}
	if a.TTL == 0 {
		a.TTL = 3 * interval
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if pu, _ := url.Parse(u); pu.Scheme == "http" && !isLoopback(pu.Hostname()) {
		o.log.Warn("announcing over plain http: the bearer token crosses the network unencrypted", "url", u)
	}
	failures := 0
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, max(interval, 5*time.Second))
		ag, err := postAnnouncement(rctx, o.client, u, token, a)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			o.log.Warn("announce failed; retrying", "url", u, "agent", a.Name, "attempt", failures, "err", err)
		case failures > 0:
			o.log.Info("announced again after failures", "url", u, "agent", a.Name, "failures", failures, "expires", ag.Expires)
			failures = 0
		default:
			o.log.Debug("announced", "url", u, "agent", a.Name, "expires", ag.Expires)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
