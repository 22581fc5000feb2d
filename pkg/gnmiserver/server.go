// Package gnmiserver serves a ygot-modelled tree (the sami-flow-state model by
// default) over gNMI, independently of where the tree lives: a Source gives
// the current tree, commits new configurations and streams deltas.
//
//   - Capabilities reports the supported models, the JSON_IETF and JSON
//     encodings and the gNMI version of the proto package.
//   - Get resolves prefix+path with ytypes.GetNode on Source.Current (list
//     paths without keys or with "*" keys match every entry), filters by data
//     type (ALL, CONFIG, STATE) with the YANG schema, and returns one update
//     per matched node, encoded as RFC 7951 JSON (JSON_IETF, with module
//     names) or JSON (without). Leaves are returned as the JSON value of the
//     leaf. Other encodings are Unimplemented; unknown schema paths are
//     InvalidArgument; paths without data are NotFound.
//   - Set applies deletes, replaces and updates to a deep copy of the current
//     tree with ytypes.UnmarshalSetRequest, validates the copy and hands it to
//     Source.Replace: all or nothing. Schema or value errors are
//     InvalidArgument, writes to config false nodes are InvalidArgument, a
//     failing Replace is Aborted (or the gRPC status it returned). Sets are
//     serialised. The server does not feed its own Sets into the subscription
//     cache: the Source reports the resulting deltas through Updates.
//   - Subscribe is github.com/openconfig/gnmi/subscribe over a
//     github.com/openconfig/gnmi/cache holding one target. The cache is
//     seeded from the source (SnapshotSource.Snapshot when the source has
//     it, else Source.Current through ygot.TogNMINotifications) when Serve
//     starts, then fed from Source.Updates; with WithLazyFeed only while
//     someone subscribes (the first Subscribe seeds it and waits for that).
//     Deletes reach subscribers as per-leaf delete notifications. ONCE, POLL and STREAM are supported. Limits of that
//     package: STREAM subscriptions are all on-change (SAMPLE's
//     sample_interval, heartbeat_interval and suppress_redundant are ignored;
//     a SAMPLE subscription receives the initial data and then every change),
//     updates_only is honoured, a leaf changed several times before a slow
//     client reads it is coalesced (duplicates count). The prefix target may
//     be left empty (the server fills in its own); origin "sami-flow-state"
//     and module-prefixed element names are accepted.
package gnmiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openconfig/gnmi/cache"
	"github.com/openconfig/gnmi/ctree"
	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/gnmi/subscribe"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/sami-netops/sami/generated/flowstate"
)

// Source is where the served tree lives.
type Source interface {
	// Current returns the whole tree (config and state). The server only
	// reads it.
	Current(ctx context.Context) (ygot.GoStruct, error)
	// Replace commits a new configuration, the result of a Set. An error
	// rejects the Set.
	Replace(ctx context.Context, root ygot.GoStruct) error
	// Updates calls fn with deltas (updates and deletes, paths relative to
	// the root, no target) until ctx ends. It should start listening before
	// it returns control to the scheduler for long, because the server
	// seeds the subscription cache from Current after starting Updates.
	// The server does not modify the notifications but keeps their updates
	// and paths: the source must not change them after passing them to fn.
	Updates(ctx context.Context, fn func([]*gpb.Notification) error) error
}

// Option configures a Server.
type Option func(*Server)

