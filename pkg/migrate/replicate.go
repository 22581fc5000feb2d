package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// ReplicaStatus is the state of one device's replication.
type ReplicaStatus struct {
	Device   string
	Sessions int
	// Checkpoint is when the last checkpoint was taken (zero: none yet).
	Checkpoint time.Time
	// Connected: the change stream is up.
	Connected bool
	Err       error
}

// ReplicateOptions tune Replicate.
type ReplicateOptions struct {
	// Interval between checkpoints while the table changes (default 1 s).
	Interval time.Duration
	// Retry is the pause before reconnecting a lost stream (default 1 s).
	Retry time.Duration
	// Status receives the replication's state after every checkpoint and
	// connection change (may be nil).
	Status func(ReplicaStatus)
}

// Replicate keeps a standby copy of a device's whole session table, so that
// an unplanned move (Kind Unplanned) can install it when the device is
// gone: a full read, then the device's change stream, checkpointed to the
// journal every Interval. A lost stream is reconnected and the table read
// again. It runs until ctx ends.
func (e *Engine) Replicate(ctx context.Context, dev string, o ReplicateOptions) error {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	status := func(st ReplicaStatus) {
		st.Device = dev
		if o.Status != nil {
			o.Status(st)
		}
	}
	var last time.Time
	for {
		err := e.replicateOnce(ctx, dev, o, &last, status)
		if ctx.Err() != nil {
			return nil
		}
		e.log.Warn("replication interrupted", "device", dev, "err", err)
		status(ReplicaStatus{Checkpoint: last, Err: err})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.Retry):
		}
	}
}

func (e *Engine) replicateOnce(ctx context.Context, dev string, o ReplicateOptions, last *time.Time, status func(ReplicaStatus)) error {
	d, err := e.open(ctx, dev)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	table := make(map[string]*flow.Session)
	var pending []device.Delta
	resync := false
	// Watch first and read once the stream is live, so no change between
	// the read and the stream is missed.
	watchErr := make(chan error, 1)
	live := make(chan struct{})
	var liveOnce sync.Once
	go func() {
		watchErr <- d.Watch(ctx, nil, func(dl device.Delta) error {
			if dl.Type == device.Live {
				liveOnce.Do(func() { close(live) })
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			if dl.Type == device.Resync {
				resync = true
			}
			pending = append(pending, dl)
			return nil
		})
	}()
	select {
	case <-live:
	case err := <-watchErr:
		if err == nil {
			err = errors.New("change stream ended")
		}
		return fmt.Errorf("watch %s: %w", dev, err)
	case <-time.After(liveTimeout):
		e.log.Warn("replication: change stream not live in time, reading anyway", "device", dev, "waited", liveTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	err = d.Read(ctx, nil, func(s *flow.Session) error {
		if flow.SetKey(s) == nil {
			table[s.GetId()] = s
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", dev, err)
	}
	checkpoint := func() error {
		mu.Lock()
		ds := pending
		pending = nil
		rs := resync
		resync = false
		mu.Unlock()
		if rs {
			return errors.New("change stream lost events: reading again")
		}
		for _, dl := range ds {
			switch dl.Type {
			case device.Upserted:
				if dl.Session != nil && flow.SetKey(dl.Session) == nil {
					table[dl.Session.GetId()] = dl.Session
				}
			case device.Removed:
				delete(table, dl.ID)
			}
		}
		data, err := encodeCheckpoint(slices.Collect(maps.Values(table)))
		if err != nil {
			return err
		}
		taken := e.now()
		if err := e.j.PutCheckpoint(ctx, dev, taken, data); err != nil {
			return err
		}
		*last = taken
		status(ReplicaStatus{Sessions: len(table), Checkpoint: taken, Connected: true})
		return nil
	}
	if err := checkpoint(); err != nil {
		return err
	}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-watchErr:
			// Keep what arrived before the stream ended.
			if cerr := checkpoint(); cerr != nil {
				return errors.Join(err, cerr)
			}
			if err == nil {
				err = errors.New("change stream ended")
			}
			return fmt.Errorf("watch %s: %w", dev, err)
		case <-tick.C:
			if err := checkpoint(); err != nil {
				return err
			}
		}
	}
}

var checkpointCodec = sync.OnceValues(flow.NewCodec)

func encodeCheckpoint(ss []*flow.Session) ([]byte, error) {
	codec, err := checkpointCodec()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ss, func(a, b *flow.Session) int { return cmpStr(a.GetId(), b.GetId()) })
	var buf bytes.Buffer
	le, err := codec.NewListEncoder(&buf, flow.SessionsPath, yangxml.Wrapper("data"))
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		if err := le.Encode(s); err != nil {
			return nil, err
		}
	}
	if err := le.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeCheckpoint(data []byte) ([]*flow.Session, error) {
	codec, err := checkpointCodec()
	if err != nil {
		return nil, err
	}
	var out []*flow.Session
	err = codec.Unmarshal(data, &flowstate.Device{}, yangxml.WithListHandler(flow.SessionsPath, func(e ygot.GoStruct) error {
		s := e.(*flow.Session)
		if err := flow.SetKey(s); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	}))
	return out, err
}
