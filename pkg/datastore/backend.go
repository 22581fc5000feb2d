package datastore

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// Backend serves a Store over NETCONF: it implements netconf.Backend.
type Backend struct {
	store *Store
	codec *yangxml.Codec
	caps  []string
}

var _ netconf.Backend = (*Backend)(nil)

// NewBackend serves store; moduleCaps are the module capability URIs to
// announce (namespace?module=NAME&revision=DATE).
func NewBackend(store *Store, codec *yangxml.Codec, moduleCaps ...string) *Backend {
	caps := []string{
		netconf.CapCandidate, netconf.CapConfirmedCommit, netconf.CapConfirmedCommit1,
		netconf.CapValidate10, netconf.CapValidate11, netconf.CapRollbackOnError,
	}
	if store.writableRunning {
		caps = append(caps, netconf.CapWritableRunning)
	}
	return &Backend{store: store, codec: codec, caps: append(caps, moduleCaps...)}
}

// Capabilities implements netconf.Backend.
func (b *Backend) Capabilities() []string { return b.caps }

func sess(p netconf.Peer) Session { return Session(p.SessionID) }

// wire turns the codec's data paths in rpc-errors into XPaths whose
// prefixes are declared (RFC 6241 4.3 error-path).
func (b *Backend) wire(err error) error {
	var es netconf.RPCErrors
	var e *netconf.RPCError
	switch {
	case errors.As(err, &es):
		for _, x := range es {
			b.fixPath(x)
		}
	case errors.As(err, &e):
		b.fixPath(e)
	}
	return err
}

func (b *Backend) fixPath(e *netconf.RPCError) {
	if e.Path != "" && e.PathNS == nil {
		e.Path, e.PathNS = b.codec.XPath(e.Path)
	}
}

func (b *Backend) encode(w io.Writer, ds Datastore, configOnly bool, f *netconf.FilterSpec) error {
	tree := b.store.Snapshot(ds)
	if tree == nil {
		return rpcError(typeProtocol, "invalid-value", "", "no datastore %q", ds)
	}
	return WriteTree(w, b.codec, tree, configOnly, f)
}

// WriteTree writes a <get>/<get-config> reply's <data> content: tree,
// without config false nodes when configOnly, narrowed by the request's
// filter (subtree only; nil: everything). Errors are rpc-errors.
func WriteTree(w io.Writer, codec *yangxml.Codec, tree ygot.GoStruct, configOnly bool, f *netconf.FilterSpec) error {
	var opts []yangxml.EncodeOption
	if configOnly {
		opts = append(opts, yangxml.ConfigOnly())
	}
	if f != nil {
		if f.Type != "subtree" {
			return rpcError(typeProtocol, "operation-not-supported", "", "filter type %q is not supported (subtree only)", f.Type)
		}
		flt, err := codec.ParseSubtreeFilter(f.Content, nil)
		if err != nil {
			return withInfo(rpcError(typeProtocol, "invalid-value", "", "filter: %v", err), "bad-element", "filter")
		}
		opts = append(opts, yangxml.WithFilter(flt))
	}
	return codec.Encode(w, tree, opts...)
}

// Get implements netconf.Backend: running, config and state.
func (b *Backend) Get(_ context.Context, _ netconf.Peer, f *netconf.FilterSpec, w io.Writer) error {
	return b.encode(w, Running, false, f)
}

// GetConfig implements netconf.Backend.
func (b *Backend) GetConfig(_ context.Context, _ netconf.Peer, src netconf.Datastore, f *netconf.FilterSpec, w io.Writer) error {
	return b.encode(w, src, true, f)
}

// EditConfig implements netconf.Backend.
func (b *Backend) EditConfig(ctx context.Context, p netconf.Peer, req *netconf.EditRequest) error {
	cfg, err := netconf.CaptureElement(req.Config, req.NS)
	if err != nil {
		return rpcError(typeRPC, "malformed-message", "", "<config>: %v", err)
	}
	return b.wire(b.store.EditConfig(ctx, sess(p), req.Target, bytes.NewReader(cfg), EditOptions{
		DefaultOperation: req.DefaultOperation, TestOption: req.TestOption, ErrorOption: req.ErrorOption,
	}))
}

// CopyConfig implements netconf.Backend.
func (b *Backend) CopyConfig(ctx context.Context, p netconf.Peer, target, source netconf.Datastore) error {
	return b.wire(b.store.CopyConfig(ctx, sess(p), target, Source{Datastore: source}))
}

// DeleteConfig implements netconf.Backend.
func (b *Backend) DeleteConfig(ctx context.Context, p netconf.Peer, target netconf.Datastore) error {
	return b.wire(b.store.DeleteConfig(ctx, sess(p), target))
}

// Lock implements netconf.Backend.
func (b *Backend) Lock(_ context.Context, p netconf.Peer, target netconf.Datastore) error {
	return b.wire(b.store.Lock(sess(p), target))
}

// Unlock implements netconf.Backend.
func (b *Backend) Unlock(_ context.Context, p netconf.Peer, target netconf.Datastore) error {
	return b.wire(b.store.Unlock(sess(p), target))
}

// DiscardChanges implements netconf.Backend.
func (b *Backend) DiscardChanges(_ context.Context, p netconf.Peer) error {
	return b.wire(b.store.DiscardChanges(sess(p)))
}

// Validate implements netconf.Backend.
func (b *Backend) Validate(_ context.Context, _ netconf.Peer, source netconf.Datastore) error {
	return b.wire(b.store.Validate(source))
}

// Commit implements netconf.Backend.
func (b *Backend) Commit(ctx context.Context, p netconf.Peer, req netconf.CommitRequest) error {
	return b.wire(b.store.Commit(ctx, sess(p), CommitOptions{Confirmed: req.Confirmed, Timeout: req.Timeout, Persist: req.Persist, PersistID: req.PersistID}))
}

// CancelCommit implements netconf.Backend.
func (b *Backend) CancelCommit(ctx context.Context, p netconf.Peer, persistID string) error {
	return b.wire(b.store.CancelCommit(ctx, sess(p), persistID))
}

// SessionClosed implements netconf.Backend.
func (b *Backend) SessionClosed(ctx context.Context, p netconf.Peer) {
	b.store.SessionClosed(ctx, sess(p))
}
