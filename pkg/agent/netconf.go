package agent

import (
	"context"
	"io"

	"github.com/sami-netops/sami/pkg/datastore"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
)

// NETCONF returns the netconf.Backend that serves the agent: <get> live
// from the device, configuration through the datastores with running
// refreshed from the device first.
func (a *Agent) NETCONF() netconf.Backend {
	return &ncBackend{Backend: datastore.NewBackend(a.store, a.codec, flow.ModuleCapabilities()...), a: a}
}

type ncBackend struct {
	*datastore.Backend
	a *Agent
}

func (n *ncBackend) sync(ctx context.Context) error {
	if err := n.a.Sync(ctx); err != nil {
		return &netconf.RPCError{Type: "application", Tag: "operation-failed", Severity: "error", Message: "reading the device: " + err.Error()}
	}
	return nil
}

// Get serves the live table and the device's capabilities.
func (n *ncBackend) Get(ctx context.Context, _ netconf.Peer, f *netconf.FilterSpec, w io.Writer) error {
	live, err := n.a.Live(ctx)
	if err != nil {
		return &netconf.RPCError{Type: "application", Tag: "operation-failed", Severity: "error", Message: "reading the device: " + err.Error()}
	}
	return datastore.WriteTree(w, n.a.codec, live, false, f)
}

// GetConfig refreshes running first when it is read.
func (n *ncBackend) GetConfig(ctx context.Context, p netconf.Peer, src netconf.Datastore, f *netconf.FilterSpec, w io.Writer) error {
	if src == netconf.Running {
		if err := n.sync(ctx); err != nil {
			return err
		}
	}
	return n.Backend.GetConfig(ctx, p, src, f, w)
}

// Lock refreshes running before the candidate is locked for an edit.
func (n *ncBackend) Lock(ctx context.Context, p netconf.Peer, target netconf.Datastore) error {
	if err := n.sync(ctx); err != nil {
		return err
	}
	return n.Backend.Lock(ctx, p, target)
}

// EditConfig refreshes running first (a clean candidate follows it).
func (n *ncBackend) EditConfig(ctx context.Context, p netconf.Peer, req *netconf.EditRequest) error {
	if err := n.sync(ctx); err != nil {
		return err
	}
	return n.Backend.EditConfig(ctx, p, req)
}
