// Package agenttest runs a real sami agent in-process for tests: a
// backend.Backend (usually a simfw.Firewall) behind package agent, served by
// package netconf's server over SSH and by package gnmiserver over TLS, both
// on 127.0.0.1 with ephemeral ports.
//
// It is a thin wrapper over package sandbox (the same agents without a
// testing.TB, used by the demo): the files go to the test's temporary
// directory, a failure to start fails the test and the agent stops when the
// test ends.
//
// Everything a client needs is written to that directory: known_hosts with
// the agent's host key, the client's private key (OpenSSH PEM) and the gNMI
// server certificate (a self-signed one for 127.0.0.1, usable as the CA).
// Agent.Config returns them as a device.Config for the "sami" driver, with
// host keys and the certificate verified.
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
	"log/slog"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/sandbox"
	"github.com/sami-netops/sami/pkg/simfw"
)

// DefaultUser is the SSH user the agent lets in.
const DefaultUser = sandbox.DefaultUser

// Option configures Start.
type Option = sandbox.Option

// WithLogger sets the logger of the agent and its servers (default: discard).
func WithLogger(l *slog.Logger) Option { return sandbox.WithLogger(l) }

// WithPassword lets the user in with password p too (next to the key);
// Config then carries it.
func WithPassword(p string) Option { return sandbox.WithPassword(p) }

// WithReadOnly makes the user read-only: gets work, writes are refused.
func WithReadOnly() Option { return sandbox.WithReadOnly() }

// WithoutGNMI serves NETCONF only; Config has no GNMIAddress.
func WithoutGNMI() Option { return sandbox.WithoutGNMI() }

// WithPlaintextGNMI serves gNMI without TLS; Config sets
// Credentials.InsecurePlaintext.
func WithPlaintextGNMI() Option { return sandbox.WithPlaintextGNMI() }

// Agent is a running in-process agent: a sandbox.Agent (Name, Backend,
// Agent, Addr, GNMIAddr, KnownHosts, KeyFile, User, Password, CAFile,
// Config, Stop) whose Client and Restart fail the test instead of
// returning errors.
type Agent struct {
	// Embedded through an alias so the promoted field Agent stays the
	// *agent.Agent it always was.
	*sandboxAgent
}

type sandboxAgent = sandbox.Agent

// Start serves b through a new agent named name. The agent stops when the
// test ends.
func Start(t testing.TB, name string, b backend.Backend, opts ...Option) *Agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := sandbox.Start(ctx, t.TempDir(), name, b, opts...)
	if err != nil {
		t.Fatalf("agenttest: %v", err)
	}
	t.Cleanup(a.Stop)
	return &Agent{a}
}

// StartSim serves a new simulated firewall with personality p.
func StartSim(t testing.TB, name string, p simfw.Personality, opts ...Option) (*Agent, *simfw.Firewall) {
	t.Helper()
	fw := simfw.New(p)
	t.Cleanup(func() { fw.Close() })
	return Start(t, name, fw, opts...), fw
}

// Client dials the agent's NETCONF server with the agent's credentials;
// the session is closed when the test ends.
func (a *Agent) Client(t testing.TB) *netconf.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := a.sandboxAgent.Client(ctx)
	if err != nil {
		t.Fatalf("agenttest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Restart serves the agent again on the same addresses, with the same host
// key, users, certificate, agent and backend. Restarting a running agent
// stops it first.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.sandboxAgent.Restart(ctx); err != nil {
		t.Fatalf("agenttest: %v", err)
	}
}
