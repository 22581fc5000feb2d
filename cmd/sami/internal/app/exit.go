package app

import (
	"errors"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/topology"
)

// Exit codes of the sami command. They are part of its interface: scripts
// and CI jobs branch on them (documented in docs/operator.md).
const (
	ExitOK          = 0 // done
	ExitFailure     = 1 // the operation failed (a migration rolled back, a check failed)
	ExitUsage       = 2 // bad command line or configuration (flags, config file, inventory)
	ExitUnreachable = 3 // a device could not be reached
	ExitAuth        = 4 // authentication failed (host key, password, key)
	ExitRefused     = 5 // refused before writing: capacity, features, domains, read-only
	ExitUnfinished  = 6 // left unfinished in the journal (resume it with sami journal resume)
	ExitMapping     = 7 // sami validate: a mapping is wrong
	ExitModules     = 8 // sami validate: the vendor modules cannot be loaded
)

// UsageError marks an error in what the user typed or configured.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage wraps err as a usage error.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// ExitError carries an explicit exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error to the command's exit code.
func ExitCode(err error) int {
	var ee *ExitError
	var ue *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue), errors.Is(err, topology.ErrInventory), errors.Is(err, migrate.ErrInvalidRequest),
		errors.Is(err, topology.ErrUnknownDevice), errors.Is(err, topology.ErrUnknownLocation), errors.Is(err, device.ErrUnknownDriver),
		errors.Is(err, device.ErrConfig), errors.Is(err, topology.ErrCredentials):
		return ExitUsage
	case errors.Is(err, device.ErrAuth):
		return ExitAuth
	case errors.Is(err, device.ErrUnreachable):
		return ExitUnreachable
	case errors.Is(err, migrate.ErrCapacity), errors.Is(err, migrate.ErrUnsupported), errors.Is(err, migrate.ErrCrossDomain),
		errors.Is(err, migrate.ErrReadOnly):
		return ExitRefused
	case errors.Is(err, journal.ErrNotFound):
		return ExitUsage
	}
	return ExitFailure
}

// ExitCodes documents the codes (sami help exit-codes).
var ExitCodes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "done"},
	{ExitFailure, "the operation failed or was interrupted (a migration was rolled back: the sources are untouched)"},
	{ExitUsage, "bad command line, configuration or inventory (the message names the file line and field)"},
	{ExitUnreachable, "a device could not be reached"},
	{ExitAuth, "authentication failed (wrong host key, password or key)"},
	{ExitRefused, "refused before anything was written: capacity, features, administrative domains, read-only device"},
	{ExitUnfinished, "the migration is unfinished (destinations hold the state; resume it with sami journal resume ID)"},
	{ExitMapping, "sami validate: a mapping is wrong"},
	{ExitModules, "sami validate: the vendor YANG modules cannot be loaded"},
}
