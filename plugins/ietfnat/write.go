package ietfnat

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// maxListed bounds the refused sessions an error names one by one.
const maxListed = 5

// Stage converts every session into a mapping entry first, and writes
// nothing when one is refused (malformed, another zone, or, unless the
// driver is lossy, holding data an entry cannot carry: see Mapping.Entry).
// Then each session gets its index (the one its flow already has in the
// candidate, else the first free IndexFor probe) and all entries go into
// the candidate in one <edit-config>, each with operation replace.
func (d *Driver) Stage(ctx context.Context, sessions iter.Seq[*flow.Session]) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	s, err := d.writable(ctx, "stage")
	if err != nil {
		return err
	}
	type staged struct {
		e  *Entry
		id string
	}
	var batch []staged
	at := map[string]int{} // a session given twice is staged once, as given last
	var refused []error
	n := 0
	for sess := range sessions {
		n++
		e, id, err := d.convert(sess)
		if err != nil {
			refused = append(refused, err)
			continue
		}
		if i, dup := at[id]; dup {
			batch[i].e = e
			continue
		}
		at[id] = len(batch)
		batch = append(batch, staged{e, id})
	}
	if len(refused) > 0 {
		listed := refused[:min(len(refused), maxListed)]
		more := ""
		if len(refused) > maxListed {
			more = fmt.Sprintf(" (and %d more)", len(refused)-maxListed)
		}
		return &device.Error{Device: d.name, Op: "stage", Err: fmt.Errorf("%w: %d of %d sessions refused before anything was written%s: %w",
			device.ErrRefused, len(refused), n, more, errors.Join(listed...))}
	}
	if len(batch) == 0 {
		return nil
	}
	table, err := d.indexTable(ctx, s)
	if err != nil {
		return err
	}
	cfg := &editConfig{instance: d.opts.instance, entries: make([]*Entry, len(batch))}
	d.mu.Lock()
	if !d.haveInst {
		cfg.name = d.opts.name
	}
	d.mu.Unlock()
	for i, b := range batch {
		idx, err := table.assign(b.id)
		if err != nil {
			d.dropTable()
			return &device.Error{Device: d.name, Op: "stage", Err: fmt.Errorf("%w: %v", device.ErrRefused, err)}
		}
		b.e.Index = idx
		cfg.entries[i] = b.e
	}
	if err := d.edit(ctx, s, cfg); err != nil {
		return d.fail("stage", err, device.ErrRefused)
	}
	d.mu.Lock()
	d.haveInst = true
	d.mu.Unlock()
	d.log.Debug("staged mapping entries", "count", len(batch))
	return nil
}

// convert is Mapping.Entry, or Project's conversion when lossy.
func (d *Driver) convert(s *flow.Session) (*Entry, string, error) {
	e, id, err := d.opts.mapping.entry(s)
	if err != nil || d.opts.lossy {
		return e, id, err
	}
	p, err := d.opts.mapping.Session(e)
	if err != nil {
		return nil, id, &SessionError{ID: id, Err: err}
	}
	if lost := lostFields(s, p); len(lost) > 0 {
		return nil, id, &SessionError{ID: id, Fields: lost, Err: ErrInexpressible}
	}
	return e, id, nil
}

// edit sends one edit-config to the candidate; with :rollback-on-error a
// refused edit leaves the candidate as it was. Without it the candidate may
// hold part of the edit, so the index table is dropped either way.
func (d *Driver) edit(ctx context.Context, s *netconf.Session, cfg *editConfig) error {
	var o []netconf.EditOption
	if s.Capabilities().Has(netconf.CapRollbackOnError) {
		o = append(o, netconf.ErrorOption("rollback-on-error"))
	}
	err := s.EditConfig(ctx, netconf.Candidate, cfg, o...)
	if err != nil {
		d.dropTable()
	}
	return err
}

