package netconf

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"github.com/sami-netops/sami/pkg/netconf/framing"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// BaseNS is the NETCONF base namespace.
const BaseNS = "urn:ietf:params:xml:ns:netconf:base:1.0"

// Option configures a Session.
type Option func(*options)

type options struct {
	log        *slog.Logger
	extra      []string
	base10     bool
	maxMsg     int64
	firstDelay time.Duration
	delaySet   bool
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClientCapabilities adds capabilities to our hello.
func WithClientCapabilities(uris ...string) Option {
	return func(o *options) { o.extra = append(o.extra, uris...) }
}

// WithBase10Only advertises only base:1.0, forcing end-of-message framing
// even with a base:1.1 server.
func WithBase10Only() Option { return func(o *options) { o.base10 = true } }

// WithFirstRPCDelay pauses between the hello exchange and the first rpc.
// yuma123 netconfd (detected from its capabilities, and then paused 200 ms
// by default) stalls when its proxy reads the client hello and the first rpc
// together; set 0 to disable, or a value for other devices with that bug.
func WithFirstRPCDelay(d time.Duration) Option {
	return func(o *options) { o.firstDelay, o.delaySet = d, true }
}

// WithMaxMessageSize bounds the size of one reply (0: unlimited).
func WithMaxMessageSize(n int64) Option { return func(o *options) { o.maxMsg = n } }

// Session is a NETCONF client session. It is safe for concurrent use:
// requests are written one at a time and replies are matched by message-id.
type Session struct {
	t    io.ReadWriteCloser
	fr   *framing.Reader
	fw   *framing.Writer
	log  *slog.Logger
	wmu  sync.Mutex // one request on the wire at a time
	mu   sync.Mutex // guards pending, err
	err  error
	pend map[string]chan *incoming
	next atomic.Uint64
	done chan struct{}

	id      uint64
	caps    *Capabilities
	chunked bool
}

// incoming is a reply handed from the reader goroutine to its caller, the
// tokenizer positioned on the <rpc-reply> start tag.
type incoming struct {
	tk   *xmltok.Tokenizer
	done chan struct{}
}

// NewSession runs the hello exchange over an established transport (an
// SSH "netconf" subsystem channel, or any byte stream) and returns the
// session. Our hello is written at once, before the server's is read, so
// the first rpc never shares a read with it (yuma123 stalls on that). ctx
// bounds the handshake: the transport is closed when it ends first.
func NewSession(ctx context.Context, t io.ReadWriteCloser, opts ...Option) (*Session, error) {
	o := options{}
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		t:    t,
		fr:   framing.NewReader(t, framing.WithMaxMessageSize(o.maxMsg)),
		fw:   framing.NewWriter(t),
		log:  o.log,
		pend: map[string]chan *incoming{},
		done: make(chan struct{}),
	}
	stop := context.AfterFunc(ctx, func() { t.Close() })
	err := s.hello(o)
	if !stop() || ctx.Err() != nil {
		t.Close()
		return nil, fmt.Errorf("%w: hello: %w", ErrTransport, context.Cause(ctx))
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	go s.readLoop()
	return s, nil
}

func (s *Session) hello(o options) error {
	caps := []string{CapBase10}
	if !o.base10 {
		caps = append(caps, CapBase11)
	}
	caps = append(caps, o.extra...)
	msg, err := xml.Marshal(&gonetconf.HelloMessage{Capabilities: caps})
	if err != nil {
		return err
	}
	// Both sides send their hello at once (RFC 6241 8.1); write ours while
	// reading theirs so no transport buffering is assumed.
	wrote := make(chan error, 1)
	go func() {
		w := s.fw.NewMessage()
		if _, err := w.Write(append([]byte(xml.Header), msg...)); err != nil {
			wrote <- err
			return
		}
		wrote <- w.Close()
	}()
	var h gonetconf.HelloMessage
	r, err := s.fr.NextMessage()
	if err == nil {
		if derr := xml.NewDecoder(r).Decode(&h); derr != nil {
			s.t.Close()
			<-wrote
			return fmt.Errorf("%w: server hello: %v", ErrProtocol, derr)
		}
	}
	if werr := <-wrote; werr != nil && err == nil {
		return fmt.Errorf("%w: write hello: %w", ErrTransport, werr)
	}
	if err != nil {
		return fmt.Errorf("%w: read server hello: %w", ErrTransport, err)
	}
	if h.SessionID <= 0 {
		return fmt.Errorf("%w: server hello without a session-id", ErrProtocol)
	}
	s.id = uint64(h.SessionID)
	s.caps = ParseCapabilities(h.Capabilities)
	switch {
	case s.caps.Has(CapBase11) && !o.base10:
		s.chunked = true
		s.fr.SetChunked(true)
		s.fw.SetChunked(true)
	case s.caps.Has(CapBase10):
	default:
		return fmt.Errorf("%w: server supports neither base:1.0 nor base:1.1 (%v)", ErrProtocol, h.Capabilities)
	}
	delay := o.firstDelay
	if !o.delaySet && isYuma(h.Capabilities) {
		delay = 200 * time.Millisecond
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	s.log.Debug("netconf session up", "session-id", s.id, "chunked", s.chunked, "capabilities", len(h.Capabilities), "first-rpc-delay", delay)
	return nil
}

// isYuma recognizes yuma123 netconfd by its own modules.
func isYuma(caps []string) bool {
	for _, c := range caps {
		if strings.Contains(c, "netconfcentral.org/ns/yuma") || strings.Contains(c, "module=yuma123-") {
			return true
		}
	}
	return false
}

// ID is the session-id the server assigned.
func (s *Session) ID() uint64 { return s.id }

// Capabilities are the server's.
func (s *Session) Capabilities() *Capabilities { return s.caps }

// Chunked reports whether base:1.1 chunked framing is in use.
func (s *Session) Chunked() bool { return s.chunked }

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended (nil while it is up).
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close closes the transport without a <close-session> (see CloseSession).
func (s *Session) Close() error {
	s.fail(ErrClosed)
	return nil
}

// fail ends the session with err (the first error wins).
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	pend := s.pend
	s.pend = nil
	s.mu.Unlock()
	s.t.Close()
	close(s.done)
	for _, ch := range pend {
		close(ch)
	}
}

// readLoop reads replies and hands each to the caller waiting for its
// message-id; the next message is read only after the caller has consumed
// this one, so replies stream straight from the wire.
func (s *Session) readLoop() {
	for {
		r, err := s.fr.NextMessage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: the server closed the session", ErrClosed)
			} else {
				err = fmt.Errorf("%w: %w", ErrTransport, err)
			}
			s.fail(err)
			return
		}
		tk := xmltok.New(r)
		if err := firstElement(tk); err != nil {
			s.fail(fmt.Errorf("%w: reply: %v", ErrProtocol, err))
			return
		}
		if string(tk.Local()) != "rpc-reply" {
			// Notifications (RFC 5277) are not subscribed to; anything else is a protocol error.
			s.fail(fmt.Errorf("%w: expected <rpc-reply>, got <%s>", ErrProtocol, tk.Local()))
			return
		}
		id := attr(tk, "message-id")
		s.mu.Lock()
		ch, ok := s.pend[id]
		delete(s.pend, id)
		s.mu.Unlock()
		if !ok {
			s.fail(fmt.Errorf("%w: reply with message-id %q that no request is waiting for", ErrProtocol, id))
			return
		}
		in := &incoming{tk: tk, done: make(chan struct{})}
		ch <- in
		select {
		case <-in.done:
		case <-s.done:
			return
		}
	}
}

