// Command webhook is an example VM-manager webhook for `sami serve`.
//
// A VM manager (a libvirt/QEMU hook, an OpenStack notification listener, a
// vCenter alarm action...) calls it when a VM has moved between hypervisors:
//
//	POST /vm-moved
//	{"vm": "vm-42", "addresses": ["10.1.0.5"], "from-host": "hv1", "to-host": "hv7", "event": "mig-1234"}
//
// It maps the hypervisors to sami inventory locations (-map hv1=rack1), posts
// the trigger to sami (the event names the migration, so a retried webhook
// does not move twice), follows the migration's server-sent events (logging
// each phase) and answers the VM manager once the state is in place: 200
// with the final status when done, 502 otherwise.
//
//	webhook -sami https://sami.example.net:8830 -token-file /etc/sami/vmm.token \
//	        -map hv1=rack1 -map hv7=rack7
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/api"
)

// Move is what the VM manager posts.
type Move struct {
	VM        string   `json:"vm"`
	Addresses []string `json:"addresses"`
	FromHost  string   `json:"from-host"`
	ToHost    string   `json:"to-host"`
	// Event identifies the VM manager's migration (optional): it names the
	// sami migration, so a retried webhook is recognised.
	Event string `json:"event,omitempty"`
}

// Result is the webhook's answer.
type Result struct {
	Migration string `json:"migration"`
	Status    string `json:"status"`
	Sessions  int    `json:"sessions"`
	Error     string `json:"error,omitempty"`
}

// hook turns VM moves into sami triggers.
type hook struct {
	sami      string            // base URL
	token     string            // bearer token
	locations map[string]string // hypervisor -> sami location
	client    *http.Client
	log       *slog.Logger
}

var idRe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/vm-moved" {
		http.Error(w, "POST /vm-moved", http.StatusNotFound)
		return
	}
	var mv Move
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mv); err != nil {
		http.Error(w, "bad move: "+err.Error(), http.StatusBadRequest)
		return
	}
	res, err := h.handle(r.Context(), mv)
	st := http.StatusOK
	if err != nil {
		res.Error = err.Error()
		st = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	json.NewEncoder(w).Encode(res)
}

// handle triggers the migration and follows it to its end.
func (h *hook) handle(ctx context.Context, mv Move) (Result, error) {
	from, ok := h.locations[mv.FromHost]
	if !ok {
		return Result{}, fmt.Errorf("no -map for hypervisor %q", mv.FromHost)
	}
	to, ok := h.locations[mv.ToHost]
	if !ok {
		return Result{}, fmt.Errorf("no -map for hypervisor %q", mv.ToHost)
	}
	endpoints := append([]string(nil), mv.Addresses...)
	if mv.VM != "" {
		endpoints = append(endpoints, "id:"+mv.VM)
	}
	tr := api.TriggerRequest{Endpoints: endpoints, From: from, To: to}
	if mv.Event != "" {
		tr.ID = strings.Trim(idRe.ReplaceAllString(mv.VM+"-"+mv.Event, "-"), "-")
		if len(tr.ID) > 64 {
			tr.ID = tr.ID[:64]
		}
	}
	id, err := h.trigger(ctx, tr)
	if err != nil {
		return Result{}, err
	}
	h.log.Info("migration triggered", "vm", mv.VM, "migration", id, "from", from, "to", to)
	end, err := h.follow(ctx, id)
	res := Result{Migration: id, Status: end.Status}
	if end.Report != nil {
		res.Sessions = end.Report.Sessions
	}
	if err != nil {
		return res, err
	}
	if end.Status != api.StatusDone {
		return res, fmt.Errorf("migration %s ended %s: %s", id, end.Status, end.Error)
	}
	return res, nil
}

func (h *hook) request(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.sami+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	return h.client.Do(req)
}

