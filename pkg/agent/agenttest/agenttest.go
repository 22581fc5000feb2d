// Package agenttest runs a real sami agent in-process for tests: a
// backend.Backend (usually a simfw.Firewall) behind package agent, served by
// package netconf's server over SSH and by package gnmiserver over TLS, both
// on 127.0.0.1 with ephemeral ports.
//
// Everything a client needs is written to the test's temporary directory:
// known_hosts with the agent's host key, the client's private key (OpenSSH
// PEM) and the gNMI server certificate (a self-signed one for 127.0.0.1,
// usable as the CA). Agent.Config returns them as a device.Config for the
// "sami" driver, with host keys and the certificate verified.
//
// Stop makes the device vanish (listeners closed, every connection dropped:
// the agent releases the locks and rolls back the non-persistent confirmed
// commits of the lost sessions, like a real one); Restart serves the same
// agent, backend and keys again on the same addresses, so persistent
// confirmed commits and the table survive, like an agent whose management
// plane went away and came back.
package agenttest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/gnmiserver"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/simfw"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultUser is the SSH user the agent lets in.
const DefaultUser = "sami"

// Option configures Start.
type Option func(*options)

type options struct {
	log       *slog.Logger
	password  string
	perm      netconf.Permission
	gnmi      bool
	plaintext bool
}

// WithLogger sets the logger of the agent and its servers (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithPassword lets the user in with password p too (next to the key);
// Config then carries it.
func WithPassword(p string) Option { return func(o *options) { o.password = p } }

// WithReadOnly makes the user read-only: gets work, writes are refused.
func WithReadOnly() Option { return func(o *options) { o.perm = netconf.ReadOnly } }

// WithoutGNMI serves NETCONF only; Config has no GNMIAddress.
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
	// KnownHosts is a known_hosts file with the host key for Addr; KeyFile
	// the client's private key (OpenSSH PEM, no passphrase); User the SSH
	// user; Password its password (WithPassword) or empty.
	KnownHosts, KeyFile, User, Password string
	// CAFile is the gNMI server certificate (self-signed: it is its own
	// CA), empty with plaintext gNMI.
	CAFile string

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

// Start serves b through a new agent named name. The agent stops when the
// test ends.
func Start(t testing.TB, name string, b backend.Backend, opts ...Option) *Agent {
	t.Helper()
	o := options{log: slog.New(slog.DiscardHandler), perm: netconf.ReadWrite, gnmi: true}
	for _, opt := range opts {
		opt(&o)
	}
	ag, err := agent.New(context.Background(), b, agent.WithLogger(o.log))
	if err != nil {
		t.Fatalf("agenttest: %v", err)
	}
	a := &Agent{Name: name, Backend: b, Agent: ag, User: DefaultUser, Password: o.password, opts: o}
	dir := t.TempDir()
	if err := a.keys(dir); err != nil {
		t.Fatalf("agenttest: %v", err)
	}
	if err := a.serve("127.0.0.1:0", "127.0.0.1:0"); err != nil {
		t.Fatalf("agenttest: %v", err)
	}
	kh := knownhosts.Line([]string{knownhosts.Normalize(a.Addr)}, a.hostKey.PublicKey()) + "\n"
	a.KnownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(a.KnownHosts, []byte(kh), 0o600); err != nil {
		t.Fatalf("agenttest: %v", err)
	}
	t.Cleanup(a.Stop)
	return a
}

// StartSim serves a new simulated firewall with personality p.
func StartSim(t testing.TB, name string, p simfw.Personality, opts ...Option) (*Agent, *simfw.Firewall) {
	t.Helper()
	fw := simfw.New(p)
	t.Cleanup(func() { fw.Close() })
	return Start(t, name, fw, opts...), fw
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

// Client dials the agent's NETCONF server with the agent's credentials;
// the session is closed when the test ends.
func (a *Agent) Client(t testing.TB) *netconf.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := netconf.Dial(ctx, a.Addr, netconf.WithUser(a.User), netconf.WithKeyFile(a.KeyFile, ""), netconf.WithKnownHosts(a.KnownHosts))
	if err != nil {
		t.Fatalf("agenttest: dialing %s: %v", a.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Stop stops serving and drops every connection, like a device that
// vanished. Stopping a stopped agent does nothing.
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
// key, users, certificate, agent and backend. Restarting a running agent
// stops it first.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	a.Stop()
	// The ports were ours a moment ago; give the kernel a moment if it
	// still holds them.
	var err error
	for range 50 {
		if err = a.serve(a.Addr, a.GNMIAddr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("agenttest: restarting %s: %v", a.Name, err)
}

// keys makes the host key, the client key and the gNMI certificate.
func (a *Agent) keys(dir string) error {
	_, hk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if a.hostKey, err = ssh.NewSignerFromKey(hk); err != nil {
		return err
	}
	cpub, ck, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if a.clientPK, err = ssh.NewPublicKey(cpub); err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(ck, "sami agenttest client")
	if err != nil {
		return err
	}
	a.KeyFile = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(a.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	if !a.opts.gnmi || a.opts.plaintext {
		return nil
	}
	cert, der, err := selfSigned()
	if err != nil {
		return err
	}
	a.tlsCert = cert
	a.CAFile = filepath.Join(dir, "gnmi.crt")
	return os.WriteFile(a.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

// selfSigned makes a certificate for 127.0.0.1 and localhost that is its
// own CA.
func selfSigned() (*tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sami agenttest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, nil
}

// serve listens on the given addresses and starts both servers.
func (a *Agent) serve(ncAddr, gnmiAddr string) (err error) {
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
			a.opts.log.Warn("agenttest: netconf server ended", "agent", a.Name, "err", err)
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
				a.opts.log.Warn("agenttest: gnmi server ended", "agent", a.Name, "err", err)
			}
		}()
	}
	return nil
}
