package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// On-disk layout (format 1). Everything is JSON except keys and checkpoint
// data; docs/journal.md describes it for people with bbolt tools.
//
//	meta/format                      "1"
//	records/<id>/meta                diskRecord
//	records/<id>/plan, .../result    the engine's JSON, as given
//	records/<id>/entries/<seq u64>   diskEntry (one key per Append: no rewrite)
//	by-created/<created><id>         ""   (List, newest first)
//	running/<created><id>            ""   (Unfinished, oldest first)
//	audit/<time><seq u64>            diskAudit
//	checkpoints/<device>/meta        diskCheckpoint
//	checkpoints/<device>/data        the bytes as given
//
// <created> and <time> are 8-byte big-endian keys that sort like the times
// (timeKey).
const format = "1"

var (
	bMeta        = []byte("meta")
	bRecords     = []byte("records")
	bByCreated   = []byte("by-created")
	bRunning     = []byte("running")
	bAudit       = []byte("audit")
	bCheckpoints = []byte("checkpoints")

	kFormat  = []byte("format")
	kMeta    = []byte("meta")
	kPlan    = []byte("plan")
	kResult  = []byte("result")
	kEntries = []byte("entries")
	kData    = []byte("data")

	topBuckets = [][]byte{bMeta, bRecords, bByCreated, bRunning, bAudit, bCheckpoints}
)

type diskRecord struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind,omitempty"`
	Requester string    `json:"requester,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Status    Status    `json:"status"`
	Phase     string    `json:"phase,omitempty"`
	Error     string    `json:"error,omitempty"`
}

type diskEntry struct {
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Phase  string          `json:"phase"`
	Device string          `json:"device,omitempty"`
	Note   string          `json:"note,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

type diskAudit struct {
	Time              time.Time `json:"time"`
	MigrationID       string    `json:"migration_id,omitempty"`
	Requester         string    `json:"requester,omitempty"`
	Action            string    `json:"action"`
	Endpoint          string    `json:"endpoint,omitempty"`
	Sources           []string  `json:"sources,omitempty"`
	Destinations      []string  `json:"destinations,omitempty"`
	Sessions          int       `json:"sessions"`
	SourceDigest      string    `json:"source_digest,omitempty"`
	DestinationDigest string    `json:"destination_digest,omitempty"`
	Result            string    `json:"result,omitempty"`
	Error             string    `json:"error,omitempty"`
}

// diskCheckpoint describes checkpoints/<device>/data.
type diskCheckpoint struct {
	Taken  time.Time `json:"taken"`
	Size   int       `json:"size"`
	CRC32C uint32    `json:"crc32c"` // bbolt checks its meta pages, not values
}

// init creates the buckets of a new file, or checks that an existing file is
// a journal this code can read.
func (j *Journal) init() error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			return fmt.Errorf("%w: not a sami journal (no %q bucket)", ErrCorrupt, bMeta)
		}
		if v := meta.Get(kFormat); string(v) != format {
			return fmt.Errorf("%w: journal format %q, this sami reads format %q", ErrCorrupt, v, format)
		}
		for _, name := range topBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, name)
			}
		}
		return nil
	}
	if j.ro {
		return j.db.View(check)
	}
	return j.db.Update(func(tx *bolt.Tx) error {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return check(tx)
		}
		for _, name := range topBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bMeta).Put(kFormat, []byte(format))
	})
}

// timeKey encodes t so that byte order is time order (negative UnixNano
// included).
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(t.UnixNano())^(1<<63))
}

func u64Key(n uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n) }

// indexKey is <created><id>, the key of by-created and running.
func indexKey(created time.Time, id string) []byte { return append(timeKey(created), id...) }

// maxIDLen keeps ids printable on one line and far below bbolt's key limit.
const maxIDLen = 200

// checkName refuses ids and device names that would not read back cleanly:
// empty, too long, not UTF-8, control characters or white space.
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	case len(s) > maxIDLen:
		return fmt.Errorf("%w: %s %.20q... is %d bytes, at most %d", ErrInvalid, what, s, len(s), maxIDLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s %q is not UTF-8", ErrInvalid, what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%w: %s %q contains %q", ErrInvalid, what, s, r)
		}
	}
	return nil
}

// checkJSON refuses a payload that is not one JSON value (it would be stored
// as given and break every later read).
func checkJSON(what string, raw json.RawMessage) error {
	if len(raw) != 0 && !json.Valid(raw) {
		return fmt.Errorf("%w: %s is not valid JSON: %.40q", ErrInvalid, what, raw)
	}
	return nil
}

// compact returns raw without insignificant white space, or nil for empty.
func compact(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return append([]byte(nil), raw...) // checked by checkJSON before
	}
	return b.Bytes()
}

func decodeRecord(id string, v []byte) (*diskRecord, error) {
	if v == nil {
		return nil, &CorruptError{ID: id, What: "record", Err: errors.New("meta missing")}
	}
	var d diskRecord
	if err := strictUnmarshal(v, &d); err != nil {
		return nil, &CorruptError{ID: id, What: "record", Err: err}
	}
	switch {
	case d.ID != id:
		return nil, &CorruptError{ID: id, What: "record", Err: fmt.Errorf("stored under %q but says id %q", id, d.ID)}
	case !d.Status.Valid():
		return nil, &CorruptError{ID: id, What: "record", Err: fmt.Errorf("unknown status %q", d.Status)}
	}
	return &d, nil
}

func decodeEntry(id string, k, v []byte) (Entry, error) {
	what := "entry"
	if len(k) != 8 {
		return Entry{}, &CorruptError{ID: id, What: what, Err: fmt.Errorf("key %x is not a sequence number", k)}
	}
	seq := binary.BigEndian.Uint64(k)
	what = "entry " + strconv.FormatUint(seq, 10) + " of record"
	var d diskEntry
	if err := strictUnmarshal(v, &d); err != nil {
		return Entry{}, &CorruptError{ID: id, What: what, Err: err}
	}
	if d.Seq != seq {
		return Entry{}, &CorruptError{ID: id, What: what, Err: fmt.Errorf("stored under seq %d but says %d", seq, d.Seq)}
	}
	return Entry(d), nil
}

// strictUnmarshal decodes exactly one JSON value into v.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	var more json.RawMessage
	if err := dec.Decode(&more); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// copyBytes copies a value out of bbolt's memory map (valid only inside the
// transaction).
func copyBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
