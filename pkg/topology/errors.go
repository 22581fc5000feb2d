package topology

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrInventory: the inventory file is malformed or inconsistent. Every
	// *FieldError wraps it.
	ErrInventory = errors.New("topology: invalid inventory")
	// ErrUnknownDevice: no device of that name (in the inventory, or in a
	// location's path).
	ErrUnknownDevice = errors.New("unknown device")
	// ErrUnknownLocation: no location of that name.
	ErrUnknownLocation = errors.New("unknown location")
	// ErrCredentials: a device's secret could not be resolved (password file
	// unreadable, environment variable unset).
	ErrCredentials = errors.New("topology: credentials")
	// ErrInvalidAnnouncement: an agent's announcement is malformed.
	ErrInvalidAnnouncement = errors.New("topology: invalid announcement")
	// ErrConflict: an announcement names an agent that is registered, live,
	// with a different host key.
	ErrConflict = errors.New("topology: name held by another agent")
	// ErrNotRegistered: a heartbeat for an agent the directory does not
	// hold (never registered, or expired).
	ErrNotRegistered = errors.New("topology: agent not registered")
	// ErrFull: the directory holds as many agents as it may.
	ErrFull = errors.New("topology: directory full")
	// ErrUnauthorized: the directory refused the bearer token.
	ErrUnauthorized = errors.New("topology: unauthorized")
)

// FieldError locates a problem in an inventory: the file, the line and the
// field path (e.g. "devices[2].driver").
type FieldError struct {
	File  string // empty when read from an unnamed reader
	Line  int    // 1-based; 0 when unknown
	Field string
	Msg   string
	// Err is a more specific sentinel (ErrUnknownDevice, ...) or nil.
	Err error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File + ":" + strconv.Itoa(e.Line) + ": ")
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets errors.Is find ErrInventory and the specific sentinel.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInventory, e.Err}
	}
	return []error{ErrInventory}
}

// HTTPError is a directory's refusal, as the announce client sees it.
type HTTPError struct {
	Status  int
	Message string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("directory answered %d: %s", e.Status, e.Message)
}

// Unwrap maps the status to this package's sentinels.
func (e *HTTPError) Unwrap() error {
	switch e.Status {
	case 401, 403:
		return ErrUnauthorized
	case 409:
		return ErrConflict
	case 503:
		return ErrFull
	case 400, 413, 415:
		return ErrInvalidAnnouncement
	}
	return nil
}
