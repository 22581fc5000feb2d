package conntrack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/flow"
)

// DefaultBatchSize is how many requests Upsert and Delete send before
// reading their acknowledgements.
const DefaultBatchSize = 256

// Option configures Open.
type Option func(*config)

type config struct {
	netns     string
	logger    *slog.Logger
	batch     int
	liberal   bool
	maxCap    uint64
	rcvBuffer int
}

// WithNetNS makes the backend work on the conntrack table of the network
// namespace at path (e.g. /run/netns/fwA). Default: the namespace of the
// calling thread.
func WithNetNS(path string) Option { return func(c *config) { c.netns = path } }

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithBatchSize sets how many requests are sent before their
// acknowledgements are read (default DefaultBatchSize).
func WithBatchSize(n int) Option { return func(c *config) { c.batch = n } }

// WithLiberal forces BE_LIBERAL on both directions of every written TCP
// entry. The default (false) sets it only where the session has liberal.
func WithLiberal(on bool) Option { return func(c *config) { c.liberal = on } }

// WithMaxSessions caps the table size the backend reports and enforces to n
// (if lower than nf_conntrack_max): nf_conntrack_max is global and cannot be
// set from inside a network namespace, so this is how an operator reserves
// room for the namespace's own traffic.
func WithMaxSessions(n uint64) Option { return func(c *config) { c.maxCap = n } }

// Backend is the conntrack table of one network namespace. It is safe for
// concurrent use.
type Backend struct {
	cfg   config
	log   *slog.Logger
	nsFd  int // -1: current namespace
	nsF   *os.File
	mu    sync.Mutex // serialises writes on wc; guards seq and rbuf
	wc    *netlink.Conn
	ws    rawSock
	seq   uint32 // last sequence number sent on wc
	rbuf  []byte
	close sync.Once

	closedMu sync.RWMutex
	closed   bool
}

var _ backend.Backend = (*Backend)(nil)

// Open opens the conntrack table of the namespace given by WithNetNS.
func Open(ctx context.Context, opts ...Option) (*Backend, error) {
	cfg := config{batch: DefaultBatchSize, rcvBuffer: 8 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.batch <= 0 {
		cfg.batch = DefaultBatchSize
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	b := &Backend{cfg: cfg, log: cfg.logger.With("backend", "conntrack", "netns", cfg.netns), nsFd: -1}
	if cfg.netns != "" {
		f, err := os.Open(cfg.netns)
		if err != nil {
			return nil, fmt.Errorf("conntrack: opening network namespace: %w", err)
		}
		b.nsF, b.nsFd = f, int(f.Fd())
	}
	c, err := b.dial(0)
	if err != nil {
		b.closeNS()
		return nil, err
	}
	b.wc = c
	if b.ws, err = newRawSock(c); err != nil {
		_ = c.Close()
		b.closeNS()
		return nil, err
	}
	if _, err := b.stats(ctx); err != nil {
		_ = c.Close()
		b.closeNS()
		return nil, err
	}
	return b, nil
}

func (b *Backend) closeNS() {
	if b.nsF != nil {
		_ = b.nsF.Close()
	}
}

// dial opens a NETLINK_NETFILTER socket inside the namespace.
func (b *Backend) dial(groups uint32) (*netlink.Conn, error) {
	// A fixed receive buffer: one recvmsg per datagram instead of a peek
	// and a read, and the kernel sizes its dump datagrams from the
	// reader's buffer (up to 32 KiB instead of about a page), so a dump
	// takes far fewer system calls.
	cfg := &netlink.Config{Groups: groups, MessageBufferSize: 64 << 10}
	if b.nsFd >= 0 {
		cfg.NetNS = b.nsFd
	}
	c, err := netlink.Dial(syscall.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("conntrack: netlink socket: %w", err)
	}
	// Large receive buffer: acknowledgements of a whole batch, dumps and
	// event bursts. SO_RCVBUFFORCE (root) first, SO_RCVBUF as fallback.
	if rc, err := c.SyscallConn(); err == nil {
		var serr error
		_ = rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, b.cfg.rcvBuffer)
		})
		if serr != nil {
			_ = c.SetReadBuffer(b.cfg.rcvBuffer)
		}
	}
	// Error acks without the request copied in.
	_ = c.SetOption(netlink.CapAcknowledge, true)
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	return c, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return "conntrack" }

