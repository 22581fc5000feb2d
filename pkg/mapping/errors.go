package mapping

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; every error of the package wraps one of them.
var (
	// ErrMapping: the mapping file is wrong (syntax, unknown keys, a path
	// the vendor modules do not have, an incompatible type, ...).
	ErrMapping = errors.New("mapping is wrong")
	// ErrModules: the vendor modules cannot be found or parsed.
	ErrModules = errors.New("cannot load vendor modules")
	// ErrConvert: vendor data cannot be converted into a canonical session.
	ErrConvert = errors.New("cannot convert vendor data")
	// ErrNamespace: vendor data in a namespace (or JSON module) the mapping
	// does not accept.
	ErrNamespace = errors.New("unexpected namespace")
	// ErrReadOnly: writing through a read-only mapping.
	ErrReadOnly = errors.New("mapping is read-only")
)

// Error is a problem in a mapping file: the file and line, the mapping key
// (e.g. fields.original/source-address.path), the vendor path concerned and
// what is wrong.
type Error struct {
	File  string
	Line  int
	Key   string
	Path  string // vendor schema path, when one is concerned
	Msg   string
	Err   error // sentinel (ErrMapping, ErrModules)
	Cause error // underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString("vendor path ")
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// EntryError is a vendor entry that could not be converted: which entry
// (its position in the input), the input line, the canonical target and
// the vendor path.
type EntryError struct {
	Mapping string
	Entry   int // 1-based, in input order
	Line    int // input line of the entry's start tag (XML), 0 for JSON
	Target  string
	Path    string
	Err     error
}

func (e *EntryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mapping %s: entry %d", e.Mapping, e.Entry)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (input line %d)", e.Line)
	}
	if e.Target != "" {
		b.WriteString(": ")
		b.WriteString(e.Target)
	}
	if e.Path != "" {
		b.WriteString(" from ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *EntryError) Unwrap() error { return e.Err }