// trigger posts the trigger; a retried event (409 conflict) follows the
// migration that exists.
func (h *hook) trigger(ctx context.Context, tr api.TriggerRequest) (string, error) {
	body, _ := json.Marshal(tr)
	resp, err := h.request(ctx, http.MethodPost, "/v1/migrations", body)
	if err != nil {
		return "", fmt.Errorf("sami: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusAccepted {
		var m api.Migration
		if err := json.Unmarshal(raw, &m); err != nil {
			return "", fmt.Errorf("sami: %w", err)
		}
		return m.ID, nil
	}
	var p api.Problem
	if json.Unmarshal(raw, &p) != nil || p.Status == 0 {
		return "", fmt.Errorf("sami: %s: %s", resp.Status, raw)
	}
	if p.Name() == api.ProblemConflict && p.Migration != "" {
		h.log.Info("migration exists (a retried event): following it", "migration", p.Migration)
		return p.Migration, nil
	}
	return "", &p
}

// follow reads the migration's event stream to its end event, logging
// each phase; a dropped stream is resumed after the last event seen.
func (h *hook) follow(ctx context.Context, id string) (api.Event, error) {
	last := 0
	for attempt := 0; attempt < 5; attempt++ {
		end, n, err := h.stream(ctx, id, last)
		if err == nil {
			return end, nil
		}
		if ctx.Err() != nil {
			return api.Event{}, ctx.Err()
		}
		h.log.Warn("event stream lost; resuming", "migration", id, "after", n, "err", err)
		last = n
		time.Sleep(time.Second)
	}
	return api.Event{}, fmt.Errorf("sami: lost the event stream of %s", id)
}

func (h *hook) stream(ctx context.Context, id string, after int) (api.Event, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.sami+"/v1/migrations/"+id+"/events", nil)
	if err != nil {
		return api.Event{}, after, err
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	if after > 0 {
		req.Header.Set("Last-Event-ID", fmt.Sprint(after))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return api.Event{}, after, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return api.Event{}, after, fmt.Errorf("%s: %s", resp.Status, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue // id:, event:, comments and blank lines
		}
		var ev api.Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return api.Event{}, after, err
		}
		after = ev.Seq
		switch ev.Type {
		case api.EventEnd:
			h.log.Info("migration ended", "migration", id, "status", ev.Status, "error", ev.Error)
			return ev, after, nil
		case api.EventStatus:
			h.log.Info("migration", "migration", id, "status", ev.Status, "message", ev.Message)
		default:
			h.log.Info("phase", "migration", id, "phase", ev.Phase, "device", ev.Device, "done", ev.Done, "total", ev.Total)
		}
	}
	if err := sc.Err(); err != nil {
		return api.Event{}, after, err
	}
	return api.Event{}, after, errors.New("the stream ended before the end event")
}

type mapFlag map[string]string

func (m mapFlag) String() string { return fmt.Sprint(map[string]string(m)) }
func (m mapFlag) Set(s string) error {
	host, loc, ok := strings.Cut(s, "=")
	if !ok || host == "" || loc == "" {
		return fmt.Errorf("want HYPERVISOR=LOCATION, got %q", s)
	}
	m[host] = loc
	return nil
}

func main() {
	locations := mapFlag{}
	listen := flag.String("listen", "127.0.0.1:9090", "where the VM manager calls the webhook")
	sami := flag.String("sami", "http://127.0.0.1:8830", "sami serve's URL")
	tokenFile := flag.String("token-file", "", "file holding the bearer token (default: $SAMI_TOKEN)")
	caFile := flag.String("ca-file", "", "CA of sami serve's certificate (https)")
	flag.Var(locations, "map", "HYPERVISOR=LOCATION: the sami location of a hypervisor (repeatable)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	token := os.Getenv("SAMI_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			log.Error("token", "err", err)
			os.Exit(2)
		}
		token = strings.TrimSpace(string(b))
	}
	if len(locations) == 0 {
		log.Error("give at least one -map HYPERVISOR=LOCATION")
		os.Exit(2)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			log.Error("ca-file: no PEM certificate", "file", *caFile, "err", err)
			os.Exit(2)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	h := &hook{sami: strings.TrimSuffix(*sami, "/"), token: token, locations: locations, client: &http.Client{Transport: tr}, log: log}
	log.Info("webhook listening", "listen", *listen, "sami", h.sami)
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
