// Package serve is `sami serve`: the orchestrator daemon. It serves the
// trigger API of package api (VM managers POST "this endpoint moved",
// follow the migration by polling or server-sent events; Prometheus
// scrapes /metrics; agents announce themselves), finishes what the journal
// holds as unfinished before it turns ready, and on SIGTERM lets running
// migrations finish for a grace period.
package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/spf13/cobra"
)

// Config keys (flags, the config file's serve: section, SAMI_SERVE_*).
const (
	KeyListen        = "serve.listen"
	KeyTLSCert       = "serve.tls-cert"
	KeyTLSKey        = "serve.tls-key"
	KeyClientCA      = "serve.client-ca"
	KeyClientCN      = "serve.client-cn"
	KeyTokens        = "serve.tokens"
	KeyGrace         = "serve.grace"
	KeyAnnounceToken = "serve.announce-token-file"
	KeyInsecure      = "serve.insecure"
)

// DefaultListen is loopback: nothing but this host reaches an
// unauthenticated daemon.
const DefaultListen = "127.0.0.1:8830"

// New returns the serve command.
func New(a *app.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the orchestrator daemon: the HTTP trigger API for VM managers, /metrics, agent announcements",
		Long: `serve runs the orchestrator daemon over the inventory and the journal.

VM managers and automation trigger migrations with POST /v1/migrations and follow
them with GET /v1/migrations/{id} or its server-sent events; triggers for devices a
running migration holds wait in a queue (or get 409 with ?wait=false). Before it
turns ready (/readyz) the daemon finishes or rolls back what the journal holds as
unfinished. On SIGINT/SIGTERM it stops taking triggers and lets running migrations
finish for --grace; those still running then stay in the journal and the next start
resumes them (exit code 6).

Authentication: bearer tokens (--tokens, lines name:token[:read|trigger]) and/or
client certificates (--client-ca; the CN is the requester, --client-cn restricts
them). A non-loopback --listen needs TLS and one of them, unless --insecure.
See docs/api.md and docs/openapi.yaml.`,
		Example: `  sami serve                                     # 127.0.0.1:8830, no authentication
  sami serve --listen :8830 --tls-cert srv.pem --tls-key srv.key --tokens /etc/sami/tokens
  sami serve --listen :8830 --tls-cert srv.pem --tls-key srv.key --client-ca clients.pem --client-cn vm-manager
  sami serve --announce-token-file /etc/sami/announce.token  # agents announce themselves`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return app.Usage(fmt.Errorf("serve takes flags only (got %q)", args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), a) },
	}
	f := cmd.Flags()
	f.String("listen", DefaultListen, "address to listen on (host:port)")
	f.String("tls-cert", "", "server certificate (PEM); with --tls-key, serve HTTPS")
	f.String("tls-key", "", "the server certificate's private key (PEM)")
	f.String("client-ca", "", "CA certificates (PEM) whose client certificates are accepted (mTLS; the CN is the requester)")
	f.StringSlice("client-cn", nil, "accept only client certificates with these CNs (repeatable; default: any the CA signed)")
	f.String("tokens", "", "bearer tokens file: name:token[:scopes] per line (scopes read, trigger; default both)")
	f.Duration("grace", 30*time.Second, "on shutdown, how long running migrations may take to finish")
	f.String("announce-token-file", "", "file holding the token agents announce themselves with (mounts POST /v1/announce)")
	f.Bool("insecure", false, "allow a non-loopback --listen without TLS and authentication")
	for _, k := range []string{KeyListen, KeyTLSCert, KeyTLSKey, KeyClientCA, KeyClientCN, KeyTokens, KeyGrace, KeyAnnounceToken, KeyInsecure} {
		if err := a.V.BindPFlag(k, f.Lookup(strings.TrimPrefix(k, "serve."))); err != nil {
			panic(err)
		}
	}
	return cmd
}

// settings are the checked flags.
type settings struct {
	listen    string
	tls       *tls.Config
	tokens    *api.Tokens
	clientCNs []string
	mtls      bool
	grace     time.Duration
	announce  string
}

