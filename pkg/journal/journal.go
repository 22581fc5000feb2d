// Package journal is the migration engine's durable memory: a record of every
// migration (its plan, each phase as it happens, its outcome), an audit log of
// who moved what where, and the last checkpoint of each device's sessions for
// continuous replication. It is one bbolt file, written by one process.
//
// The engine writes a migration's phase to the journal before acting on it
// (write-ahead): Append returns only after the entry is on disk (fsync). After
// a crash the engine calls Unfinished and, for each record still running, looks
// at the last entries (persist ids, digests) to confirm, cancel or roll back on
// the devices; then it calls Finish.
//
// Concurrent writers are group-committed: each write waits for one fsync, but
// the writes that arrive while a commit is on disk share the next one, so 50
// migrations appending at once cost far fewer than 50 fsyncs each.
package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors; the errors returned wrap them (with %w) and name the
// record, device or field concerned.
var (
	// ErrNotFound: no record (or checkpoint) with that id (or device).
	ErrNotFound = errors.New("journal: not found")
	// ErrExists: Create with an id that is already in the journal.
	ErrExists = errors.New("journal: record already exists")
	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("journal: closed")
	// ErrFinished: Append or Finish on a record that is already finished.
	ErrFinished = errors.New("journal: record already finished")
	// ErrInvalid: bad input (an empty phase, a status that is not one of
	// the four, JSON that does not parse, an id with control characters).
	ErrInvalid = errors.New("journal: invalid input")
	// ErrCorrupt: something stored in the file cannot be decoded; the
	// wrapping *CorruptError names the record and what was wrong.
	ErrCorrupt = errors.New("journal: corrupt data")
	// ErrLocked: another process (or another Journal in this one) has the
	// file open; only one writer may hold it.
	ErrLocked = errors.New("journal: file locked by another process")
	// ErrReadOnly: a write on a journal opened WithReadOnly.
	ErrReadOnly = errors.New("journal: opened read-only")
)

// CorruptError reports stored data that cannot be decoded. It wraps
// ErrCorrupt.
type CorruptError struct {
	ID   string // record id, device name or audit key
	What string // what was being decoded: "record", "entry 3", "checkpoint"
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal: %s %q: cannot decode: %v", e.What, e.ID, e.Err)
}

func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// Status is where a migration stands.
type Status string

const (
	Running    Status = "running"     // in progress, or interrupted by a crash
	Done       Status = "done"        // finished as planned
	RolledBack Status = "rolled-back" // undone: devices are as before
	Failed     Status = "failed"      // could not be rolled back: needs an operator
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case Running, Done, RolledBack, Failed:
		return true
	}
	return false
}

// Entry is one step of a migration, written before the step is taken.
type Entry struct {
	Seq    uint64          `json:"seq"`              // assigned by Append, 1-based, per record
	Time   time.Time       `json:"time"`             // assigned by Append if zero
	Phase  string          `json:"phase"`            // engine phase: "stage", "commit", "confirm", ...
	Device string          `json:"device,omitempty"` // device the step concerns, or ""
	Note   string          `json:"note,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"` // engine-defined payload (persist ids, digests, counts)
}

// Record is one migration.
type Record struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind,omitempty"`      // "migrate", "precopy", "unplanned", ...
	Requester string          `json:"requester,omitempty"` // user, API token name, webhook
	Created   time.Time       `json:"created"`
	Updated   time.Time       `json:"updated"`
	Status    Status          `json:"status"`
	Phase     string          `json:"phase,omitempty"` // the phase of the last entry
	Plan      json.RawMessage `json:"plan,omitempty"`  // engine-defined
	Entries   []Entry         `json:"entries,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"` // engine-defined summary when finished
	Error     string          `json:"error,omitempty"`
}

// Filter selects records for List. The zero Filter lists every record,
// without entries.
type Filter struct {
	Status      []Status  // any of these; empty = any status
	Since       time.Time // created at or after; zero = any time
	Limit       int       // at most this many (the newest); 0 = no limit
	WithEntries bool      // load each record's entries too
}

