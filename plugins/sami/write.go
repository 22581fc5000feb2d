package sami

import (
	"context"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// defaultConfirmTimeout is RFC 6241's confirm-timeout default.
const defaultConfirmTimeout = 600 * time.Second

// Lock locks the candidate. It also ends the aftermath of a transaction
// lost with its connection.
func (d *Driver) Lock(ctx context.Context) error {
	return d.do(ctx, "lock", false, func(s *netconf.Session) error {
		if err := s.Lock(ctx, netconf.Candidate); err != nil {
			return err
		}
		d.mu.Lock()
		d.locked, d.lost = true, nil
		d.mu.Unlock()
		d.log.Debug("sami: candidate locked", "device", d.cfg.Name)
		return nil
	})
}

// Unlock releases the candidate lock; the device drops uncommitted
// changes with it. After a lost connection the lock is gone already and
// Unlock only acknowledges that.
func (d *Driver) Unlock(ctx context.Context) error {
	d.mu.Lock()
	if d.lost != nil {
		d.lost = nil
		d.mu.Unlock()
		return nil
	}
	d.mu.Unlock()
	return d.do(ctx, "unlock", false, func(s *netconf.Session) error {
		if err := s.Unlock(ctx, netconf.Candidate); err != nil {
			return err
		}
		d.mu.Lock()
		d.locked, d.staged = false, false
		d.mu.Unlock()
		return nil
	})
}

// Discard drops the staged changes (discard-changes).
func (d *Driver) Discard(ctx context.Context) error {
	return d.do(ctx, "discard", false, func(s *netconf.Session) error {
		if err := s.DiscardChanges(ctx); err != nil {
			return err
		}
		d.mu.Lock()
		d.staged, d.lost = false, nil
		d.mu.Unlock()
		return nil
	})
}

// abortElement ends an edit-config the driver must take back: no device
// serving the model accepts it, and an edit is all or nothing.
const abortElement = `<sami-driver-aborted-this-edit xmlns="urn:sami:driver:abort"/>`

// Stage writes sessions into the candidate, each replacing any session of
// the same id as a whole, in one streamed edit-config.
func (d *Driver) Stage(ctx context.Context, sessions iter.Seq[*flow.Session]) error {
	var bad error
	n := 0
	err := d.do(ctx, "stage", true, func(s *netconf.Session) error {
		err := s.EditConfig(ctx, netconf.Candidate, netconf.ConfigFunc(func(w io.Writer) error {
			g := &gate{w: w}
			le, err := d.codec.NewListEncoder(g, flow.SessionsPath, yangxml.WithOperation(flow.SessionsPath, yangxml.OpReplace),
				yangxml.Wrapper("config"), yangxml.ConfigOnly())
			if err != nil {
				return err
			}
			for sess := range sessions {
				if bad = check(sess, n); bad != nil {
					break
				}
				if err := le.Encode(sess); err != nil {
					bad = fmt.Errorf("session %d (%s): %w", n, sess.GetId(), err)
					if err := le.Flush(); err != nil {
						return err
					}
					g.cut()
					break
				}
				if err := le.Flush(); err != nil {
					return err
				}
				if err := g.commit(); err != nil {
					return err
				}
				n++
			}
			if bad != nil {
				if _, err := io.WriteString(g, abortElement); err != nil {
					return err
				}
			}
			if err := le.Close(); err != nil {
				return err
			}
			return g.flush()
		}), editOptions(s)...)
		if bad != nil {
			if err == nil || s.Err() != nil {
				// Accepted despite the abort element, or the connection
				// died: either way the edit cannot be trusted.
				return fmt.Errorf("%w: %w (and the device did not reject the aborted edit: %v)", device.ErrRefused, bad, err)
			}
			return fmt.Errorf("%w: nothing staged: %w", device.ErrRefused, bad)
		}
		return err
	})
	if err == nil && n > 0 {
		d.mu.Lock()
		d.staged = true
		d.mu.Unlock()
	}
	d.log.Debug("sami: staged", "device", d.cfg.Name, "sessions", n, "err", err)
	return err
}

// check refuses a session the device would store under another flow's id.
func check(s *flow.Session, i int) error {
	if s == nil {
		return fmt.Errorf("session %d: %w", i, flow.ErrNilSession)
	}
	if err := flow.CheckKey(s); err != nil {
		return fmt.Errorf("session %d: %w", i, err)
	}
	return nil
}

// editOptions asks for rollback-on-error where the device has it, so a
// refused edit leaves the candidate as it was on any device.
func editOptions(s *netconf.Session) []netconf.EditOption {
	if s.Capabilities().Has(netconf.CapRollbackOnError) {
		return []netconf.EditOption{netconf.ErrorOption("rollback-on-error")}
	}
	return nil
}

// Remove stages the removal of sessions by id; ids the device does not
// hold are no error.
func (d *Driver) Remove(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	for i, id := range ids {
		if _, err := flow.ParseKey(id); err != nil {
			return d.fail("remove", fmt.Errorf("%w: id %d %q: %w", device.ErrRefused, i, id, err))
		}
	}
	err := d.do(ctx, "remove", true, func(s *netconf.Session) error {
		return s.EditConfig(ctx, netconf.Candidate, netconf.ConfigFunc(func(w io.Writer) error {
			le, err := d.codec.NewListEncoder(w, flow.SessionsPath, yangxml.WithOperation(flow.SessionsPath, yangxml.OpRemove),
				yangxml.Wrapper("config"), yangxml.ConfigOnly())
			if err != nil {
				return err
			}
			for _, id := range ids {
				if err := le.Encode(&flow.Session{Id: ygot.String(id)}); err != nil {
					return err
				}
			}
			return le.Close()
		}), editOptions(s)...)
	})
	if err == nil {
		d.mu.Lock()
		d.staged = true
		d.mu.Unlock()
	}
	return err
}

// Commit commits the candidate. A confirmed commit extending a persistent
// one this driver made keeps it persistent under the same id; a plain
// commit while one is pending confirms it.
func (d *Driver) Commit(ctx context.Context, o device.CommitOptions) error {
	if o.Persist != "" && !o.Confirmed {
		return d.fail("commit", fmt.Errorf("persist %q without confirmed: only a confirmed commit can be persistent", o.Persist))
	}
	if o.Timeout < 0 {
		return d.fail("commit", fmt.Errorf("confirm timeout %v: must not be negative", o.Timeout))
	}
	return d.do(ctx, "commit", true, func(s *netconf.Session) error {
		caps := s.Capabilities()
		if o.Confirmed && !caps.Has(netconf.CapConfirmedCommit) && !caps.Has(netconf.CapConfirmedCommit1) {
			return fmt.Errorf("%w: the device has no :confirmed-commit", device.ErrUnsupported)
		}
		if (o.Persist != "" || o.PersistID != "") && !caps.ConfirmedCommit11() {
			return fmt.Errorf("%w: persist needs :confirmed-commit:1.1", device.ErrUnsupported)
		}
		d.mu.Lock()
		if p := d.pending; p != nil && p.persist != "" && o.PersistID == "" {
			o.PersistID = p.persist
			if o.Confirmed && o.Persist == "" {
				o.Persist = p.persist
			}
		}
		d.mu.Unlock()
		var opts []netconf.CommitOption
		if o.Confirmed {
			opts = append(opts, netconf.Confirmed())
			if o.Timeout > 0 {
				opts = append(opts, netconf.ConfirmTimeout(max(o.Timeout, time.Second)))
			}
		}
		if o.Persist != "" {
			opts = append(opts, netconf.Persist(o.Persist))
		}
		if o.PersistID != "" {
			opts = append(opts, netconf.PersistID(o.PersistID))
		}
		start := time.Now()
		if err := s.Commit(ctx, opts...); err != nil {
			return err
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.staged = false
		if o.Confirmed {
			timeout := o.Timeout
			if timeout == 0 {
				timeout = defaultConfirmTimeout
			}
			// Our clock started before the device's: the deadline we keep
			// is never later than the device's.
			d.pending = &pendingCommit{persist: o.Persist, deadline: start.Add(max(timeout.Truncate(time.Second), time.Second))}
		} else {
			d.pending = nil
		}
		d.log.Info("sami: committed", "device", d.cfg.Name, "confirmed", o.Confirmed, "timeout", o.Timeout, "persist", o.Persist != "")
		return nil
	})
}

// ours resolves Confirm's and Cancel's persistID "" to this driver's
// pending commit; txn tells whether it depends on this connection.
func (d *Driver) ours(persistID string) (id string, txn bool, err error) {
	if persistID != "" {
		return persistID, false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.pending
	switch {
	case p == nil && d.lost != nil:
		return "", true, nil // session() reports the loss
	case p == nil:
		return "", false, fmt.Errorf("%w: this driver made no confirmed commit that is still pending", device.ErrNoPendingCommit)
	case time.Now().After(p.deadline):
		d.pending = nil
		return "", false, fmt.Errorf("%w: its confirm-timeout ran out at %s and the device rolled it back", device.ErrNoPendingCommit, p.deadline.Format(time.RFC3339))
	}
	return p.persist, p.persist == "", nil
}

// settle forgets our pending commit once it is confirmed or cancelled.
func (d *Driver) settle(persistID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending != nil && d.pending.persist == persistID {
		d.pending = nil
	}
}

// Confirm confirms the pending confirmed commit: this driver's own with
// persistID "", or the persistent one persistID names.
func (d *Driver) Confirm(ctx context.Context, persistID string) error {
	id, txn, err := d.ours(persistID)
	if err != nil {
		return d.fail("confirm", err)
	}
	return d.do(ctx, "confirm", txn, func(s *netconf.Session) error {
		var opts []netconf.CommitOption
		if id != "" {
			opts = append(opts, netconf.PersistID(id))
		}
		if err := s.Commit(ctx, opts...); err != nil {
			return err
		}
		d.settle(id)
		d.log.Info("sami: confirmed", "device", d.cfg.Name, "persist", id != "")
		return nil
	})
}

// Cancel rolls back the pending confirmed commit (cancel-commit): this
// driver's own with persistID "", or the persistent one persistID names.
func (d *Driver) Cancel(ctx context.Context, persistID string) error {
	id, txn, err := d.ours(persistID)
	if err != nil {
		return d.fail("cancel", err)
	}
	return d.do(ctx, "cancel", txn, func(s *netconf.Session) error {
		if err := s.CancelCommit(ctx, id); err != nil {
			return err
		}
		d.settle(id)
		d.log.Info("sami: cancelled", "device", d.cfg.Name, "persist", id != "")
		return nil
	})
}

// gate holds what a list encoder wrote until the entry is known to be
// whole, so a failed entry can be cut before anything of it is sent.
type gate struct {
	w    io.Writer
	buf  []byte
	mark int // bytes of whole entries
}

const gateFlush = 64 << 10

func (g *gate) Write(p []byte) (int, error) {
	g.buf = append(g.buf, p...)
	return len(p), nil
}

// commit marks what was written as whole and sends it when enough is held.
func (g *gate) commit() error {
	g.mark = len(g.buf)
	if g.mark < gateFlush {
		return nil
	}
	_, err := g.w.Write(g.buf)
	g.buf, g.mark = g.buf[:0], 0
	return err
}

// cut drops what was written since the last commit.
func (g *gate) cut() { g.buf = g.buf[:g.mark] }

// flush sends everything.
func (g *gate) flush() error {
	_, err := g.w.Write(g.buf)
	g.buf, g.mark = g.buf[:0], 0
	return err
}
