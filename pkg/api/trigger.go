package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
)

// MaxTriggerBytes is the largest trigger body accepted.
const MaxTriggerBytes = 64 << 10

// ErrBadTrigger: a trigger body is malformed; the *TriggerError names the
// field.
var ErrBadTrigger = errors.New("api: bad trigger")

// TriggerError is a trigger body that cannot be used, with the member that
// is wrong ("" when the body as a whole is).
type TriggerError struct {
	Field string
	Msg   string
}

func (e *TriggerError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func (e *TriggerError) Unwrap() error { return ErrBadTrigger }

// TriggerRequest is the body of POST /v1/migrations: what a VM manager
// knows (the endpoint moved from one location of the inventory to another)
// and how to move its state. The requester is never in the body: it is the
// authenticated identity.
type TriggerRequest struct {
	// ID names the migration (optional): a retried trigger with the same
	// id is refused as a conflict instead of moving twice.
	ID string `json:"id,omitempty"`
	// Endpoints: IP addresses, "id:NAME" owner ids, or "ADDR|NAME".
	Endpoints []string `json:"endpoints"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	// Kind is planned (default), precopy or unplanned.
	Kind             string `json:"kind,omitempty"`
	Partial          bool   `json:"partial,omitempty"`
	StripUnsupported bool   `json:"strip-unsupported,omitempty"`
	KeepSource       bool   `json:"keep-source,omitempty"`
	// ConfirmTimeout is a Go duration ("90s", "2m").
	ConfirmTimeout string `json:"confirm-timeout,omitempty"`
	DryRun         bool   `json:"dry-run,omitempty"`
}

const maxEndpoints = 1024

// ParseTrigger reads a trigger body into the orchestrator's Trigger
// (without requester). Unknown members, wrong types, trailing data, bad
// endpoints, kinds, ids and durations are *TriggerError naming the member.
// Locations are checked against the inventory by the server.
func ParseTrigger(body []byte) (orchestrator.Trigger, error) {
	var t orchestrator.Trigger
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req TriggerRequest
	if err := dec.Decode(&req); err != nil {
		return t, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return t, &TriggerError{Msg: "bad JSON: data after the trigger object (send one object)"}
	}
	return req.toTrigger()
}

func (req TriggerRequest) toTrigger() (orchestrator.Trigger, error) {
	t := orchestrator.Trigger{
		ID: req.ID, From: req.From, To: req.To,
		Partial: req.Partial, StripUnsupported: req.StripUnsupported, KeepSource: req.KeepSource, DryRun: req.DryRun,
	}
	if req.ID != "" {
		if err := validID(req.ID); err != nil {
			return t, &TriggerError{Field: "id", Msg: err.Error()}
		}
	}
	if len(req.Endpoints) == 0 {
		return t, &TriggerError{Field: "endpoints", Msg: `required: the moving endpoint's addresses or ids, e.g. ["10.1.0.5", "id:vm-42"]`}
	}
	if len(req.Endpoints) > maxEndpoints {
		return t, &TriggerError{Field: "endpoints", Msg: fmt.Sprintf("%d endpoints: at most %d per trigger", len(req.Endpoints), maxEndpoints)}
	}
	for i, s := range req.Endpoints {
		ep, err := migrate.ParseEndpoint(s)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), migrate.ErrInvalidRequest.Error()+": ")
			return t, &TriggerError{Field: fmt.Sprintf("endpoints[%d]", i), Msg: msg}
		}
		t.Endpoints = append(t.Endpoints, ep)
	}
	if req.From == "" {
		return t, &TriggerError{Field: "from", Msg: "required: the inventory location the endpoint leaves"}
	}
	if req.To == "" {
		return t, &TriggerError{Field: "to", Msg: "required: the inventory location the endpoint moves to"}
	}
	switch migrate.Kind(req.Kind) {
	case "":
		t.Kind = migrate.Planned
	case migrate.Planned, migrate.PreCopy, migrate.Unplanned:
		t.Kind = migrate.Kind(req.Kind)
	default:
		return t, &TriggerError{Field: "kind", Msg: fmt.Sprintf("%q is not a kind: planned, precopy or unplanned", req.Kind)}
	}
	if req.ConfirmTimeout != "" {
		d, err := time.ParseDuration(req.ConfirmTimeout)
		if err != nil {
			return t, &TriggerError{Field: "confirm-timeout", Msg: fmt.Sprintf("%q is not a duration (e.g. \"90s\", \"2m\")", req.ConfirmTimeout)}
		}
		if d < time.Second || d > 24*time.Hour {
			return t, &TriggerError{Field: "confirm-timeout", Msg: fmt.Sprintf("%v is out of range (1s to 24h)", d)}
		}
		t.ConfirmTimeout = d
	}
	return t, nil
}

func validID(s string) error {
	if len(s) > 64 {
		return fmt.Errorf("%d characters long (at most 64)", len(s))
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q holds %q (letters, digits, '-', '_', '.')", s, c)
		}
	}
	return nil
}

// jsonError turns encoding/json's errors into ones that name the member.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &TriggerError{Msg: "empty body: send the trigger as a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &TriggerError{Msg: "bad JSON: the body ends in the middle of the object"}
	case errors.As(err, &syn):
		return &TriggerError{Msg: fmt.Sprintf("bad JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &TriggerError{Msg: fmt.Sprintf("the trigger must be a JSON object, not %s", typ.Value)}
		}
		return &TriggerError{Field: typ.Field, Msg: fmt.Sprintf("want %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		if f == "requester" {
			return &TriggerError{Field: f, Msg: "not accepted: the requester is the authenticated identity (token name or certificate CN)"}
		}
		return &TriggerError{Field: f, Msg: "unknown field (known: id, endpoints, from, to, kind, partial, strip-unsupported, keep-source, confirm-timeout, dry-run)"}
	}
	return &TriggerError{Msg: "bad JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "an array"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	}
	return k
}

// endpointStrings spells endpoints as the API takes them.
func endpointStrings(eps []flow.Endpoint) []string {
	out := make([]string, len(eps))
	for i, e := range eps {
		switch {
		case e.Address.IsValid() && e.ID != "":
			out[i] = e.Address.String() + "|" + e.ID
		case e.Address.IsValid():
			out[i] = e.Address.String()
		default:
			out[i] = "id:" + e.ID
		}
	}
	return out
}
