package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditRecord says who moved what where, and how it ended. The engine writes
// one per migration when it finishes (and one per refusal); the log is
// append-only and Prune leaves it alone.
type AuditRecord struct {
	Time              time.Time `json:"time"` // assigned by Audit if zero
	MigrationID       string    `json:"migration_id,omitempty"`
	Requester         string    `json:"requester,omitempty"`
	Action            string    `json:"action"` // "migrate", "refuse", "rollback", ...; required
	Endpoint          string    `json:"endpoint,omitempty"`
	Sources           []string  `json:"sources,omitempty"`
	Destinations      []string  `json:"destinations,omitempty"`
	Sessions          int       `json:"sessions"`
	SourceDigest      string    `json:"source_digest,omitempty"`
	DestinationDigest string    `json:"destination_digest,omitempty"`
	Result            string    `json:"result,omitempty"`
	Error             string    `json:"error,omitempty"`
}

// AuditFilter selects audit records. Empty fields match everything.
type AuditFilter struct {
	MigrationID string
	Requester   string
	Action      string
	Since       time.Time // at or after
	Until       time.Time // before
	Limit       int       // at most this many (the newest); 0 = no limit
}

func (f *AuditFilter) match(a *AuditRecord) bool {
	return (f.MigrationID == "" || f.MigrationID == a.MigrationID) &&
		(f.Requester == "" || f.Requester == a.Requester) &&
		(f.Action == "" || f.Action == a.Action)
}

// Audit appends a to the audit log, durably.
func (j *Journal) Audit(ctx context.Context, a AuditRecord) error {
	if a.Action == "" {
		return fmt.Errorf("%w: audit record for migration %q: empty action", ErrInvalid, a.MigrationID)
	}
	if a.Sessions < 0 {
		return fmt.Errorf("%w: audit record for migration %q: negative session count %d", ErrInvalid, a.MigrationID, a.Sessions)
	}
	if a.Time.IsZero() {
		a.Time = j.now()
	} else {
		a.Time = norm(a.Time)
	}
	v, err := json.Marshal(diskAudit(a))
	if err != nil {
		return fmt.Errorf("%w: audit record for migration %q: %w", ErrInvalid, a.MigrationID, err)
	}
	return j.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(timeKey(a.Time), seq), v)
	})
}

// Audits returns the audit records that match f, newest first. Records that
// cannot be decoded are reported in the error next to the others.
func (j *Journal) Audits(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("%w: audits: negative limit %d", ErrInvalid, f.Limit)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, fmt.Errorf("%w: audits: until %v is not after since %v", ErrInvalid, f.Until, f.Since)
	}
	var out []AuditRecord
	var bad []error
	err := j.view(ctx, func(tx *bolt.Tx) error {
		out, bad = nil, nil
		c := tx.Bucket(bAudit).Cursor()
		var k, v []byte
		if f.Until.IsZero() {
			k, v = c.Last()
		} else if k, _ = c.Seek(timeKey(f.Until)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		var since []byte
		if !f.Since.IsZero() {
			since = timeKey(f.Since)
		}
		for n := 1; k != nil; k, v = c.Prev() {
			if since != nil && string(k[:min(8, len(k))]) < string(since) {
				break
			}
			if n++; n%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			a, err := decodeAudit(k, v)
			if err != nil {
				bad = append(bad, err)
				continue
			}
			if !f.match(&a) {
				continue
			}
			out = append(out, a)
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

func decodeAudit(k, v []byte) (AuditRecord, error) {
	var d diskAudit
	if len(k) != 16 {
		return AuditRecord{}, &CorruptError{ID: fmt.Sprintf("%x", k), What: "audit record", Err: errors.New("key is not <time><seq>")}
	}
	id := fmt.Sprintf("#%d", binary.BigEndian.Uint64(k[8:]))
	if err := strictUnmarshal(v, &d); err != nil {
		return AuditRecord{}, &CorruptError{ID: id, What: "audit record", Err: err}
	}
	if d.Action == "" {
		return AuditRecord{}, &CorruptError{ID: id, What: "audit record", Err: errors.New("no action")}
	}
	return AuditRecord(d), nil
}
