package conntrack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Dumps and batches use the socket of a netlink.Conn directly (through its
// syscall.RawConn, so deadlines and the poller still apply): read(2) into
// reused buffers and write(2) of a whole batch built in place, where
// netlink.Conn copied every datagram and built a Message per request.

// rawSock is the socket of a netlink.Conn.
type rawSock struct{ rc syscall.RawConn }

func newRawSock(c *netlink.Conn) (rawSock, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return rawSock{}, fmt.Errorf("conntrack: netlink socket: %w", err)
	}
	return rawSock{rc: rc}, nil
}

// errTruncated: a datagram was larger than the buffer (the kernel's dump
// datagrams are at most 32 KiB, the buffers 64 KiB).
var errTruncated = errors.New("conntrack: netlink datagram larger than the receive buffer")

// recv reads one datagram into buf.
func (s rawSock) recv(buf []byte) (int, error) {
	var n int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		// MSG_TRUNC: the datagram's real length, so truncation is seen.
		n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n > len(buf):
		return 0, fmt.Errorf("%w (%d > %d)", errTruncated, n, len(buf))
	}
	return n, nil
}

// send writes b, one or more requests, in one datagram. The kernel handles
// the requests before write returns.
func (s rawSock) send(b []byte) error {
	var werr error
	err := s.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), b)
		return werr != unix.EAGAIN && werr != unix.EINTR
	})
	if err != nil {
		return err
	}
	return werr
}

// nlMsg is one netlink message of a received datagram.
type nlMsg struct {
	typ   uint16
	flags netlink.HeaderFlags
	seq   uint32
	data  []byte
}

var errBadMessage = errors.New("conntrack: malformed netlink message")

// nextMsg splits the first message off b.
func nextMsg(b []byte) (m nlMsg, rest []byte, err error) {
	if len(b) < nlmsgHeaderLen {
		return m, nil, errBadMessage
	}
	l := int(binary.NativeEndian.Uint32(b))
	if l < nlmsgHeaderLen || l > len(b) {
		return m, nil, errBadMessage
	}
	m = nlMsg{
		typ:   binary.NativeEndian.Uint16(b[4:]),
		flags: netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:])),
		seq:   binary.NativeEndian.Uint32(b[8:]),
		data:  b[nlmsgHeaderLen:l],
	}
	if a := nlaAlign(l); a < len(b) {
		rest = b[a:]
	}
	return m, rest, nil
}

const (
	nlmsgNoop    = 1
	nlmsgError   = 2
	nlmsgDone    = 3
	nlmsgOverrun = 4
)

// kernelError is the kernel's refusal of one request.
type kernelError struct {
	Errno syscall.Errno
	Msg   string // extended acknowledgement, if any
}

func (e *kernelError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("ctnetlink: %v: %s", e.Errno, e.Msg)
	}
	return "ctnetlink: " + e.Errno.Error()
}

func (e *kernelError) Unwrap() error { return e.Errno }

// status reads the error code that starts an NLMSG_ERROR (nil: an
// acknowledgement) or an NLMSG_DONE message, with the kernel's extended
// acknowledgement message when there is one.
func (m nlMsg) status() error {
	if len(m.data) < 4 {
		if m.typ == nlmsgDone {
			return nil
		}
		return errBadMessage
	}
	code := int32(binary.NativeEndian.Uint32(m.data))
	if code == 0 {
		return nil
	}
	ke := &kernelError{Errno: syscall.Errno(-code)}
	if m.flags&netlink.AcknowledgeTLVs == 0 {
		return ke
	}
	off := 4
	if m.typ == nlmsgError {
		// The request's header follows, with its payload unless capped.
		if len(m.data) < off+nlmsgHeaderLen {
			return ke
		}
		if m.flags&netlink.Capped != 0 {
			off += nlmsgHeaderLen
		} else {
			off += int(binary.NativeEndian.Uint32(m.data[off:]))
		}
		if off > len(m.data) {
			return ke
		}
	}
	a := newAttrs(m.data[off:])
	for a.next() {
		if a.typ == unix.NLMSGERR_ATTR_MSG {
			ke.Msg = cString(a.val)
		}
	}
	return ke
}