// Close implements backend.Backend.
func (b *Backend) Close() error {
	var err error
	b.close.Do(func() {
		b.closedMu.Lock()
		b.closed = true
		b.closedMu.Unlock()
		b.mu.Lock()
		err = b.wc.Close()
		b.mu.Unlock()
		b.closeNS()
	})
	return err
}

func (b *Backend) isClosed() bool {
	b.closedMu.RLock()
	defer b.closedMu.RUnlock()
	return b.closed
}

func msgType(m uint16) netlink.HeaderType {
	return netlink.HeaderType(nfnlSubsysCtnetlink<<8 | m)
}

// nfgenmsg header + attributes.
func nfMsg(family uint8, attrs []byte) []byte {
	d := make([]byte, 4, 4+len(attrs))
	d[0], d[1] = family, nfnetlinkV0
	return append(d, attrs...)
}

// withDeadline unblocks c when ctx ends.
func withDeadline(ctx context.Context, c *netlink.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

type tableStats struct{ count, max uint64 }

// stats reads nf_conntrack_count (per namespace) and nf_conntrack_max
// (global, read-only inside a namespace) from /proc/sys/net/netfilter as
// seen from inside the namespace. (IPCTNL_MSG_CT_GET_STATS would be the
// netlink way, but the kernel answers it with NLM_F_MULTI and no
// NLMSG_DONE, which a netlink reader waits on forever.)
func (b *Backend) stats(ctx context.Context) (tableStats, error) {
	if err := ctx.Err(); err != nil {
		return tableStats{}, err
	}
	var st tableStats
	err := inNamespace(b.nsFd, func() error {
		var err error
		if st.count, err = readSysctl("nf_conntrack_count"); err != nil {
			return err
		}
		st.max, err = readSysctl("nf_conntrack_max")
		return err
	})
	if err != nil {
		return st, fmt.Errorf("conntrack: reading table size: %w", err)
	}
	if b.cfg.maxCap > 0 && (st.max == 0 || b.cfg.maxCap < st.max) {
		st.max = b.cfg.maxCap
	}
	return st, nil
}

func (st tableStats) free() uint64 {
	if st.max == 0 {
		return math.MaxUint64
	}
	if st.count >= st.max {
		return 0
	}
	return st.max - st.count
}

// Capabilities implements backend.Backend.
func (b *Backend) Capabilities(ctx context.Context) (*backend.Capabilities, error) {
	if b.isClosed() {
		return nil, backend.ErrClosed
	}
	st, err := b.stats(ctx)
	if err != nil {
		return nil, err
	}
	c := &backend.Capabilities{
		Vendor:             ygot.String("linux"),
		Model:              ygot.String("conntrack"),
		SoftwareVersion:    ygot.String(kernelRelease()),
		ActiveSessions:     ygot.Uint64(st.count),
		SupportedProtocols: []uint8{protoICMP, protoTCP, protoUDP, protoDCCP, protoGRE, protoICMPv6, protoSCTP, protoUDPLite},
		Features: []flowstate.E_SamiFlowState_Feature{
			flowstate.SamiFlowState_Feature_nat,
			flowstate.SamiFlowState_Feature_tcp_window_tracking,
			flowstate.SamiFlowState_Feature_zones,
			flowstate.SamiFlowState_Feature_marks,
			flowstate.SamiFlowState_Feature_ipv6,
			flowstate.SamiFlowState_Feature_alg,
		},
	}
	if st.max == 0 {
		c.MaxSessions = flowstate.SamiFlowState_FlowState_Capabilities_MaxSessions_unlimited
	} else {
		c.MaxSessions = flowstate.UnionUint64(st.max)
		c.FreeSlots = ygot.Uint64(st.free())
		c.Utilization = ygot.Float64(float64(st.count) / float64(st.max) * 100)
	}
	ok, err := b.LabelsUsable(ctx)
	if err != nil {
		b.log.Warn("labels preflight failed", "err", err)
	}
	if ok {
		c.Features = append(c.Features, flowstate.SamiFlowState_Feature_labels)
	}
	slices.Sort(c.Features)
	return c, nil
}

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "unknown"
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// probe is the entry LabelsUsable writes: an unused protocol between two
// loopback addresses in the last zone, alive for one second at most.
var probe = entry{
	family:  afINET,
	orig:    tuple{src: netip.MustParseAddr("127.255.255.253"), dst: netip.MustParseAddr("127.255.255.254"), proto: 253},
	zone:    65535,
	mark:    0x5a4d1ab3,
	status:  ipsConfirmed,
	timeout: 1,
	hasTO:   true,
}

// LabelsUsable reports whether the kernel keeps connection labels in this
// namespace. Linux attaches the label extension to entries only while a
// rule that uses labels exists in the namespace, and drops CTA_LABELS
// silently otherwise, so the only reliable check is to write a probe entry
// with a label, read it back and remove it.
func (b *Backend) LabelsUsable(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p := probe
	p.reply = p.orig.inverse()
	p.labels = make([]byte, labelBytes)
	p.labels[labelBytes-1] = 0x80
	attrs := p.appendNew(nil)
	key := p.appendKey(nil)
	c, err := b.dial(0)
	if err != nil {
		return false, err
	}
	defer c.Close()
	defer withDeadline(ctx, c)()
	if _, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: msgType(ipctnlMsgCtNew), Flags: netlink.Request | netlink.Acknowledge | netlink.Create},
		Data:   nfMsg(p.family, attrs),
	}); err != nil {
		return false, ctxErr(ctx, fmt.Errorf("conntrack: labels probe: %w", err))
	}
	defer func() {
		_, _ = c.Execute(netlink.Message{
			Header: netlink.Header{Type: msgType(ipctnlMsgCtDelete), Flags: netlink.Request | netlink.Acknowledge},
			Data:   nfMsg(p.family, key),
		})
	}()
	// Read it back with a dump filtered by the probe's mark: the kernel
	// answers a plain GET with NLM_F_MULTI and no NLMSG_DONE.
	filter := putU32(putU32(nil, ctaMark, p.mark), ctaMarkMask, 0xffffffff)
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: msgType(ipctnlMsgCtGet), Flags: netlink.Request | netlink.Dump},
		Data:   nfMsg(p.family, filter),
	})
	if err != nil {
		return false, ctxErr(ctx, fmt.Errorf("conntrack: labels probe read-back: %w", err))
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		e, err := decodeEntry(m.Data[0], m.Data[4:])
		if err != nil {
			return false, err
		}
		if e.orig == p.orig && len(e.labels) == labelBytes && e.labels[labelBytes-1]&0x80 != 0 {
			return true, nil
		}
	}
	return false, nil
}

