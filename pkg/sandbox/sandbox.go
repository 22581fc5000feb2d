package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/simfw"
)

// Sandbox is a set of in-process agents whose credential files live under
// one directory (a subdirectory per agent). Safe for concurrent use.
type Sandbox struct {
	dir     string
	ownDir  bool
	log     *slog.Logger
	mu      sync.Mutex
	closed  bool
	agents  []*Agent
	byName  map[string]*Agent
	closers []func() error
}

// SandboxOption configures New.
type SandboxOption func(*Sandbox)

// WithDir keeps the sandbox's files in dir (created if needed, left in place
// by Close). Without it a temporary directory is made and removed by Close.
func WithDir(dir string) SandboxOption { return func(s *Sandbox) { s.dir = dir } }

// WithSandboxLogger sets the logger of every agent that has none of its own.
func WithSandboxLogger(l *slog.Logger) SandboxOption { return func(s *Sandbox) { s.log = l } }

// New makes an empty sandbox.
func New(opts ...SandboxOption) (*Sandbox, error) {
	s := &Sandbox{byName: map[string]*Agent{}}
	for _, f := range opts {
		f(s)
	}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "sami-sandbox-")
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		s.dir, s.ownDir = d, true
	} else if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: directory: %w", err)
	}
	return s, nil
}

// Dir is the sandbox's directory.
func (s *Sandbox) Dir() string { return s.dir }

// Start serves b through a new agent named name (unique in the sandbox);
// its files go to Dir()/name. Close stops it; b is not closed.
func (s *Sandbox) Start(ctx context.Context, name string, b backend.Backend, opts ...Option) (*Agent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if _, dup := s.byName[name]; dup {
		return nil, fmt.Errorf("%w: agent %q started twice", ErrInvalid, name)
	}
	dir := filepath.Join(s.dir, name)
	if err := checkName(name); err != nil { // before it becomes a path
		return nil, err
	}
	o := newOptions(s.log, opts)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: agent %s: %w", name, err)
	}
	a, err := start(ctx, dir, name, b, o)
	if err != nil {
		return nil, err
	}
	s.agents = append(s.agents, a)
	s.byName[name] = a
	return a, nil
}

// StartSim serves a new simulated firewall with personality p; Close closes
// it too.
func (s *Sandbox) StartSim(ctx context.Context, name string, p simfw.Personality, opts ...Option) (*Agent, *simfw.Firewall, error) {
	fw := simfw.New(p)
	a, err := s.Start(ctx, name, fw, opts...)
	if err != nil {
		fw.Close()
		return nil, nil, err
	}
	s.mu.Lock()
	s.closers = append(s.closers, fw.Close)
	s.mu.Unlock()
	return a, fw, nil
}

// Agent returns the agent named name, or nil.
func (s *Sandbox) Agent(name string) *Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byName[name]
}

// Agents returns the agents in start order.
func (s *Sandbox) Agents() []*Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Agent(nil), s.agents...)
}

// Close stops every agent, closes the simulated firewalls StartSim made and
// removes the directory New made. Closing twice is allowed.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	agents, closers := s.agents, s.closers
	s.mu.Unlock()
	for i := len(agents) - 1; i >= 0; i-- {
		agents[i].Stop()
	}
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	if s.ownDir {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
