package conntrack

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
)

// A dump is two stages on two goroutines: one reads datagrams (the kernel
// fills the next one inside that read, which is about half of the time of
// a dump), the caller's decodes them and calls fn. They pass a fixed set
// of buffers back and forth, so a dump holds at most dumpBuffers datagrams
// whatever the size of the table.
const (
	dumpBuffers   = 4
	dumpBufferLen = 64 << 10 // the kernel's dump datagrams are up to 32 KiB
)

// errDumpInterrupted: the kernel set NLM_F_DUMP_INTR.
var errDumpInterrupted = errors.New("conntrack: dump interrupted by a concurrent table change (NLM_F_DUMP_INTR)")

const dumpSeq = 1

// Dump implements backend.Backend. It streams the table with one
// IPCTNL_MSG_CT_GET dump request (all families, all zones) and converts
// each message as it arrives. fn is called on the calling goroutine.
func (b *Backend) Dump(ctx context.Context, fn func(*flow.Session) error) error {
	if b.isClosed() {
		return backend.ErrClosed
	}
	c, err := b.dial(0)
	if err != nil {
		return err
	}
	defer c.Close()
	defer withDeadline(ctx, c)()
	rs, err := newRawSock(c)
	if err != nil {
		return err
	}
	req, start := beginRequest(make([]byte, 0, 32), ipctnlMsgCtGet, netlink.Request|netlink.Dump, dumpSeq, 0)
	if err := rs.send(endRequest(req, start)); err != nil {
		return ctxErr(ctx, fmt.Errorf("conntrack: dump request: %w", err))
	}

	free := make(chan []byte, dumpBuffers)
	full := make(chan []byte, dumpBuffers)
	for range dumpBuffers {
		free <- make([]byte, dumpBufferLen)
	}
	quit := make(chan struct{})
	recvErr := make(chan error, 1)
	go func() {
		defer close(full)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-quit:
				recvErr <- nil
				return
			}
			n, err := rs.recv(buf)
			if err != nil {
				recvErr <- err
				return
			}
			last := lastOfDump(buf[:n])
			full <- buf[:n] // never blocks: as many slots as buffers
			if last {
				recvErr <- nil
				return
			}
		}
	}()

	var d entryDecoder
	var sb sessionBuilder
	done := false
	var derr error
	for buf := range full {
		if derr = ctx.Err(); derr != nil {
			break
		}
		done, derr = decodeDatagram(buf, &d, &sb, fn)
		free <- buf[:cap(buf)]
		if done || derr != nil {
			break
		}
	}
	if !done {
		// Stop the reader: it may be blocked in a read.
		close(quit)
		_ = c.SetDeadline(time.Unix(1, 0))
	}
	rerr := <-recvErr
	switch {
	case derr != nil:
		return derr
	case done:
		return nil
	case rerr != nil:
		return ctxErr(ctx, fmt.Errorf("conntrack: dump: %w", rerr))
	}
	return ctxErr(ctx, errors.New("conntrack: dump ended without NLMSG_DONE"))
}

// lastOfDump reports whether a datagram ends the dump (done, an error, or
// something unreadable that the decoder will report).
func lastOfDump(b []byte) bool {
	for len(b) > 0 {
		m, rest, err := nextMsg(b)
		if err != nil {
			return true
		}
		b = rest
		if m.seq != dumpSeq {
			continue
		}
		switch m.typ {
		case nlmsgDone, nlmsgOverrun:
			return true
		case nlmsgError:
			if m.status() != nil {
				return true
			}
		}
	}
	return false
}

// decodeDatagram converts the entries of one dump datagram and hands them
// to fn; done is true at the end of the dump.
func decodeDatagram(b []byte, d *entryDecoder, sb *sessionBuilder, fn func(*flow.Session) error) (done bool, err error) {
	for len(b) > 0 {
		m, rest, err := nextMsg(b)
		if err != nil {
			return false, fmt.Errorf("conntrack: dump: %w", err)
		}
		b = rest
		if m.seq != dumpSeq {
			continue
		}
		switch m.typ {
		case nlmsgNoop:
			continue
		case nlmsgDone:
			if err := m.status(); err != nil {
				return false, fmt.Errorf("conntrack: dump: %w", err)
			}
			return true, nil
		case nlmsgError:
			if err := m.status(); err != nil {
				return false, fmt.Errorf("conntrack: dump: %w", err)
			}
			continue
		case nlmsgOverrun:
			return false, fmt.Errorf("conntrack: dump: %w", syscall.ENOBUFS)
		}
		if m.flags&netlink.DumpInterrupted != 0 {
			return false, errDumpInterrupted
		}
		if m.typ>>8 != nfnlSubsysCtnetlink || len(m.data) < 4 {
			continue
		}
		e, err := d.decode(m.data[0], m.data[4:])
		if err != nil {
			return false, err
		}
		s, err := sb.build(e)
		if err != nil {
			return false, err
		}
		if err := fn(s); err != nil {
			return false, err
		}
	}
	return false, nil
}