// Upsert implements backend.Backend.
//
// Each session is sent as IPCTNL_MSG_CT_NEW with NLM_F_CREATE (no
// NLM_F_EXCL, so an existing entry is updated), the CONFIRMED status bit,
// the original tuple, the plain inverse as reply tuple and CTA_NAT_SRC /
// CTA_NAT_DST for the translation. The kernel refuses to change NAT, the
// master or some status bits of an existing entry (EOPNOTSUPP, EBUSY), and
// the timeout of a fixed-timeout entry (EPERM); such
// an entry is deleted and created again, so the table holds exactly the
// session afterwards.
//
// When a related session precedes its master in ss, Upsert reorders ss in
// place (stable, masters first), so that ss[:Applied] of a BatchError names
// the sessions written. ctnetlink has no transactional batch: when a
// request fails, the kernel still processes the rest of its batch (at most
// batch-size - 1 requests); BatchError reports the first failure and the
// sessions after it in that batch may have been written too.
func (b *Backend) Upsert(ctx context.Context, ss []*flow.Session) error {
	if b.isClosed() {
		return backend.ErrClosed
	}
	if len(ss) == 0 {
		return nil
	}
	orderMastersFirst(ss)
	// Every request is checked and encoded before anything is written.
	reqs := requests{off: make([]int, 1, len(ss)+1), buf: make([]byte, 0, len(ss)*requestSizeHint)}
	needLabels := false
	var eb entryBuilder
	for _, s := range ss {
		e, err := eb.build(s, b.cfg.liberal)
		if err != nil {
			return err
		}
		needLabels = needLabels || e.labels != nil
		var start int
		reqs.buf, start = beginRequest(reqs.buf, ipctnlMsgCtNew, netlink.Request|netlink.Create, 0, e.family)
		reqs.buf = endRequest(e.appendNew(reqs.buf), start)
		reqs.off = append(reqs.off, len(reqs.buf))
	}
	st, err := b.stats(ctx)
	if err != nil {
		return err
	}
	if need, free := uint64(len(ss)), st.free(); need > free {
		return &backend.CapacityError{Need: need, Free: free}
	}
	if needLabels {
		ok, err := b.LabelsUsable(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("conntrack: sessions carry labels but this namespace has no rule using connection labels, so the kernel would drop them: %w", backend.ErrUnsupported)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed() {
		return backend.ErrClosed
	}
	defer withDeadline(ctx, b.wc)()
	for start := 0; start < len(ss); start += b.cfg.batch {
		end := min(start+b.cfg.batch, len(ss))
		errs, err := b.exchange(&reqs, start, end)
		if err != nil {
			return ctxErr(ctx, err)
		}
		for i, aerr := range errs {
			if aerr != nil && (errors.Is(aerr, syscall.EOPNOTSUPP) || errors.Is(aerr, syscall.EBUSY) || errors.Is(aerr, syscall.EPERM)) {
				if rerr := b.replace(ss[start+i]); rerr == nil {
					errs[i] = nil
				} else if !errors.Is(rerr, syscall.ENOENT) {
					errs[i] = rerr
				}
			}
		}
		for i, aerr := range errs {
			if aerr != nil {
				return &backend.BatchError{Applied: start + i, ID: sessionID(ss[start+i]), Err: fmt.Errorf("%w: %w", backend.ErrRefused, aerr)}
			}
		}
	}
	return nil
}

// requestSizeHint is a little more than an encoded IPv4 TCP request (196
// bytes), so that the buffer of a batch of those is not grown.
const requestSizeHint = 224

// requests are encoded netlink requests, back to back: request i is
// buf[off[i]:off[i+1]]. The sequence number and the acknowledgement flag
// are set when a batch is sent.
type requests struct {
	buf []byte
	off []int
}

func (r *requests) add(msg uint16, flags netlink.HeaderFlags, family uint8, attrs func([]byte) []byte) {
	var start int
	r.buf, start = beginRequest(r.buf, msg, flags, 0, family)
	r.buf = endRequest(attrs(r.buf), start)
	r.off = append(r.off, len(r.buf))
}

// replace deletes the entry that exists under s's original tuple and
// creates s anew. ENOENT from the delete means the failure was not about
// an existing entry; it is returned as is.
func (b *Backend) replace(s *flow.Session) error {
	e, err := fromSession(s, b.cfg.liberal)
	if err != nil {
		return err
	}
	del := requests{off: []int{0}}
	del.add(ipctnlMsgCtDelete, netlink.Request, e.family, e.appendKey)
	errs, err := b.exchange(&del, 0, 1)
	if err != nil {
		return err
	}
	if errs[0] != nil {
		return errs[0]
	}
	create := requests{off: []int{0}}
	create.add(ipctnlMsgCtNew, netlink.Request|netlink.Create|netlink.Excl, e.family, e.appendNew)
	errs, err = b.exchange(&create, 0, 1)
	if err != nil {
		return err
	}
	return errs[0]
}

// exchange sends requests [from, to) of r in one write and returns the
// error of each (nil: applied). b.mu must be held. Only the last request
// asks for an acknowledgement: the kernel reports a failed request whether
// or not it was asked to, and it handles a socket's requests in order, so
// when the last one is answered every earlier failure has arrived before
// it. One acknowledgement per request (one read each) was a third of the
// CPU of a 100k install.
func (b *Backend) exchange(r *requests, from, to int) ([]error, error) {
	first := b.seq + 1
	for i := from; i < to; i++ {
		b.seq++
		h := r.buf[r.off[i]:]
		binary.NativeEndian.PutUint32(h[8:], b.seq)
		flags := netlink.HeaderFlags(binary.NativeEndian.Uint16(h[6:])) &^ netlink.Acknowledge
		if i == to-1 {
			flags |= netlink.Acknowledge
		}
		binary.NativeEndian.PutUint16(h[6:], uint16(flags))
	}
	last := b.seq
	n := to - from
	if err := b.ws.send(r.buf[r.off[from]:r.off[to]]); err != nil {
		return nil, fmt.Errorf("conntrack: sending %d requests: %w", n, err)
	}
	if b.rbuf == nil {
		b.rbuf = make([]byte, 64<<10)
	}
	errs := make([]error, n)
	for {
		nr, err := b.ws.recv(b.rbuf)
		if err != nil {
			return nil, fmt.Errorf("conntrack: reading acknowledgements: %w", err)
		}
		for buf := b.rbuf[:nr]; len(buf) > 0; {
			m, rest, err := nextMsg(buf)
			if err != nil {
				return nil, fmt.Errorf("conntrack: reading acknowledgements: %w", err)
			}
			buf = rest
			i := int(m.seq - first) // wraps: stale answers fall outside
			if m.typ != nlmsgError || i < 0 || i >= n {
				continue
			}
			errs[i] = m.status()
			if m.seq == last {
				return errs, nil
			}
		}
	}
}

// orderMastersFirst moves related sessions after their masters when one
// precedes its master (stable).
func orderMastersFirst(ss []*flow.Session) {
	pos := make(map[string]int, len(ss))
	for i, s := range ss {
		if s != nil && s.Id != nil {
			pos[*s.Id] = i
		}
	}
	need := false
	for i, s := range ss {
		if s == nil || s.Alg == nil || s.Alg.Master == nil {
			continue
		}
		if j, ok := pos[*s.Alg.Master]; ok && j > i {
			need = true
			break
		}
	}
	if !need {
		return
	}
	rank := func(s *flow.Session) int {
		if s != nil && s.Alg != nil && s.Alg.Master != nil {
			return 1
		}
		return 0
	}
	slices.SortStableFunc(ss, func(a, b *flow.Session) int { return rank(a) - rank(b) })
}

// Delete implements backend.Backend: IPCTNL_MSG_CT_DELETE by original tuple
// and zone; entries already gone (ENOENT) are not an error.
func (b *Backend) Delete(ctx context.Context, ss []*flow.Session) error {
	if b.isClosed() {
		return backend.ErrClosed
	}
	reqs := requests{off: make([]int, 1, len(ss)+1)}
	for _, s := range ss {
		k, err := flow.KeyFieldsOf(s)
		if err != nil {
			return err
		}
		e := &entry{family: afINET, zone: k.ZoneID, orig: tupleFromKey(k)}
		if k.Source.Is6() {
			e.family = afINET6
		}
		reqs.add(ipctnlMsgCtDelete, netlink.Request, e.family, e.appendKey)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed() {
		return backend.ErrClosed
	}
	defer withDeadline(ctx, b.wc)()
	for start := 0; start < len(ss); start += b.cfg.batch {
		errs, err := b.exchange(&reqs, start, min(start+b.cfg.batch, len(ss)))
		if err != nil {
			return ctxErr(ctx, err)
		}
		for i, aerr := range errs {
			if aerr != nil && !errors.Is(aerr, syscall.ENOENT) {
				return &backend.BatchError{Applied: start + i, ID: sessionID(ss[start+i]), Err: fmt.Errorf("%w: %w", backend.ErrRefused, aerr)}
			}
		}
	}
	return nil
}

// ErrEventsLost is returned by Watch when the kernel dropped events because
// the socket buffer overflowed (ENOBUFS): the caller must resynchronise
// with a Dump.
var ErrEventsLost = errors.New("conntrack: events lost (socket buffer overflow), resynchronise with a dump")

// Watch implements backend.Backend: it joins the ctnetlink event groups
// (new, update, destroy) inside the namespace. The namespace needs
// net.netfilter.nf_conntrack_events enabled (the default, 2, turns events
// on while a listener exists).
func (b *Backend) Watch(ctx context.Context, fn func(backend.Event) error) error {
	if b.isClosed() {
		return backend.ErrClosed
	}
	groups := uint32(1<<(nfnlgrpConntrackNew-1) | 1<<(nfnlgrpConntrackUpdate-1) | 1<<(nfnlgrpConntrackDestroy-1))
	c, err := b.dial(groups)
	if err != nil {
		return err
	}
	defer c.Close()
	defer withDeadline(ctx, c)()
	for {
		msgs, err := c.Receive()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, syscall.ENOBUFS) {
				return ErrEventsLost
			}
			return fmt.Errorf("conntrack: receiving events: %w", err)
		}
		for _, m := range msgs {
			if len(m.Data) < 4 || uint16(m.Header.Type)>>8 != nfnlSubsysCtnetlink {
				continue
			}
			var typ backend.EventType
			switch uint16(m.Header.Type) & 0xff {
			case ipctnlMsgCtNew:
				typ = backend.Updated
				if m.Header.Flags&(netlink.Create|netlink.Excl) != 0 {
					typ = backend.Created
				}
			case ipctnlMsgCtDelete:
				typ = backend.Destroyed
			default:
				continue
			}
			e, err := decodeEntry(m.Data[0], m.Data[4:])
			if err != nil {
				b.log.Warn("undecodable conntrack event", "err", err)
				continue
			}
			s, err := e.toSession()
			if err != nil {
				b.log.Warn("unconvertible conntrack event", "err", err)
				continue
			}
			if err := fn(backend.Event{Type: typ, Session: s}); err != nil {
				return err
			}
		}
	}
}