// indexTable returns the candidate's index table: read now, or kept from
// an earlier call while this driver holds the candidate lock (nobody else
// can change the candidate then; a rollback only frees indexes, which
// costs at most a probe).
func (d *Driver) indexTable(ctx context.Context, s *netconf.Session) (*indexTable, error) {
	d.mu.Lock()
	if d.locked && d.table != nil {
		t := d.table
		d.mu.Unlock()
		return t, nil
	}
	d.mu.Unlock()
	t := newIndexTable()
	var bad error
	var inst *Instance
	data := func(tk *xmltok.Tokenizer, ns map[string]string) error {
		i, ferr, err := decodeData(tk, ns, d.opts.instance, true, func(e *Entry, b error) error {
			if b != nil {
				return b
			}
			var h uint64
			if sess, err := d.opts.mapping.Session(e); err == nil {
				h = idHash(sess.GetId())
			}
			t.add(e.Index, h)
			return nil
		})
		inst, bad = i, ferr
		return err
	}
	if _, err := s.GetConfig(ctx, netconf.Candidate, instanceFilter(d.opts.instance, true), netconf.WithData(data)); err != nil {
		return nil, d.fail("stage", err, device.ErrUnsupported)
	}
	if bad != nil {
		return nil, &device.Error{Device: d.name, Op: "stage", Err: fmt.Errorf("%w: reading the candidate's mapping table to choose indexes: %w", device.ErrUnsupported, bad)}
	}
	d.mu.Lock()
	d.haveInst = inst.Found
	if d.locked {
		d.table = t
	}
	d.mu.Unlock()
	return t, nil
}

func (d *Driver) dropTable() {
	d.mu.Lock()
	d.table = nil
	d.mu.Unlock()
}

// Remove stages the removal of the entries of these sessions: every entry
// of the instance whose flow has one of the ids (found in the candidate,
// whatever its index). Ids not on the device are skipped; when none is
// there nothing is sent.
func (d *Driver) Remove(ctx context.Context, ids []string) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	for _, id := range ids {
		if _, err := flow.ParseKey(id); err != nil {
			return &device.Error{Device: d.name, Op: "remove", Err: fmt.Errorf("%w: %q: %w", device.ErrRefused, id, err)}
		}
	}
	s, err := d.writable(ctx, "remove")
	if err != nil {
		return err
	}
	table, err := d.indexTable(ctx, s)
	if err != nil {
		return err
	}
	var indexes []uint32
	for _, id := range ids {
		indexes = append(indexes, table.indexes(id)...)
	}
	if len(indexes) == 0 {
		return nil
	}
	if err := d.edit(ctx, s, &editConfig{instance: d.opts.instance, indexes: indexes}); err != nil {
		return d.fail("remove", err, device.ErrRefused)
	}
	for _, i := range indexes {
		table.drop(i)
	}
	return nil
}

// Discard drops the candidate's changes (discard-changes). It also clears
// the state left by a lost session, so the driver can write again.
func (d *Driver) Discard(ctx context.Context) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	s, err := d.session(ctx)
	if err != nil {
		return err
	}
	d.dropTable()
	if err := s.DiscardChanges(ctx); err != nil {
		return d.fail("discard", err, device.ErrRefused)
	}
	d.mu.Lock()
	d.lost = false
	d.mu.Unlock()
	return nil
}

