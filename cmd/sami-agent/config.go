package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/spf13/viper"
	"golang.org/x/crypto/ssh"
)

// config is sami-agent's configuration: a YAML file, overridden by flags and
// SAMI_AGENT_* environment variables (e.g. SAMI_AGENT_NETCONF_LISTEN).
type config struct {
	LogLevel string         `mapstructure:"log-level"`
	NETCONF  netconfConfig  `mapstructure:"netconf"`
	GNMI     gnmiConfig     `mapstructure:"gnmi"`
	Backend  backendConfig  `mapstructure:"backend"`
	Announce announceConfig `mapstructure:"announce"`
}

// gnmiConfig: gNMI over TLS; client certificates are required when a
// client CA is given; plaintext only with insecure: true.
type gnmiConfig struct {
	Listen   string `mapstructure:"listen"`
	Cert     string `mapstructure:"cert"`
	Key      string `mapstructure:"key"`
	ClientCA string `mapstructure:"client-ca"`
	Insecure bool   `mapstructure:"insecure"`
	Target   string `mapstructure:"target"`
}

type netconfConfig struct {
	Listen          string        `mapstructure:"listen"`
	HostKey         string        `mapstructure:"host-key"`
	GenerateHostKey bool          `mapstructure:"generate-host-key"`
	MaxSessions     int           `mapstructure:"max-sessions"`
	IdleTimeout     time.Duration `mapstructure:"idle-timeout"`
	Users           []userConfig  `mapstructure:"users"`
}

type userConfig struct {
	Name           string `mapstructure:"name"`
	Permission     string `mapstructure:"permission"`
	AuthorizedKeys string `mapstructure:"authorized-keys"`
	PasswordFile   string `mapstructure:"password-file"`
}

type backendConfig struct {
	Type        string `mapstructure:"type"`
	NetNS       string `mapstructure:"netns"`        // conntrack: a network namespace path, e.g. /run/netns/fw
	Personality string `mapstructure:"personality"`  // sim
	MaxSessions uint64 `mapstructure:"max-sessions"` // conntrack: cap below nf_conntrack_max (0: the kernel's)
	Liberal     bool   `mapstructure:"liberal"`      // conntrack: force liberal TCP tracking on written entries
}

// errConfig marks configuration errors (exit code 2).
var errConfig = errors.New("configuration")

func loadConfig(v *viper.Viper) (*config, error) {
	if f := v.GetString("config"); f != "" {
		v.SetConfigFile(f)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", errConfig, f, err)
		}
	}
	var c config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", errConfig, err)
	}
	return &c, c.check()
}

func (c *config) check() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", errConfig, field, fmt.Sprintf(format, args...))
	}
	if c.NETCONF.Listen == "" {
		return bad("netconf.listen", "an address is required (e.g. 127.0.0.1:830)")
	}
	if c.NETCONF.HostKey == "" {
		return bad("netconf.host-key", "a host key file is required (add --generate-host-key to create one)")
	}
	if len(c.NETCONF.Users) == 0 {
		return bad("netconf.users", "at least one user is required")
	}
	if err := c.Announce.check(c); err != nil {
		return err
	}
	for i, u := range c.NETCONF.Users {
		field := fmt.Sprintf("netconf.users[%d]", i)
		if u.Name == "" {
			return bad(field+".name", "missing")
		}
		if _, err := permission(u.Permission); err != nil {
			return bad(field+".permission", "%v", err)
		}
		if u.AuthorizedKeys == "" && u.PasswordFile == "" {
			return bad(field, "user %q needs authorized-keys or password-file", u.Name)
		}
	}
	if g := c.GNMI; g.Listen != "" {
		switch {
		case g.Insecure && (g.Cert != "" || g.Key != ""):
			return bad("gnmi.insecure", "plaintext and a certificate were both given; choose one")
		case !g.Insecure && (g.Cert == "" || g.Key == ""):
			return bad("gnmi.cert", "gNMI needs a TLS certificate and key (or insecure: true for plaintext)")
		}
	}
	switch c.Backend.Type {
	case "sim":
		if _, ok := simfw.Vendors()[c.Backend.Personality]; !ok {
			return bad("backend.personality", "%q is not one of %s", c.Backend.Personality, strings.Join(personalities(), ", "))
		}
	case "conntrack":
		if c.Backend.NetNS != "" {
			if _, err := os.Stat(c.Backend.NetNS); err != nil {
				return bad("backend.netns", "%v", err)
			}
		}
	default:
		return bad("backend.type", "%q is not a backend (sim, conntrack)", c.Backend.Type)
	}
	return nil
}

func personalities() []string {
	var out []string
	for n := range simfw.Vendors() {
		out = append(out, n)
	}
	sortStrings(out)
	return out
}

func permission(s string) (netconf.Permission, error) {
	switch s {
	case "read-write", "":
		return netconf.ReadWrite, nil
	case "read-only":
		return netconf.ReadOnly, nil
	}
	return 0, fmt.Errorf("%q is not read-write or read-only", s)
}

// hostKey loads the SSH host key, creating it when asked to and missing.
func hostKey(path string, generate bool) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && generate {
		_, k, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		block, gerr := ssh.MarshalPrivateKey(k, "sami-agent host key")
		if gerr != nil {
			return nil, gerr
		}
		pem = encodePEM(block)
		if werr := os.WriteFile(path, pem, 0o600); werr != nil {
			return nil, fmt.Errorf("%w: netconf.host-key: writing %s: %v", errConfig, path, werr)
		}
		pub, _ := ssh.NewSignerFromKey(k)
		os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(pub.PublicKey()), 0o644)
	} else if err != nil {
		return nil, fmt.Errorf("%w: netconf.host-key: %v", errConfig, err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("%w: netconf.host-key: %s: %v", errConfig, path, err)
	}
	return s, nil
}

// users turns the configured users into server options.
func users(c *config) ([]netconf.ServerOption, error) {
	var opts []netconf.ServerOption
	for i, u := range c.NETCONF.Users {
		perm, _ := permission(u.Permission)
		var keys []ssh.PublicKey
		if u.AuthorizedKeys != "" {
			data, err := os.ReadFile(u.AuthorizedKeys)
			if err != nil {
				return nil, fmt.Errorf("%w: netconf.users[%d].authorized-keys: %v", errConfig, i, err)
			}
			for len(data) > 0 {
				k, _, _, rest, err := ssh.ParseAuthorizedKey(data)
				if err != nil {
					break
				}
				keys = append(keys, k)
				data = rest
			}
			if len(keys) == 0 {
				return nil, fmt.Errorf("%w: netconf.users[%d].authorized-keys: no key in %s", errConfig, i, u.AuthorizedKeys)
			}
		}
		var password string
		if u.PasswordFile != "" {
			data, err := os.ReadFile(u.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("%w: netconf.users[%d].password-file: %v", errConfig, i, err)
			}
			password = strings.TrimRight(string(data), "\r\n")
		}
		opts = append(opts, netconf.WithServerUser(u.Name, perm, password, keys...))
	}
	return opts, nil
}
