package journal

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// maxBatch bounds how many writes share one commit.
const maxBatch = 256

// Write states: a queued write is either taken by the writer or abandoned by
// its caller (context done), never both, so a context error means the write
// did not happen.
const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

type writeOp struct {
	fn    func(*bolt.Tx) error // must leave no trace when it fails, and may run twice
	state atomic.Int32
	done  chan error
}

// update runs fn in a write transaction and returns once it is committed (and
// synced). Writes from concurrent callers share commits (group commit), so fn
// may run more than once: it must derive everything from the transaction and
// from values fixed before the call.
func (j *Journal) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return ErrClosed
	}
	if j.ro {
		j.mu.RUnlock()
		return ErrReadOnly
	}
	j.pending.Add(1)
	j.mu.RUnlock()
	defer j.pending.Done()

	op := &writeOp{fn: fn, done: make(chan error, 1)}
	select {
	case j.ops <- op:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		if op.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		// Already being committed: the outcome is on its way, and a
		// caller must not be told "not written" when it was.
		return <-op.done
	}
}

// writer commits queued writes: everything waiting when a commit starts goes
// into it, so the fsync is shared.
func (j *Journal) writer() {
	defer close(j.stopped)
	batch := make([]*writeOp, 0, maxBatch)
	for op := range j.ops {
		batch = append(batch[:0], op)
		// Let the writers just woken by the last commit queue their next
		// write first: bigger batches, fewer fsyncs (25 -> 30 writes per
		// commit with 50 writers).
		runtime.Gosched()
	drain:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-j.ops:
				if !ok {
					break drain
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		taken := batch[:0]
		for _, op := range batch {
			if op.state.CompareAndSwap(opQueued, opTaken) {
				taken = append(taken, op)
			}
		}
		j.commit(taken)
	}
}

// Stats counts the journal's write transactions since Open.
type Stats struct {
	Writes  uint64 `json:"writes"`  // writes acknowledged or refused
	Commits uint64 `json:"commits"` // transactions (and fsyncs): Writes/Commits is the group commit's gain
}

// Stats returns the write counters.
func (j *Journal) Stats() Stats {
	return Stats{Writes: j.writes.Load(), Commits: j.commits.Load()}
}

func (j *Journal) commit(batch []*writeOp) {
	j.writes.Add(uint64(len(batch)))
	switch len(batch) {
	case 0:
		return
	case 1:
		batch[0].done <- j.run(batch[0].fn)
		return
	}
	err := j.run(func(tx *bolt.Tx) error {
		for _, op := range batch {
			if err := op.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, op := range batch {
			op.done <- nil
		}
		return
	}
	// One write failed and took the shared transaction with it: give each
	// its own, so only the faulty one fails.
	j.log.Debug("journal: group commit failed, retrying one by one", "writes", len(batch), "err", err)
	for _, op := range batch {
		op.done <- j.run(op.fn)
	}
}

func (j *Journal) run(fn func(*bolt.Tx) error) error {
	j.commits.Add(1)
	err := j.db.Update(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	var ce *CorruptError
	if err != nil && !errors.As(err, &ce) && !isOurs(err) {
		return fmt.Errorf("journal: write %s: %w", j.path, err)
	}
	return err
}

// isOurs reports errors this package made (already worded for the caller).
func isOurs(err error) bool {
	for _, s := range []error{ErrNotFound, ErrExists, ErrFinished, ErrInvalid, ErrCorrupt} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
