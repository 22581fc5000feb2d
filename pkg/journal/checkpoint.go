package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// MaxCheckpointSize is the largest checkpoint PutCheckpoint accepts (bbolt
// allows values up to 2 GiB, but every byte is written and synced in one
// transaction that holds up every other write, and read back into memory).
// A 100k-session table is a few tens of MB in the model's XML.
const MaxCheckpointSize = 1 << 30

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// CheckpointInfo describes a stored checkpoint without its data.
type CheckpointInfo struct {
	Device string    `json:"device"`
	Taken  time.Time `json:"taken"`
	Size   int       `json:"size"`
}

// PutCheckpoint stores data as the last known copy of device's sessions,
// taken at taken, replacing the previous one (the last write wins). The
// format of data is the caller's. It returns once the copy is on disk.
func (j *Journal) PutCheckpoint(ctx context.Context, device string, taken time.Time, data []byte) error {
	if err := checkName("device name", device); err != nil {
		return err
	}
	if taken.IsZero() {
		return fmt.Errorf("%w: put checkpoint of %q: zero time taken", ErrInvalid, device)
	}
	if len(data) > MaxCheckpointSize {
		return fmt.Errorf("%w: put checkpoint of %q: %d bytes, at most %d", ErrInvalid, device, len(data), MaxCheckpointSize)
	}
	meta, err := json.Marshal(diskCheckpoint{Taken: norm(taken), Size: len(data), CRC32C: crc32.Checksum(data, crcTable)})
	if err != nil {
		return err
	}
	if data == nil {
		data = []byte{} // an empty table is a checkpoint too
	}
	return j.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bCheckpoints).CreateBucketIfNotExists([]byte(device))
		if err != nil {
			return err
		}
		if err := b.Put(kMeta, meta); err != nil {
			return err
		}
		return b.Put(kData, data)
	})
}

// Checkpoint returns device's last checkpoint and when it was taken;
// ErrNotFound if there is none. Data that fails its checksum is ErrCorrupt.
func (j *Journal) Checkpoint(ctx context.Context, device string) (taken time.Time, data []byte, err error) {
	if err := checkName("device name", device); err != nil {
		return time.Time{}, nil, err
	}
	err = j.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bCheckpoints).Bucket([]byte(device))
		if b == nil {
			return fmt.Errorf("%w: checkpoint of device %q", ErrNotFound, device)
		}
		m, err := decodeCheckpoint(device, b)
		if err != nil {
			return err
		}
		v := b.Get(kData)
		if len(v) != m.Size {
			return &CorruptError{ID: device, What: "checkpoint of device", Err: fmt.Errorf("%d bytes stored, %d written", len(v), m.Size)}
		}
		if sum := crc32.Checksum(v, crcTable); sum != m.CRC32C {
			return &CorruptError{ID: device, What: "checkpoint of device", Err: fmt.Errorf("checksum %08x, written %08x", sum, m.CRC32C)}
		}
		taken, data = m.Taken, append(make([]byte, 0, len(v)), v...)
		return nil
	})
	if err != nil {
		return time.Time{}, nil, err
	}
	return taken, data, nil
}

// Checkpoints lists the stored checkpoints by device name, without data.
// Undecodable ones are reported in the error next to the others.
func (j *Journal) Checkpoints(ctx context.Context) ([]CheckpointInfo, error) {
	var out []CheckpointInfo
	var bad []error
	err := j.view(ctx, func(tx *bolt.Tx) error {
		out, bad = nil, nil
		return tx.Bucket(bCheckpoints).ForEachBucket(func(k []byte) error {
			device := string(k)
			m, err := decodeCheckpoint(device, tx.Bucket(bCheckpoints).Bucket(k))
			if err != nil {
				bad = append(bad, err)
				return nil
			}
			out = append(out, CheckpointInfo{Device: device, Taken: m.Taken, Size: m.Size})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(bad...)
}

// DeleteCheckpoint removes device's checkpoint; ErrNotFound if there is none.
func (j *Journal) DeleteCheckpoint(ctx context.Context, device string) error {
	if err := checkName("device name", device); err != nil {
		return err
	}
	return j.update(ctx, func(tx *bolt.Tx) error {
		err := tx.Bucket(bCheckpoints).DeleteBucket([]byte(device))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return fmt.Errorf("%w: checkpoint of device %q", ErrNotFound, device)
		}
		return err
	})
}

func decodeCheckpoint(device string, b *bolt.Bucket) (*diskCheckpoint, error) {
	v := b.Get(kMeta)
	if v == nil {
		return nil, &CorruptError{ID: device, What: "checkpoint of device", Err: errors.New("meta missing")}
	}
	var m diskCheckpoint
	if err := strictUnmarshal(v, &m); err != nil {
		return nil, &CorruptError{ID: device, What: "checkpoint of device", Err: err}
	}
	if m.Size < 0 || m.Taken.IsZero() {
		return nil, &CorruptError{ID: device, What: "checkpoint of device", Err: fmt.Errorf("size %d, taken %v", m.Size, m.Taken)}
	}
	return &m, nil
}