// Option configures Open.
type Option func(*options)

type options struct {
	log         *slog.Logger
	openTimeout time.Duration
	clock       func() time.Time
	noSync      bool
	readOnly    bool
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithOpenTimeout sets how long Open waits for the file lock held by another
// process before giving up with ErrLocked (default 1s; 0 is refused, since
// bbolt would then wait forever).
func WithOpenTimeout(d time.Duration) Option { return func(o *options) { o.openTimeout = d } }

// WithClock sets the clock used for times the caller leaves zero.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithNoSync skips fsync on commit (bbolt's NoSync). For tests and
// benchmarks only: a crash of the machine can then lose acknowledged entries,
// which defeats the journal's purpose.
func WithNoSync() Option { return func(o *options) { o.noSync = true } }

// WithReadOnly opens an existing journal for reading (shared lock: several
// readers, no writer). Writes return ErrReadOnly.
func WithReadOnly() Option { return func(o *options) { o.readOnly = true } }

// DefaultOpenTimeout is how long Open waits for the file lock by default.
const DefaultOpenTimeout = time.Second

// Journal is an open journal file. It is safe for concurrent use.
type Journal struct {
	db    *bolt.DB
	path  string
	log   *slog.Logger
	clock func() time.Time
	ro    bool
	ids   idGen

	writes, commits atomic.Uint64

	mu      sync.RWMutex // guards closed against the start of a write
	closed  bool
	pending sync.WaitGroup // writes handed to the writer and not yet answered
	ops     chan *writeOp
	stopped chan struct{} // closed when the writer goroutine has returned
}

// Open opens the journal at path, creating the file (mode 0600) if it does
// not exist. A file held by another process is reported with ErrLocked after
// the open timeout.
func Open(path string, opts ...Option) (*Journal, error) {
	o := options{openTimeout: DefaultOpenTimeout, clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, fmt.Errorf("%w: open: empty path", ErrInvalid)
	}
	if o.openTimeout <= 0 {
		return nil, fmt.Errorf("%w: open %s: open timeout %v must be positive", ErrInvalid, path, o.openTimeout)
	}
	if o.clock == nil {
		return nil, fmt.Errorf("%w: open %s: nil clock", ErrInvalid, path)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.readOnly {
		// bbolt would create the file even read-only; a missing journal
		// is an error for a reader.
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("journal: open %s read-only: %w", path, errors.Unwrap(err))
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        o.openTimeout,
		NoSync:         o.noSync,
		ReadOnly:       o.readOnly,
		FreelistType:   bolt.FreelistMapType, // checkpoints churn large runs of pages
		NoFreelistSync: false,
	})
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s: still locked after %v (is another sami running with this journal?)",
			ErrLocked, path, o.openTimeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("%w: open %s: not a journal (bbolt: %w)", ErrCorrupt, path, err)
	case errors.As(err, &pathErr):
		return nil, fmt.Errorf("journal: open %s: %w", path, pathErr.Err) // not the path twice
	case err != nil:
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	j := &Journal{db: db, path: path, log: o.log, clock: o.clock, ro: o.readOnly,
		ops: make(chan *writeOp, maxBatch), stopped: make(chan struct{})}
	if err := j.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	if o.readOnly {
		close(j.stopped)
	} else {
		go j.writer()
	}
	j.log.Debug("journal opened", "path", path, "nosync", o.noSync, "readonly", o.readOnly)
	return j, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Close waits for the writes in progress, then closes the file. Later calls
// return ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.closed = true
	j.mu.Unlock()
	j.pending.Wait()
	if !j.ro {
		close(j.ops)
	}
	<-j.stopped
	if err := j.db.Close(); err != nil {
		return fmt.Errorf("journal: close %s: %w", j.path, err)
	}
	return nil
}

// view runs fn in a read transaction.
func (j *Journal) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.RLock()
	closed := j.closed
	j.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	err := j.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// now is the clock's time, in UTC without a monotonic reading, as stored.
func (j *Journal) now() time.Time { return norm(j.clock()) }

func norm(t time.Time) time.Time { return t.UTC().Round(0) }
