package yangxml

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error the codec returns wraps one of them in an *Error.
var (
	// ErrMalformed: the input is not well-formed XML (or not a data tree at all).
	ErrMalformed = errors.New("malformed XML")
	// ErrUnknownElement: an element that the schema has no node for.
	ErrUnknownElement = errors.New("unknown element")
	// ErrNamespace: an element in the wrong (or no) namespace for its schema node,
	// or an identityref prefix that resolves to no known module.
	ErrNamespace = errors.New("wrong namespace")
	// ErrInvalidValue: a value that does not parse as its YANG type, or violates
	// a length, pattern, enumeration or fraction-digits restriction.
	ErrInvalidValue = errors.New("invalid value")
	// ErrOutOfRange: a number outside its type's range.
	ErrOutOfRange = errors.New("value out of range")
	// ErrDuplicate: a list entry key or a non-list node given twice.
	ErrDuplicate = errors.New("duplicate node")
	// ErrMissingKey: a list entry without one of its key leaves.
	ErrMissingKey = errors.New("missing list key")
	// ErrMissingMandatory: a mandatory node is absent (Validate only).
	ErrMissingMandatory = errors.New("missing mandatory node")
	// ErrUnsupported: a schema or value the codec cannot handle.
	ErrUnsupported = errors.New("unsupported")
)

// Error locates a problem in the data tree.
type Error struct {
	// Path is the data path of the node, e.g.
	// /sami-flow-state:flow-state/sessions/session[id='0/6/10.0.0.1/1/10.0.0.2/2']/tcp/state.
	Path string
	// Line and Column of the input position, when decoding (0 when unknown).
	Line, Column int
	// Err is the underlying error; errors.Is works against the sentinels.
	Err error
}

func (e *Error) Error() string {
	loc := ""
	if e.Line > 0 {
		loc = fmt.Sprintf(" (line %d, column %d)", e.Line, e.Column)
	}
	if e.Path == "" {
		return fmt.Sprintf("yangxml: %v%s", e.Err, loc)
	}
	return fmt.Sprintf("yangxml: %s: %v%s", e.Path, e.Err, loc)
}

func (e *Error) Unwrap() error { return e.Err }
