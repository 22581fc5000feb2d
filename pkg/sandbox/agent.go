package sandbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/gnmiserver"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/topology"
	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultUser is the SSH user an agent lets in.
const DefaultUser = "sami"

// Errors of the package.
var (
	// ErrInvalid: an argument is wrong (empty or bad name, nil backend,
	// missing directory, an inventory naming an unknown agent).
	ErrInvalid = errors.New("sandbox: invalid argument")
	// ErrClosed: the sandbox was closed.
	ErrClosed = errors.New("sandbox: closed")
)

// Option configures one agent.
type Option func(*options)

type options struct {
	log       *slog.Logger
	password  string
	perm      netconf.Permission
	gnmi      bool
	plaintext bool
}

func newOptions(log *slog.Logger, opts []Option) options {
	o := options{log: log, perm: netconf.ReadWrite, gnmi: true}
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// WithLogger sets the logger of the agent and its servers (default: the
// sandbox's, else discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithPassword lets the user in with password p too (next to the key); it is
// written to a password file and Config carries it.
func WithPassword(p string) Option { return func(o *options) { o.password = p } }

// WithReadOnly makes the user read-only: gets work, writes are refused.
func WithReadOnly() Option { return func(o *options) { o.perm = netconf.ReadOnly } }

// WithoutGNMI serves NETCONF only; the agent has no GNMIAddr.
func WithoutGNMI() Option { return func(o *options) { o.gnmi = false } }

// WithPlaintextGNMI serves gNMI without TLS; Config sets
// Credentials.InsecurePlaintext.
func WithPlaintextGNMI() Option { return func(o *options) { o.plaintext = true } }

// Agent is a running in-process agent. The exported fields are fixed for
// its lifetime (Restart keeps them).
type Agent struct {
	Name    string
	Backend backend.Backend
	Agent   *agent.Agent
	// Addr is the NETCONF (SSH) address, GNMIAddr the gNMI one (empty
	// WithoutGNMI).
	Addr, GNMIAddr string
	// Dir holds the agent's credential files.
	Dir string
	// KnownHosts is a known_hosts file with the host key for Addr; KeyFile
	// the client's private key (OpenSSH PEM, no passphrase); User the SSH
	// user; Password its password (WithPassword) or empty, PasswordFile
	// the file holding it (empty without one).
	KnownHosts, KeyFile, User, Password, PasswordFile string
	// CAFile is the gNMI server certificate (self-signed: it is its own
	// CA), empty with plaintext gNMI or WithoutGNMI.
	CAFile string
	// HostKey is the agent's SSH public host key (authorized_keys format).
	HostKey string

	opts     options
	hostKey  ssh.Signer
	clientPK ssh.PublicKey
	tlsCert  *tls.Certificate

	mu      sync.Mutex
	running bool
	cancel  context.CancelFunc
	nc      *netconf.Server
	gs      *gnmiserver.Server
	wg      sync.WaitGroup
}

// Start serves b through a new agent named name and writes its credential
// files into dir, which must exist. (WriteInventory needs inventory names,
// see topology.ValidName; Start takes any non-empty name.) ctx bounds the start only: the agent serves until Stop. Start does
// not close b.
func Start(ctx context.Context, dir, name string, b backend.Backend, opts ...Option) (*Agent, error) {
	return start(ctx, dir, name, b, newOptions(nil, opts))
}

func start(ctx context.Context, dir, name string, b backend.Backend, o options) (*Agent, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: agent name is empty", ErrInvalid)
	}
	if b == nil {
		return nil, fmt.Errorf("%w: agent %s: nil backend", ErrInvalid, name)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: agent %s: directory %q does not exist", ErrInvalid, name, dir)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ag, err := agent.New(ctx, b, agent.WithLogger(o.log))
	if err != nil {
		return nil, fmt.Errorf("sandbox: agent %s: %w", name, err)
	}
	a := &Agent{Name: name, Backend: b, Agent: ag, Dir: dir, User: DefaultUser, Password: o.password, opts: o}
	if err := a.writeKeys(dir); err != nil {
		return nil, fmt.Errorf("sandbox: agent %s: credentials: %w", name, err)
	}
	if err := a.serve("127.0.0.1:0", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("sandbox: agent %s: %w", name, err)
	}
	if err := a.writeKnownHosts(); err != nil {
		a.Stop()
		return nil, fmt.Errorf("sandbox: agent %s: known_hosts: %w", name, err)
	}
	return a, nil
}

// Config is the device.Config of the "sami" driver for this agent: key
// (and password) authentication, host key checked against KnownHosts, gNMI
// certificate checked against CAFile.
func (a *Agent) Config() device.Config {
	return device.Config{
		Name:        a.Name,
		Driver:      "sami",
		Address:     a.Addr,
		GNMIAddress: a.GNMIAddr,
		Credentials: device.Credentials{
			User:              a.User,
			Password:          a.Password,
			KeyFile:           a.KeyFile,
			KnownHosts:        []string{a.KnownHosts},
			CAFile:            a.CAFile,
			InsecurePlaintext: a.GNMIAddr != "" && a.opts.plaintext,
		},
		Timeout: 10 * time.Second,
		Logger:  a.opts.log,
	}
}

// Client dials the agent's NETCONF server with the agent's credentials.
// The caller closes the session.
func (a *Agent) Client(ctx context.Context) (*netconf.Session, error) {
	s, err := netconf.Dial(ctx, a.Addr, netconf.WithUser(a.User), netconf.WithKeyFile(a.KeyFile, ""), netconf.WithKnownHosts(a.KnownHosts))
	if err != nil {
		return nil, fmt.Errorf("sandbox: dialing %s: %w", a.Name, err)
	}
	return s, nil
}

// Running reports whether the agent serves.
func (a *Agent) Running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running
}