func load(a *app.App) (*settings, error) {
	v := a.V
	st := &settings{listen: v.GetString(KeyListen), grace: v.GetDuration(KeyGrace), clientCNs: v.GetStringSlice(KeyClientCN)}
	if st.grace < 0 {
		return nil, app.Usage(fmt.Errorf("--grace %v: must not be negative", st.grace))
	}
	host, _, err := net.SplitHostPort(st.listen)
	if err != nil {
		return nil, app.Usage(fmt.Errorf("--listen %q: want host:port (e.g. 127.0.0.1:8830 or :8830): %w", st.listen, err))
	}
	cert, key, ca := v.GetString(KeyTLSCert), v.GetString(KeyTLSKey), v.GetString(KeyClientCA)
	if (cert == "") != (key == "") {
		return nil, app.Usage(errors.New("--tls-cert and --tls-key go together"))
	}
	if ca != "" && cert == "" {
		return nil, app.Usage(errors.New("--client-ca needs TLS: give --tls-cert and --tls-key"))
	}
	if len(st.clientCNs) > 0 && ca == "" {
		return nil, app.Usage(errors.New("--client-cn needs --client-ca"))
	}
	if p := v.GetString(KeyTokens); p != "" {
		if st.tokens, err = api.LoadTokens(p); err != nil {
			return nil, app.Usage(err)
		}
	}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, app.Usage(fmt.Errorf("--tls-cert/--tls-key: %w", err))
		}
		st.tls = &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, app.Usage(fmt.Errorf("--client-ca: %w", err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, app.Usage(fmt.Errorf("--client-ca %s: no PEM certificate in it", ca))
		}
		st.tls.ClientCAs, st.mtls = pool, true
		// With tokens too, a client may come with either.
		st.tls.ClientAuth = tls.RequireAndVerifyClientCert
		if st.tokens != nil {
			st.tls.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	if p := v.GetString(KeyAnnounceToken); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, app.Usage(fmt.Errorf("--announce-token-file: %w", err))
		}
		st.announce = strings.TrimSpace(string(b))
		if len(st.announce) < api.MinTokenLen {
			return nil, app.Usage(fmt.Errorf("--announce-token-file %s: the token has %d characters, use at least %d", p, len(st.announce), api.MinTokenLen))
		}
	}
	if !loopback(host) && !v.GetBool(KeyInsecure) {
		var missing []string
		if st.tls == nil {
			missing = append(missing, "TLS (--tls-cert, --tls-key)")
		}
		if st.tokens == nil && !st.mtls {
			missing = append(missing, "authentication (--tokens or --client-ca)")
		}
		if len(missing) > 0 {
			return nil, app.Usage(fmt.Errorf("--listen %s is reachable from other hosts but the API has no %s: anyone could move state (or read the tokens off the wire); add them, listen on 127.0.0.1, or pass --insecure",
				st.listen, strings.Join(missing, " and no ")))
		}
	}
	return st, nil
}

// loopback: the host part names this machine only. An empty host is every
// interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func run(ctx context.Context, a *app.App) error {
	st, err := load(a)
	if err != nil {
		return err
	}
	log := a.Logger()
	orchOpts := []orchestrator.Option{orchestrator.WithEngineOptions(migrate.WithHook(api.ShutdownHook(nil)))}
	apiOpts := []api.Option{api.WithLogger(log)}
	if st.announce != "" {
		dir := topology.NewDirectory(topology.WithLogger(log))
		orchOpts = append(orchOpts, orchestrator.WithDirectory(dir))
		apiOpts = append(apiOpts, api.WithAnnounce(dir, st.announce))
	}
	if st.tokens != nil {
		apiOpts = append(apiOpts, api.WithTokens(st.tokens))
	}
	if st.mtls {
		apiOpts = append(apiOpts, api.WithClientCerts(st.clientCNs...))
	}
	o, err := a.Orchestrator(orchOpts...)
	if err != nil {
		return err
	}
	srv, err := api.New(o, apiOpts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", st.listen)
	if err != nil {
		return app.Usage(fmt.Errorf("--listen: %w", err))
	}
	hs := &http.Server{Handler: srv, TLSConfig: st.tls, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	scheme := "http"
	if st.tls != nil {
		scheme = "https"
		ln = tls.NewListener(ln, st.tls)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(a.Out, "sami serve: listening on %s://%s (journal %s; auth: %s)\n", scheme, ln.Addr(), o.Journal().Path(), authSummary(st))

	// Recover before turning ready; /healthz answers meanwhile.
	if err := srv.Recover(ctx); err != nil {
		fmt.Fprintf(a.Err, "sami serve: recovery left migrations unfinished (resume them with sami journal resume): %v\n", err)
	}
	if srv.Ready() {
		fmt.Fprintf(a.Out, "sami serve: ready\n")
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	fmt.Fprintf(a.Out, "sami serve: shutting down (grace %v)\n", st.grace)
	gctx, cancel := context.WithTimeout(context.Background(), st.grace)
	defer cancel()
	shutErr := srv.Shutdown(gctx)
	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	hs.Shutdown(hctx)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", serveErr)
	}
	if errors.Is(shutErr, api.ErrInterrupted) {
		return &app.ExitError{Code: app.ExitUnfinished, Err: shutErr}
	}
	if shutErr != nil {
		return shutErr
	}
	fmt.Fprintf(a.Out, "sami serve: stopped\n")
	return nil
}

func authSummary(st *settings) string {
	var parts []string
	if st.tokens != nil {
		parts = append(parts, fmt.Sprintf("%d bearer token(s)", st.tokens.Len()))
	}
	if st.mtls {
		parts = append(parts, "client certificates")
	}
	if st.announce != "" {
		parts = append(parts, "agent announcements")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
