package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/sami-netops/sami/pkg/migrate"
)

// ProblemBase is where the problem types are documented: a problem's Type
// is ProblemBase + "#" + its name (docs/api.md has a section per name).
const ProblemBase = "https://github.com/sami-netops/sami/blob/main/docs/api.md"

// Problem names (the anchor part of Problem.Type).
const (
	ProblemBadRequest     = "bad-request"            // 400: bad JSON, unknown field, bad value
	ProblemUnauthorized   = "unauthorized"           // 401: no credentials, or wrong ones
	ProblemForbidden      = "forbidden"              // 403: known identity, not allowed to do this
	ProblemNotFound       = "not-found"              // 404
	ProblemBusy           = "busy"                   // 409: devices held by a running migration (?wait=false)
	ProblemConflict       = "conflict"               // 409: a migration with that id exists
	ProblemTooLarge       = "too-large"              // 413
	ProblemMediaType      = "unsupported-media-type" // 415
	ProblemUnknownPlace   = "unknown-location"       // 422: from/to not in the inventory
	ProblemNothingToMove  = "nothing-to-move"        // 422: the new path needs no state
	ProblemRefused        = "refused"                // 422: refused before writing (capacity, features, domains)
	ProblemUnavailable    = "unavailable"            // 503: recovering the journal, or shutting down
	ProblemInternal       = "internal"               // 500
	ProblemDryRunFailed   = "dry-run-failed"         // 502: a device failed during a dry run
	problemContentType    = "application/problem+json"
	maxProblemDetailBytes = 4 << 10
)

// Problem is an error answer of the API: RFC 9457 problem details, with
// sami's extension members. It is also an error, so a Go client can return
// what it decoded.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the member of the request that was wrong.
	Field string `json:"field,omitempty"`
	// Busy lists the devices held by other migrations (problem busy), and
	// Holders the migrations holding them.
	Busy    []string `json:"busy,omitempty"`
	Holders []string `json:"holders,omitempty"`
	// Migration names the migration concerned (conflict, refused).
	Migration string `json:"migration,omitempty"`
	// Report is the engine's report of a refused dry run.
	Report *migrate.Report `json:"report,omitempty"`
}

func (p *Problem) Error() string {
	return fmt.Sprintf("sami api: %s (%d): %s", p.Title, p.Status, p.Detail)
}

// Name is the problem's name (the anchor of its Type).
func (p *Problem) Name() string {
	if len(p.Type) > len(ProblemBase)+1 && p.Type[:len(ProblemBase)] == ProblemBase {
		return p.Type[len(ProblemBase)+1:]
	}
	return p.Type
}

var problemTitles = map[string]string{
	ProblemBadRequest:    "Bad request",
	ProblemUnauthorized:  "Authentication required",
	ProblemForbidden:     "Not allowed",
	ProblemNotFound:      "Not found",
	ProblemBusy:          "Devices busy",
	ProblemConflict:      "Migration exists",
	ProblemTooLarge:      "Request too large",
	ProblemMediaType:     "Unsupported media type",
	ProblemUnknownPlace:  "Unknown location",
	ProblemNothingToMove: "Nothing to move",
	ProblemRefused:       "Refused before writing",
	ProblemUnavailable:   "Not available",
	ProblemInternal:      "Internal error",
	ProblemDryRunFailed:  "Dry run failed at a device",
}

func newProblem(status int, name, detail string) *Problem {
	if len(detail) > maxProblemDetailBytes {
		detail = detail[:maxProblemDetailBytes] + "..."
	}
	return &Problem{Type: ProblemBase + "#" + name, Title: problemTitles[name], Status: status, Detail: detail}
}

func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	w.Header().Set("Content-Type", problemContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
