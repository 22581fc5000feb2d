package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Create adds a new running record. It fills in r: the ID when empty (NewID
// from the journal's clock), Status (always Running), Created (when zero),
// Updated, and the Seq, Time and Phase of any initial Entries. Result and
// Error are cleared: they belong to Finish. An id already present is
// ErrExists.
func (j *Journal) Create(ctx context.Context, r *Record) error {
	if r == nil {
		return fmt.Errorf("%w: create: nil record", ErrInvalid)
	}
	now := j.now()
	id := r.ID
	if id == "" {
		id = j.ids.at(now)
	}
	if err := checkName("record id", id); err != nil {
		return err
	}
	if err := checkJSON("plan of record "+id, r.Plan); err != nil {
		return err
	}
	created := now
	if !r.Created.IsZero() {
		created = norm(r.Created)
	}
	d := diskRecord{ID: id, Kind: r.Kind, Requester: r.Requester, Created: created,
		Updated: later(created, now), Status: Running}
	entries := make([]Entry, len(r.Entries))
	for i, e := range r.Entries {
		e, err := j.prepEntry(id, e)
		if err != nil {
			return err
		}
		e.Seq = uint64(i + 1)
		entries[i] = e
		d.Phase = e.Phase
	}
	meta, err := marshal(id, d)
	if err != nil {
		return err
	}
	encoded := make([][]byte, len(entries))
	for i, e := range entries {
		if encoded[i], err = marshal(id, diskEntry(e)); err != nil {
			return err
		}
	}
	plan := compact(r.Plan)
	err = j.update(ctx, func(tx *bolt.Tx) error {
		rb, err := tx.Bucket(bRecords).CreateBucket([]byte(id))
		if errors.Is(err, berrors.ErrBucketExists) {
			return fmt.Errorf("%w: %q", ErrExists, id)
		} else if err != nil {
			return err
		}
		if err := rb.Put(kMeta, meta); err != nil {
			return err
		}
		if plan != nil {
			if err := rb.Put(kPlan, plan); err != nil {
				return err
			}
		}
		eb, err := rb.CreateBucket(kEntries)
		if err != nil {
			return err
		}
		for i, v := range encoded {
			if err := eb.Put(u64Key(uint64(i+1)), v); err != nil {
				return err
			}
		}
		if err := eb.SetSequence(uint64(len(encoded))); err != nil {
			return err
		}
		if err := tx.Bucket(bByCreated).Put(indexKey(created, id), nil); err != nil {
			return err
		}
		return tx.Bucket(bRunning).Put(indexKey(created, id), nil)
	})
	if err != nil {
		return err
	}
	r.ID, r.Kind, r.Requester = d.ID, d.Kind, d.Requester
	r.Created, r.Updated, r.Status, r.Phase = d.Created, d.Updated, d.Status, d.Phase
	r.Entries, r.Result, r.Error = entries, nil, ""
	return nil
}

// prepEntry checks an entry and fills in its time.
func (j *Journal) prepEntry(id string, e Entry) (Entry, error) {
	if e.Phase == "" {
		return e, fmt.Errorf("%w: entry for record %q: empty phase", ErrInvalid, id)
	}
	if err := checkJSON(fmt.Sprintf("data of %s entry for record %q", e.Phase, id), e.Data); err != nil {
		return e, err
	}
	if e.Time.IsZero() {
		e.Time = j.now()
	} else {
		e.Time = norm(e.Time)
	}
	e.Data = compact(e.Data)
	return e, nil
}

// Append adds an entry to a running record and returns it with Seq and Time
// filled in (any Seq passed in is ignored). It returns only once the entry is
// on disk. The record's Phase becomes the entry's. A finished record is
// ErrFinished; an unknown id ErrNotFound.
func (j *Journal) Append(ctx context.Context, id string, e Entry) (Entry, error) {
	if err := checkName("record id", id); err != nil {
		return Entry{}, err
	}
	e, err := j.prepEntry(id, e)
	if err != nil {
		return Entry{}, err
	}
	now := j.now()
	err = j.update(ctx, func(tx *bolt.Tx) error {
		rb, d, err := runningRecord(tx, id, "append to")
		if err != nil {
			return err
		}
		eb := rb.Bucket(kEntries)
		if eb == nil {
			return &CorruptError{ID: id, What: "record", Err: errors.New("entries bucket missing")}
		}
		seq, err := eb.NextSequence()
		if err != nil {
			return err
		}
		ent := diskEntry(e)
		ent.Seq = seq
		v, err := marshal(id, ent)
		if err != nil {
			return err
		}
		if err := eb.Put(u64Key(seq), v); err != nil {
			return err
		}
		d.Phase, d.Updated = e.Phase, later(d.Updated, now)
		if v, err = marshal(id, d); err != nil {
			return err
		}
		if err := rb.Put(kMeta, v); err != nil {
			return err
		}
		e.Seq = seq // the last run of fn is the committed one
		return nil
	})
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Finish ends a running record with a final status (Done, RolledBack or
// Failed), the engine's result and, for a failure, the error text. A record
// already finished is ErrFinished.
func (j *Journal) Finish(ctx context.Context, id string, st Status, result json.RawMessage, errText string) error {
	if err := checkName("record id", id); err != nil {
		return err
	}
	if !st.Valid() || st == Running {
		return fmt.Errorf("%w: finish %q: status %q: want %q, %q or %q", ErrInvalid, id, st, Done, RolledBack, Failed)
	}
	if err := checkJSON("result of record "+id, result); err != nil {
		return err
	}
	res := compact(result)
	now := j.now()
	return j.update(ctx, func(tx *bolt.Tx) error {
		rb, d, err := runningRecord(tx, id, "finish")
		if err != nil {
			return err
		}
		d.Status, d.Error, d.Updated = st, errText, later(d.Updated, now)
		v, err := marshal(id, d)
		if err != nil {
			return err
		}
		if err := rb.Put(kMeta, v); err != nil {
			return err
		}
		if res != nil {
			if err := rb.Put(kResult, res); err != nil {
				return err
			}
		}
		return tx.Bucket(bRunning).Delete(indexKey(d.Created, id))
	})
}

// runningRecord finds a record that may still be written to.
func runningRecord(tx *bolt.Tx, id, op string) (*bolt.Bucket, *diskRecord, error) {
	rb := tx.Bucket(bRecords).Bucket([]byte(id))
	if rb == nil {
		return nil, nil, fmt.Errorf("%w: %s record %q", ErrNotFound, op, id)
	}
	d, err := decodeRecord(id, rb.Get(kMeta))
	if err != nil {
		return nil, nil, err
	}
	if d.Status != Running {
		return nil, nil, fmt.Errorf("%w: %s record %q: it is %s", ErrFinished, op, id, d.Status)
	}
	return rb, d, nil
}

// Get returns a record with its entries.
func (j *Journal) Get(ctx context.Context, id string) (*Record, error) {
	if err := checkName("record id", id); err != nil {
		return nil, err
	}
	var r *Record
	err := j.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = loadRecord(tx, id, true)
		return err
	})
	return r, err
}

func loadRecord(tx *bolt.Tx, id string, withEntries bool) (*Record, error) {
	rb := tx.Bucket(bRecords).Bucket([]byte(id))
	if rb == nil {
		return nil, fmt.Errorf("%w: record %q", ErrNotFound, id)
	}
	d, err := decodeRecord(id, rb.Get(kMeta))
	if err != nil {
		return nil, err
	}
	r := &Record{ID: d.ID, Kind: d.Kind, Requester: d.Requester, Created: d.Created, Updated: d.Updated,
		Status: d.Status, Phase: d.Phase, Error: d.Error,
		Plan: copyBytes(rb.Get(kPlan)), Result: copyBytes(rb.Get(kResult))}
	if !withEntries {
		return r, nil
	}
	eb := rb.Bucket(kEntries)
	if eb == nil {
		return nil, &CorruptError{ID: id, What: "record", Err: errors.New("entries bucket missing")}
	}
	r.Entries = make([]Entry, 0, min(eb.Sequence(), 1<<12))
	err = eb.ForEach(func(k, v []byte) error {
		e, err := decodeEntry(id, k, v)
		if err != nil {
			return err
		}
		e.Data = copyBytes(e.Data)
		r.Entries = append(r.Entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// List returns the records that match f, newest (by Created) first. Records
// that cannot be decoded are left out and reported together in the error
// (errors.Is(err, ErrCorrupt)), next to the records that could: one damaged
// record must not hide the others.
func (j *Journal) List(ctx context.Context, f Filter) ([]*Record, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("%w: list: negative limit %d", ErrInvalid, f.Limit)
	}
	for _, s := range f.Status {
		if !s.Valid() {
			return nil, fmt.Errorf("%w: list: unknown status %q", ErrInvalid, s)
		}
	}
	var out []*Record
	var bad []error
	err := j.view(ctx, func(tx *bolt.Tx) error {
		out, bad = nil, nil
		c := tx.Bucket(bByCreated).Cursor()
		var since []byte
		if !f.Since.IsZero() {
			since = timeKey(f.Since)
		}
		n := 0
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if since != nil && string(k[:min(8, len(k))]) < string(since) {
				break
			}
			if n++; n%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			id, err := indexID(k)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			r, err := loadRecord(tx, id, f.WithEntries)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			if len(f.Status) > 0 && !slices.Contains(f.Status, r.Status) {
				continue
			}
			out = append(out, r)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(bad...)
}

// Unfinished returns the running records, oldest first, with their entries:
// after a crash, the migrations the engine must resume or roll back. As with
// List, records that cannot be decoded are reported in the error next to the
// others.
func (j *Journal) Unfinished(ctx context.Context) ([]*Record, error) {
	var out []*Record
	var bad []error
	err := j.view(ctx, func(tx *bolt.Tx) error {
		out, bad = nil, nil
		return tx.Bucket(bRunning).ForEach(func(k, _ []byte) error {
			id, err := indexID(k)
			if err != nil {
				bad = append(bad, err)
				return nil
			}
			r, err := loadRecord(tx, id, true)
			switch {
			case err != nil:
				bad = append(bad, err)
			case r.Status != Running:
				bad = append(bad, &CorruptError{ID: id, What: "record", Err: fmt.Errorf("indexed as running but %s", r.Status)})
			default:
				out = append(out, r)
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(bad...)
}

// Prune deletes the finished records last updated before cutoff, with their
// entries, and returns how many it deleted. Running records are kept whatever
// their age; so are records that cannot be decoded (reported in the error).
// The audit log is not pruned.
func (j *Journal) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	cutoff = norm(cutoff)
	var n int
	var bad []error
	err := j.update(ctx, func(tx *bolt.Tx) error {
		n, bad = 0, nil
		idx, recs := tx.Bucket(bByCreated), tx.Bucket(bRecords)
		var gone [][]byte
		c := idx.Cursor()
		// Updated is never before Created, so the scan stops at cutoff.
		for k, _ := c.First(); k != nil && string(k[:min(8, len(k))]) < string(timeKey(cutoff)); k, _ = c.Next() {
			id, err := indexID(k)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			rb := recs.Bucket([]byte(id))
			if rb == nil {
				gone = append(gone, copyBytes(k)) // dangling index entry
				continue
			}
			d, err := decodeRecord(id, rb.Get(kMeta))
			if err != nil {
				bad = append(bad, err)
				continue
			}
			if d.Status == Running || !d.Updated.Before(cutoff) {
				continue
			}
			if err := recs.DeleteBucket([]byte(id)); err != nil {
				return err
			}
			gone = append(gone, copyBytes(k))
			n++
		}
		for _, k := range gone {
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, errors.Join(bad...)
}

func indexID(k []byte) (string, error) {
	if len(k) <= 8 {
		return "", &CorruptError{ID: fmt.Sprintf("%x", k), What: "index key", Err: errors.New("too short")}
	}
	return string(k[8:]), nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func marshal(id string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: record %q: %w", ErrInvalid, id, err)
	}
	return b, nil
}