// Stop stops serving and drops every connection, like a device that
// vanished: the agent releases the locks and rolls back the non-persistent
// confirmed commits of the lost sessions. Stopping a stopped agent does
// nothing. The backend stays open.
func (a *Agent) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.running {
		return
	}
	a.running = false
	a.cancel()
	a.nc.Close()
	if a.gs != nil {
		a.gs.Close()
	}
	a.wg.Wait()
}

// Restart serves the agent again on the same addresses, with the same host
// key, users, certificate, agent and backend, so persistent confirmed
// commits and the table survive. Restarting a running agent stops it
// first. It retries while the kernel still holds the ports, until ctx ends.
func (a *Agent) Restart(ctx context.Context) error {
	a.Stop()
	for {
		err := a.serve(a.Addr, a.GNMIAddr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sandbox: restarting %s: %w (last: %v)", a.Name, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// serve listens on the given addresses and starts both servers.
func (a *Agent) serve(ncAddr, gnmiAddr string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	nc, err := netconf.NewServer(a.Agent.NETCONF(),
		netconf.WithHostKey(a.hostKey),
		netconf.WithServerUser(a.User, a.opts.perm, a.opts.password, a.clientPK),
		netconf.WithServerLogger(a.opts.log))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ncAddr)
	if err != nil {
		return fmt.Errorf("netconf listener: %w", err)
	}
	var gs *gnmiserver.Server
	var gln net.Listener
	if a.opts.gnmi {
		schema, err := flowstate.Schema()
		if err != nil {
			ln.Close()
			return err
		}
		gs, err = gnmiserver.New(a.Agent.GNMI(), schema, gnmiserver.WithLogger(a.opts.log), gnmiserver.WithTarget(a.Name))
		if err != nil {
			ln.Close()
			return err
		}
		if gnmiAddr == "" {
			gnmiAddr = "127.0.0.1:0"
		}
		if gln, err = net.Listen("tcp", gnmiAddr); err != nil {
			ln.Close()
			return fmt.Errorf("gnmi listener: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.nc, a.gs, a.running = cancel, nc, gs, true
	if a.Addr == "" { // set once: readers use it without the lock
		a.Addr = ln.Addr().String()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := nc.Serve(ctx, ln); err != nil && ctx.Err() == nil {
			a.opts.log.Warn("sandbox: netconf server ended", "agent", a.Name, "err", err)
		}
	}()
	if gs != nil {
		if a.GNMIAddr == "" {
			a.GNMIAddr = gln.Addr().String()
		}
		creds := insecure.NewCredentials()
		if !a.opts.plaintext {
			creds = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*a.tlsCert}, MinVersion: tls.VersionTLS12})
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := gs.Serve(ctx, gln, creds); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				a.opts.log.Warn("sandbox: gnmi server ended", "agent", a.Name, "err", err)
			}
		}()
	}
	return nil
}

// checkName: agent names are inventory names.
func checkName(name string) error {
	if err := topology.ValidName(name); err != nil {
		return fmt.Errorf("%w: agent name %q: %v", ErrInvalid, name, err)
	}
	return nil
}

// file is a path in the agent's directory.
func (a *Agent) file(name string) string { return filepath.Join(a.Dir, name) }