// WithTarget sets the gNMI target name (default "sami").
func WithTarget(name string) Option { return func(s *Server) { s.target = name } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithModels sets the models Capabilities reports. It is required unless the
// schema is the flowstate one.
func WithModels(m []*gpb.ModelData) Option { return func(s *Server) { s.models = m } }

// WithLazyFeed feeds the subscription cache only while someone subscribes,
// and for linger after the last one left (so one that comes back soon finds
// it seeded; 0 stops at once): a source whose table changes in bulk then
// pays nothing for gNMI while nobody watches, but the first subscriber
// waits for the seeding of the whole table. By default the cache is fed
// from Serve on.
func WithLazyFeed(linger time.Duration) Option {
	return func(s *Server) { s.lazy, s.linger = true, max(linger, 0) }
}

// DefaultTarget is the target name when WithTarget is not given.
const DefaultTarget = "sami"

// Server is a gNMI server over a Source.
type Server struct {
	gpb.UnimplementedGNMIServer

	src    Source
	schema *ytypes.Schema
	target string
	log    *slog.Logger
	models []*gpb.ModelData

	cache *cache.Cache
	sub   *subscribe.Server

	setMu sync.Mutex // serialises Set

	tsMu   sync.Mutex
	lastTS int64

	mu      sync.Mutex
	grpc    *grpc.Server
	serving bool
	closed  bool
	cancel  context.CancelFunc

	// The feed (feed.go), under mu.
	lazy    bool
	linger  time.Duration
	feedCtx context.Context // Serve's; nil before Serve
	run     *feedRun        // the running feed, nil when stopped
	last    *feedRun        // the most recent run (a new one waits for it to end)
	users   int             // Subscribe calls using the feed
	idle    *time.Timer     // stops the run after the linger
	subs    atomic.Int64    // subscribers registered: the cache's changes go to them only when there are some
}

// New builds a server over src. schema is the ygot schema of the tree
// (flowstate.Schema() for sami).
func New(src Source, schema *ytypes.Schema, opts ...Option) (*Server, error) {
	if src == nil {
		return nil, errors.New("gnmiserver: nil source")
	}
	if schema == nil || !schema.IsValid() || schema.RootSchema() == nil {
		return nil, errors.New("gnmiserver: invalid schema")
	}
	s := &Server{src: src, schema: schema, target: DefaultTarget}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.target == "" {
		return nil, errors.New("gnmiserver: empty target")
	}
	if s.models == nil {
		if _, ok := schema.Root.(*flowstate.Device); !ok {
			return nil, errors.New("gnmiserver: WithModels is required for a schema other than flowstate")
		}
		s.models = flowstateModels()
	}
	s.cache = cache.New([]string{s.target})
	sub, err := subscribe.NewServer(s.cache)
	if err != nil {
		return nil, err
	}
	s.sub = sub
	// Without subscribers the changes stay in the cache: passing each leaf
	// to the subscription matcher costs more than storing it.
	s.cache.SetClient(func(l *ctree.Leaf) {
		if s.subs.Load() > 0 {
			sub.Update(l)
		}
	})
	return s, nil
}

// flowstateModels is flowstate.ΓModelData with the revisions of
// flowstate.YANGModules as versions.
func flowstateModels() []*gpb.ModelData {
	rev := map[string]string{}
	for _, m := range flowstate.YANGModules {
		rev[m.Name] = m.Revision
	}
	out := make([]*gpb.ModelData, 0, len(flowstate.ΓModelData))
	for _, m := range flowstate.ΓModelData {
		c := proto.Clone(m).(*gpb.ModelData)
		if c.Version == "" {
			c.Version = rev[c.Name]
		}
		out = append(out, c)
	}
	return out
}

// Target returns the gNMI target name.
func (s *Server) Target() string { return s.target }

// Serve seeds the subscription cache from the source (unless
// WithLazyFeed), then serves gRPC on ln with creds until ctx ends, Close is
// called or ln fails. creds is required: pass insecure.NewCredentials()
// explicitly for plaintext. Serve may be called once.
func (s *Server) Serve(ctx context.Context, ln net.Listener, creds credentials.TransportCredentials) error {
	if creds == nil {
		return errors.New("gnmiserver: transport credentials are required (insecure.NewCredentials() for plaintext)")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("gnmiserver: closed")
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("gnmiserver: already serving")
	}
	s.serving = true
	fctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.feedCtx = fctx
	gs := grpc.NewServer(grpc.Creds(creds))
	gpb.RegisterGNMIServer(gs, s)
	s.grpc = gs
	s.mu.Unlock()
	defer cancel()
	defer s.waitFeed()
	if !s.lazy {
		// Serve's own use of the feed, for as long as it serves.
		if err := s.useFeed(fctx); err != nil {
			gs.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("gnmiserver: initial sync: %w", err)
		}
	}
	if fctx.Err() != nil {
		gs.Stop()
		return ctx.Err()
	}
	s.log.Info("gnmi server listening", "addr", ln.Addr().String(), "target", s.target)

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-fctx.Done():
			gs.Stop()
		case <-stop:
		}
	}()
	err := gs.Serve(ln)
	cancel()
	if ctx.Err() != nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Close stops the server: open RPCs end, Serve returns.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	gs, cancel := s.grpc, s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if gs != nil {
		gs.Stop()
	}
}

// TLSConfig loads a server certificate and key. When clientCAFile is not
// empty, clients must present a certificate signed by one of its CAs.
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("gnmiserver: server certificate: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.NoClientCert,
	}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("gnmiserver: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("gnmiserver: client CA %s: no certificates", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Capabilities implements gpb.GNMIServer.
func (s *Server) Capabilities(ctx context.Context, _ *gpb.CapabilityRequest) (*gpb.CapabilityResponse, error) {
	models := make([]*gpb.ModelData, len(s.models))
	for i, m := range s.models {
		models[i] = proto.Clone(m).(*gpb.ModelData)
	}
	return &gpb.CapabilityResponse{
		SupportedModels:    models,
		SupportedEncodings: []gpb.Encoding{gpb.Encoding_JSON_IETF, gpb.Encoding_JSON},
		GNMIVersion:        gnmiVersion(),
	}, nil
}

// gnmiVersion is the gnmi_service option of the gnmi.proto compiled in.
func gnmiVersion() string {
	opts := gpb.File_github_com_openconfig_gnmi_proto_gnmi_gnmi_proto.Options()
	if v, ok := proto.GetExtension(opts, gpb.E_GnmiService).(string); ok && v != "" {
		return v
	}
	return "0.10.0"
}

// timestamp returns a strictly increasing nanosecond timestamp, at least ts.
func (s *Server) timestamp(ts int64) int64 {
	s.tsMu.Lock()
	defer s.tsMu.Unlock()
	if ts <= 0 {
		ts = time.Now().UnixNano()
	}
	if ts <= s.lastTS {
		ts = s.lastTS + 1
	}
	s.lastTS = ts
	return ts
}
