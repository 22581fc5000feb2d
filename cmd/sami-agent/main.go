// Command sami-agent serves a device's flow state (the Linux conntrack
// table of a network namespace, or a simulated firewall) over NETCONF and
// gNMI, for sami's migration engine and any NETCONF or gNMI client.
//
//	sami-agent --config /etc/sami/agent.yaml
//	sami-agent --netconf-listen 127.0.0.1:8830 --host-key key --generate-host-key \
//	    --user sami --authorized-keys ~/.ssh/id_ed25519.pub --backend sim
//
// Exit codes: 0 stopped by a signal, 1 runtime failure, 2 bad configuration.
package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/conntrack"
	"github.com/sami-netops/sami/pkg/gnmiserver"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	v := viper.New()
	v.SetEnvPrefix("SAMI_AGENT")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()
	cmd := &cobra.Command{
		Use:           "sami-agent",
		Short:         "Serve a device's flow state over NETCONF",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(v)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), c)
		},
	}
	f := cmd.Flags()
	f.String("config", "", "YAML configuration file")
	f.String("netconf-listen", "", "NETCONF over SSH listen address (netconf.listen)")
	f.String("host-key", "", "SSH host key file (netconf.host-key)")
	f.Bool("generate-host-key", false, "create the host key file when it does not exist")
	f.String("user", "", "a user to let in (with --authorized-keys or --password-file)")
	f.String("permission", "read-write", "the user's permission: read-write or read-only")
	f.String("authorized-keys", "", "the user's authorized_keys file")
	f.String("password-file", "", "file holding the user's password")
	f.String("backend", "sim", "backend: sim (simulated firewall) or conntrack (the Linux table)")
	f.String("netns", "", "conntrack: network namespace path (e.g. /run/netns/fw); empty: the agent's own")
	f.String("personality", "sami-sim", "simulated firewall personality")
	f.String("log-level", "info", "debug, info, warn or error")
	f.String("gnmi-listen", "", "gNMI listen address (gnmi.listen; empty: no gNMI)")
	f.String("gnmi-cert", "", "gNMI TLS certificate (gnmi.cert)")
	f.String("gnmi-key", "", "gNMI TLS key (gnmi.key)")
	f.String("gnmi-client-ca", "", "CA of the gNMI client certificates; given: client certificates are required")
	f.Bool("gnmi-insecure", false, "serve gNMI in plaintext (explicit opt-in)")
	for flag, key := range map[string]string{
		"config": "config", "netconf-listen": "netconf.listen", "host-key": "netconf.host-key",
		"generate-host-key": "netconf.generate-host-key", "backend": "backend.type",
		"personality": "backend.personality", "log-level": "log-level",
		"gnmi-listen": "gnmi.listen", "gnmi-cert": "gnmi.cert", "gnmi-key": "gnmi.key",
		"gnmi-client-ca": "gnmi.client-ca", "gnmi-insecure": "gnmi.insecure", "netns": "backend.netns",
	} {
		v.BindPFlag(key, f.Lookup(flag))
	}
	for flag, key := range announceFlags(f) {
		v.BindPFlag(key, f.Lookup(flag))
	}
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if u, _ := f.GetString("user"); u != "" {
			perm, _ := f.GetString("permission")
			keys, _ := f.GetString("authorized-keys")
			pw, _ := f.GetString("password-file")
			v.Set("netconf.users", []map[string]any{{"name": u, "permission": perm, "authorized-keys": keys, "password-file": pw}})
		}
		return nil
	}
	cmd.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sami-agent:", err)
		if errors.Is(err, errConfig) || strings.Contains(err.Error(), "unknown flag") {
			return 2
		}
		return 1
	}
	return 0
}

func serve(ctx context.Context, c *config) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("%w: log-level: %v", errConfig, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	key, err := hostKey(c.NETCONF.HostKey, c.NETCONF.GenerateHostKey)
	if err != nil {
		return err
	}
	userOpts, err := users(c)
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, c.Backend, log)
	if err != nil {
		return err
	}
	defer b.Close()
	a, err := agent.New(ctx, b, agent.WithLogger(log))
	if err != nil {
		return err
	}
	opts := append([]netconf.ServerOption{netconf.WithHostKey(key), netconf.WithServerLogger(log)}, userOpts...)
	if c.NETCONF.MaxSessions > 0 {
		opts = append(opts, netconf.WithMaxSessions(c.NETCONF.MaxSessions))
	}
	if c.NETCONF.IdleTimeout > 0 {
		opts = append(opts, netconf.WithIdleTimeout(c.NETCONF.IdleTimeout))
	}
	srv, err := netconf.NewServer(a.NETCONF(), opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.NETCONF.Listen)
	if err != nil {
		return fmt.Errorf("netconf.listen: %w", err)
	}
	errc := make(chan error, 2)
	gnmiAddr := ""
	if c.GNMI.Listen != "" {
		gs, gln, err := startGNMI(ctx, c.GNMI, a, log, errc)
		if err != nil {
			ln.Close()
			return err
		}
		defer gs.Close()
		gnmiAddr = gln.Addr().String()
	}
	log.Info("sami-agent serving", "netconf", ln.Addr().String(), "gnmi", gnmiAddr, "backend", b.Name(), "netns", c.Backend.NetNS, "version", version)
	go func() { errc <- srv.Serve(ctx, ln) }()
	if err := startAnnounce(ctx, c.Announce, ln.Addr().String(), gnmiAddr, key.PublicKey(), log); err != nil {
		srv.Close()
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("stopping")
		srv.Close()
		return nil
	case err := <-errc:
		srv.Close()
		return err
	}
}

func openBackend(ctx context.Context, c backendConfig, log *slog.Logger) (backend.Backend, error) {
	if c.Type == "sim" {
		return simfw.New(simfw.Vendors()[c.Personality], simfw.WithLogger(log)), nil
	}
	opts := []conntrack.Option{conntrack.WithLogger(log), conntrack.WithLiberal(c.Liberal)}
	if c.NetNS != "" {
		opts = append(opts, conntrack.WithNetNS(c.NetNS))
	}
	if c.MaxSessions > 0 {
		opts = append(opts, conntrack.WithMaxSessions(c.MaxSessions))
	}
	ct, err := conntrack.Open(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("backend: opening the conntrack table: %w", err)
	}
	return ct, nil
}

func startGNMI(ctx context.Context, c gnmiConfig, a *agent.Agent, log *slog.Logger, errc chan<- error) (*gnmiserver.Server, net.Listener, error) {
	schema, err := flowstate.Schema()
	if err != nil {
		return nil, nil, err
	}
	opts := []gnmiserver.Option{gnmiserver.WithLogger(log)}
	if c.Target != "" {
		opts = append(opts, gnmiserver.WithTarget(c.Target))
	}
	gs, err := gnmiserver.New(a.GNMI(), schema, opts...)
	if err != nil {
		return nil, nil, err
	}
	creds := insecure.NewCredentials()
	if !c.Insecure {
		tc, err := gnmiserver.TLSConfig(c.Cert, c.Key, c.ClientCA)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gnmi.cert: %v", errConfig, err)
		}
		creds = credentials.NewTLS(tc)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("gnmi.listen: %w", err)
	}
	go func() { errc <- gs.Serve(ctx, ln, creds) }()
	return gs, ln, nil
}

func encodePEM(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

func sortStrings(s []string) { sort.Strings(s) }
