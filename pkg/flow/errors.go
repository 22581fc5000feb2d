package flow

import (
	"errors"
	"strconv"
	"strings"

	"github.com/sami-netops/sami/generated/flowstate"
)

// Session is the model's session list entry; the alias keeps signatures
// readable.
type Session = flowstate.SamiFlowState_FlowState_Sessions_Session

// Sentinel errors. Errors returned by this package wrap one of them, so callers
// can tell a broken session from a broken id with errors.Is; the wrapping error
// names the session and the offending schema path.
var (
	// ErrNilSession reports a nil *Session where a session was required.
	ErrNilSession = errors.New("flow: nil session")
	// ErrMissing reports that a leaf needed to derive the key is absent.
	ErrMissing = errors.New("missing")
	// ErrInvalid reports a leaf whose value cannot be used (an unparsable
	// address, an enum value the model does not define, a key too long).
	ErrInvalid = errors.New("invalid")
	// ErrFamilyMismatch reports an address whose family disagrees with the
	// session's address-family.
	ErrFamilyMismatch = errors.New("does not match address-family")
	// ErrKeyMismatch reports a session whose id is not the key derived from
	// its zone and original tuple.
	ErrKeyMismatch = errors.New("does not match the derived key")
	// ErrMalformedKey reports a string that is not a canonical session id.
	ErrMalformedKey = errors.New("malformed session id")
	// ErrDuplicateID reports two sessions with the same id in one set.
	ErrDuplicateID = errors.New("appears more than once")
)

// SessionError locates a problem in a session: which session (by id, when it
// has one) and which schema path, relative to the session, is wrong.
type SessionError struct {
	ID   string // the session's id leaf; empty when unset
	Path string // schema path relative to the session, e.g. "original/source-address"
	Err  error  // wraps one of the sentinel errors
}

func (e *SessionError) Error() string {
	var b strings.Builder
	b.WriteString("flow: session ")
	if e.ID != "" {
		b.WriteString(strconv.Quote(e.ID))
	} else {
		b.WriteString("without id")
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteByte(' ')
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *SessionError) Unwrap() error { return e.Err }

func sessionErr(s *Session, path string, err error) error {
	return &SessionError{ID: s.GetId(), Path: path, Err: err}
}