// Commit commits the candidate, confirmed (with timeout, persist,
// persist-id) as o says.
func (d *Driver) Commit(ctx context.Context, o device.CommitOptions) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	s, err := d.writable(ctx, "commit")
	if err != nil {
		return err
	}
	nc := s.Capabilities()
	var opts []netconf.CommitOption
	if o.Confirmed {
		if !nc.Has(netconf.CapConfirmedCommit) && !nc.Has(netconf.CapConfirmedCommit1) {
			return &device.Error{Device: d.name, Op: "commit", Err: fmt.Errorf("%w: the device has no :confirmed-commit", device.ErrUnsupported)}
		}
		opts = append(opts, netconf.Confirmed())
		if o.Timeout > 0 {
			opts = append(opts, netconf.ConfirmTimeout(o.Timeout))
		}
	}
	if o.Persist != "" {
		if !o.Confirmed {
			return &device.Error{Device: d.name, Op: "commit", Err: fmt.Errorf("%w: persist %q without confirmed", device.ErrConfig, o.Persist)}
		}
		opts = append(opts, netconf.Persist(o.Persist))
	}
	if o.PersistID != "" {
		opts = append(opts, netconf.PersistID(o.PersistID))
	}
	if (o.Persist != "" || o.PersistID != "") && !nc.ConfirmedCommit11() {
		return &device.Error{Device: d.name, Op: "commit", Err: fmt.Errorf("%w: persist needs :confirmed-commit:1.1", device.ErrUnsupported)}
	}
	if err := s.Commit(ctx, opts...); err != nil {
		if o.PersistID != "" && isRPCError(err) {
			return d.fail("commit", err, device.ErrNoPendingCommit)
		}
		return d.fail("commit", err, device.ErrRefused)
	}
	d.mu.Lock()
	switch {
	case o.Confirmed && o.Persist == "" && o.PersistID == "":
		t := o.Timeout
		if t <= 0 {
			t = defaultConfirmTimeout
		}
		d.pending, d.deadline = true, time.Now().Add(t)
	case !o.Confirmed:
		d.pending = false // a plain commit confirms
	}
	d.mu.Unlock()
	return nil
}

func isRPCError(err error) bool {
	var re *netconf.RPCError
	return errors.As(err, &re)
}

// Confirm confirms the pending confirmed commit: the one with persistID
// (from any session), or with "" this session's own. Without a pending
// commit it is ErrNoPendingCommit: for this session's own commit the
// driver knows (a plain commit would succeed either way), for a persistent
// one the device says.
func (d *Driver) Confirm(ctx context.Context, persistID string) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	s, err := d.session(ctx)
	if err != nil {
		return err
	}
	if persistID == "" {
		d.mu.Lock()
		pending, deadline := d.pending, d.deadline
		d.mu.Unlock()
		if !pending {
			return &device.Error{Device: d.name, Op: "confirm", Err: fmt.Errorf("%w: this session made no confirmed commit since the last confirm or cancel", device.ErrNoPendingCommit)}
		}
		if time.Now().After(deadline) {
			d.setPending(false)
			return &device.Error{Device: d.name, Op: "confirm", Err: fmt.Errorf("%w: the confirm-timeout expired at %s (the device rolled the commit back)", device.ErrNoPendingCommit, deadline.Format(time.RFC3339))}
		}
		if err := s.Commit(ctx); err != nil {
			return d.fail("confirm", err, device.ErrRefused)
		}
		d.setPending(false)
		return nil
	}
	if err := s.Commit(ctx, netconf.PersistID(persistID)); err != nil {
		return d.fail("confirm", err, device.ErrNoPendingCommit)
	}
	return nil
}

// Cancel rolls back the pending confirmed commit (cancel-commit).
func (d *Driver) Cancel(ctx context.Context, persistID string) error {
	d.txMu.Lock()
	defer d.txMu.Unlock()
	s, err := d.session(ctx)
	if err != nil {
		return err
	}
	d.dropTable()
	if err := s.CancelCommit(ctx, persistID); err != nil {
		return d.fail("cancel", err, device.ErrNoPendingCommit)
	}
	if persistID == "" {
		d.setPending(false)
	}
	return nil
}

func (d *Driver) setPending(p bool) {
	d.mu.Lock()
	d.pending = p
	d.mu.Unlock()
}

// Close ends the NETCONF session. A confirmed commit of this session
// without persist is rolled back by the device.
func (d *Driver) Close() error {
	d.mu.Lock()
	s := d.s
	d.s = nil
	d.mu.Unlock()
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.CloseSession(ctx); err != nil && !errors.Is(err, netconf.ErrClosed) {
		return d.fail("close", err, device.ErrUnreachable)
	}
	return nil
}
