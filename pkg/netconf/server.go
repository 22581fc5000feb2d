package netconf

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// ServerOption configures a Server.
type ServerOption func(*Server) error

type user struct {
	perm     Permission
	password string
	keys     map[string]bool // ssh.PublicKey.Marshal() as string
}

// WithHostKey adds an SSH host key (at least one is required).
func WithHostKey(signer ssh.Signer) ServerOption {
	return func(s *Server) error { s.hostKeys = append(s.hostKeys, signer); return nil }
}

// WithServerUser lets a user in with a password (empty: none) and/or
// public keys (authorized_keys), with a permission.
func WithServerUser(name string, perm Permission, password string, keys ...ssh.PublicKey) ServerOption {
	return func(s *Server) error {
		u := &user{perm: perm, password: password, keys: map[string]bool{}}
		for _, k := range keys {
			u.keys[string(k.Marshal())] = true
		}
		s.users[name] = u
		return nil
	}
}

// WithServerLogger sets the logger (default: discard).
func WithServerLogger(l *slog.Logger) ServerOption {
	return func(s *Server) error { s.log = l; return nil }
}

// WithMaxSessions bounds concurrent NETCONF sessions (default 64).
func WithMaxSessions(n int) ServerOption {
	return func(s *Server) error { s.maxSessions = n; return nil }
}

// WithServerMaxMessageSize bounds one request (default 512 MiB).
func WithServerMaxMessageSize(n int64) ServerOption {
	return func(s *Server) error { s.maxMsg = n; return nil }
}

// WithIdleTimeout closes sessions that send nothing for d (default 1 h; 0 disables).
func WithIdleTimeout(d time.Duration) ServerOption {
	return func(s *Server) error { s.idle = d; return nil }
}

// WithHelloTimeout bounds the wait for the client's hello (default 30 s).
func WithHelloTimeout(d time.Duration) ServerOption {
	return func(s *Server) error { s.helloTimeout = d; return nil }
}

// Server is a NETCONF server over SSH serving a Backend.
type Server struct {
	backend      Backend
	log          *slog.Logger
	hostKeys     []ssh.Signer
	users        map[string]*user
	maxSessions  int
	maxMsg       int64
	idle         time.Duration
	helloTimeout time.Duration

	nextID   atomic.Uint64
	mu       sync.Mutex
	sessions map[uint64]*serverSession
	closed   bool
	lns      []net.Listener
	wg       sync.WaitGroup
}

// NewServer builds a server for backend.
func NewServer(backend Backend, opts ...ServerOption) (*Server, error) {
	s := &Server{
		backend: backend, users: map[string]*user{}, sessions: map[uint64]*serverSession{},
		maxSessions: 64, maxMsg: 512 << 20, idle: time.Hour, helloTimeout: 30 * time.Second,
	}
	for _, f := range opts {
		if err := f(s); err != nil {
			return nil, err
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *Server) sshConfig() (*ssh.ServerConfig, error) {
	if len(s.hostKeys) == 0 {
		return nil, errors.New("netconf server: no host key (WithHostKey)")
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			u := s.users[c.User()]
			if u == nil || u.password == "" || subtle.ConstantTimeCompare([]byte(u.password), pw) != 1 {
				return nil, fmt.Errorf("password rejected for %q", c.User())
			}
			return &ssh.Permissions{Extensions: map[string]string{"perm": fmt.Sprint(int(u.perm))}}, nil
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			u := s.users[c.User()]
			if u == nil || !u.keys[string(k.Marshal())] {
				return nil, fmt.Errorf("public key rejected for %q", c.User())
			}
			return &ssh.Permissions{Extensions: map[string]string{"perm": fmt.Sprint(int(u.perm))}}, nil
		},
		ServerVersion: "SSH-2.0-sami-netconf",
	}
	for _, k := range s.hostKeys {
		cfg.AddHostKey(k)
	}
	return cfg, nil
}

// Serve accepts SSH connections on ln until ctx ends or Close is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	cfg, err := s.sshConfig()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.wg.Go(func() { s.serveConn(ctx, conn, cfg) })
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(s.helloTimeout))
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		s.log.Info("ssh handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
		return
	}
	conn.SetDeadline(time.Time{})
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	var perm Permission
	fmt.Sscan(sc.Permissions.Extensions["perm"], &perm)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		s.wg.Go(func() {
			s.serveChannel(ctx, ch, creqs, Peer{User: sc.User(), Perm: perm, Addr: sc.RemoteAddr().String()})
		})
	}
}

// serveChannel waits for the "netconf" subsystem request, then runs a session.
func (s *Server) serveChannel(ctx context.Context, ch ssh.Channel, reqs <-chan *ssh.Request, p Peer) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "subsystem" && len(req.Payload) >= 4 && string(req.Payload[4:]) == "netconf" {
			req.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			s.ServeTransport(ctx, ch, p)
			return
		}
		req.Reply(false, nil)
	}
}

// ServeTransport runs one NETCONF session over an established byte stream
// (an SSH channel, or anything else) for an authenticated peer, until the
// session ends.
func (s *Server) ServeTransport(ctx context.Context, t io.ReadWriteCloser, p Peer) error {
	ss, err := s.register(t, p)
	if err != nil {
		t.Close()
		return err
	}
	defer s.unregister(ctx, ss)
	return ss.run(ctx)
}

func (s *Server) register(t io.ReadWriteCloser, p Peer) (*serverSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if len(s.sessions) >= s.maxSessions {
		s.log.Warn("session refused: too many sessions", "max", s.maxSessions, "user", p.User)
		return nil, fmt.Errorf("netconf server: %d sessions already open", s.maxSessions)
	}
	p.SessionID = s.nextID.Add(1)
	ss := newServerSession(s, t, p)
	s.sessions[p.SessionID] = ss
	return ss, nil
}

func (s *Server) unregister(ctx context.Context, ss *serverSession) {
	s.mu.Lock()
	delete(s.sessions, ss.peer.SessionID)
	s.mu.Unlock()
	ss.close()
	s.backend.SessionClosed(context.WithoutCancel(ctx), ss.peer)
	s.log.Info("netconf session closed", "session-id", ss.peer.SessionID, "user", ss.peer.User)
}

// kill ends another session (kill-session).
func (s *Server) kill(id uint64) bool {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		return false
	}
	ss.close()
	return true
}

// Close stops accepting, ends every session and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	sessions := make([]*serverSession, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, ss := range sessions {
		ss.close()
	}
	s.wg.Wait()
	return nil
}