// Op is a NETCONF operation: it writes the element(s) that go inside <rpc>.
type Op interface {
	WriteRPC(w io.Writer) error
}

// OpFunc adapts a function to Op.
type OpFunc func(w io.Writer) error

// WriteRPC implements Op.
func (f OpFunc) WriteRPC(w io.Writer) error { return f(w) }

// Method adapts a github.com/Juniper/go-netconf RPCMethod (e.g.
// gonetconf.MethodGetConfig("running")) to Op.
func Method(m gonetconf.RPCMethod) Op {
	return OpFunc(func(w io.Writer) error {
		_, err := io.WriteString(w, m.MarshalMethod())
		return err
	})
}

// Reply is the outcome of one rpc. Errors of severity error are returned
// as the call's error (*RPCError or RPCErrors); warnings are kept here.
type Reply struct {
	MessageID string
	Ok        bool
	Warnings  []*RPCError
	// Data is the content of <data> re-serialized (namespaces declared on
	// each top-level element), unless a DataFunc consumed it.
	Data []byte
	// Body holds any other reply content (custom RPC output), re-serialized.
	Body []byte
}

// DataFunc consumes the <data> element of a reply from the token stream:
// tk's current token is the <data> start tag, and fn must read up to and
// including its end tag. ns holds the namespace declarations in scope
// (including <data>'s own). Use it to stream large replies straight into
// yangxml.Codec.DecodeElement.
type DataFunc func(tk *xmltok.Tokenizer, ns map[string]string) error

// CallOption configures one call.
type CallOption func(*callOpts)

type callOpts struct{ data DataFunc }

// WithData streams the reply's <data> to fn instead of collecting it.
func WithData(fn DataFunc) CallOption { return func(o *callOpts) { o.data = fn } }

// Call sends an rpc and waits for its reply. ctx bounds the whole call: if
// it ends first the session is closed (a reply can no longer be trusted to
// arrive), and the error wraps ctx.Err().
func (s *Session) Call(ctx context.Context, op Op, opts ...CallOption) (*Reply, error) {
	var co callOpts
	for _, f := range opts {
		f(&co)
	}
	id := strconv.FormatUint(s.next.Add(1), 10)
	ch := make(chan *incoming, 1)
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	s.pend[id] = ch
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() {
		s.fail(fmt.Errorf("%w: %w (session closed at the deadline)", ErrClosed, context.Cause(ctx)))
	})
	defer stop()
	if err := s.send(id, op); err != nil {
		s.fail(err)
		return nil, s.callErr(ctx, err)
	}
	in, ok := <-ch
	if !ok {
		return nil, s.callErr(ctx, s.Err())
	}
	defer close(in.done)
	rep, rpcErrs, err := parseReply(in.tk, id, co.data)
	if err != nil {
		s.fail(err)
		return nil, s.callErr(ctx, err)
	}
	return rep, rpcErrorsOf(rpcErrs)
}

func (s *Session) callErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrClosed, context.Cause(ctx))
	}
	return err
}

func (s *Session) send(id string, op Op) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	w := s.fw.NewMessage()
	if _, err := io.WriteString(w, `<rpc message-id="`+id+`" xmlns="`+BaseNS+`">`); err != nil {
		return fmt.Errorf("%w: %w", ErrTransport, err)
	}
	if err := op.WriteRPC(w); err != nil {
		return fmt.Errorf("%w: writing rpc: %w", ErrTransport, err)
	}
	if _, err := io.WriteString(w, `</rpc>`); err != nil {
		return fmt.Errorf("%w: %w", ErrTransport, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrTransport, err)
	}
	return nil
}
