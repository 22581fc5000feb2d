package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/topology"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"
)

// announceConfig makes the agent announce itself to an orchestrator's
// directory (pkg/topology) instead of being configured there.
type announceConfig struct {
	URL         string        `mapstructure:"url"`
	TokenFile   string        `mapstructure:"token-file"`
	Name        string        `mapstructure:"name"`
	Address     string        `mapstructure:"address"`
	GNMIAddress string        `mapstructure:"gnmi-address"`
	Location    string        `mapstructure:"location"`
	Domain      string        `mapstructure:"domain"`
	Interval    time.Duration `mapstructure:"interval"`

	token string // read by check; never logged
}

// announceFlags adds the --announce* flags and returns their config keys.
func announceFlags(f *pflag.FlagSet) map[string]string {
	f.String("announce", "", "announce this agent to the directory at this URL (announce.url)")
	f.String("announce-token-file", "", "file holding the directory's bearer token")
	f.String("announce-name", "", "the device name to announce (default: the host name)")
	f.String("announce-address", "", "NETCONF host:port to announce (default: the listen address; required when it is 0.0.0.0 or [::])")
	f.String("announce-gnmi-address", "", "gNMI host:port to announce (default: the gNMI listen address)")
	f.String("announce-location", "", "the location (attachment point) this firewall serves")
	f.String("announce-domain", "", "the administrative domain of this firewall")
	f.Duration("announce-interval", 10*time.Second, "re-announce every interval (the TTL is three intervals)")
	return map[string]string{
		"announce": "announce.url", "announce-token-file": "announce.token-file", "announce-name": "announce.name",
		"announce-address": "announce.address", "announce-gnmi-address": "announce.gnmi-address",
		"announce-location": "announce.location", "announce-domain": "announce.domain",
		"announce-interval": "announce.interval",
	}
}

// check validates the announce settings before anything listens.
func (a *announceConfig) check(c *config) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: announce.%s: %s", errConfig, field, fmt.Sprintf(format, args...))
	}
	if a.URL == "" {
		for field, v := range map[string]string{"token-file": a.TokenFile, "location": a.Location, "domain": a.Domain, "name": a.Name, "address": a.Address} {
			if v != "" {
				return bad(field, "given without announce.url (--announce)")
			}
		}
		return nil
	}
	if !strings.HasPrefix(a.URL, "http://") && !strings.HasPrefix(a.URL, "https://") {
		return bad("url", "%q is not an http(s) URL", a.URL)
	}
	if a.TokenFile == "" {
		return bad("token-file", "the directory needs a bearer token (--announce-token-file)")
	}
	tok, err := os.ReadFile(a.TokenFile)
	if err != nil {
		return bad("token-file", "%v", err)
	}
	if a.token = strings.TrimSpace(string(tok)); a.token == "" {
		return bad("token-file", "%s is empty", a.TokenFile)
	}
	if a.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return bad("name", "no host name (%v); give --announce-name", err)
		}
		a.Name = h
	}
	if err := topology.ValidName(a.Name); err != nil {
		return bad("name", "%v", err)
	}
	for field, v := range map[string]string{"location": a.Location, "domain": a.Domain} {
		if v != "" {
			if err := topology.ValidName(v); err != nil {
				return bad(field, "%v", err)
			}
		}
	}
	if a.Interval < 100*time.Millisecond {
		return bad("interval", "%v is too short (at least 100ms)", a.Interval)
	}
	if a.Address == "" {
		host, _, err := net.SplitHostPort(c.NETCONF.Listen)
		if err == nil && unspecified(host) {
			return bad("address", "netconf.listen %s listens on every address: say which one to announce (--announce-address host:port)", c.NETCONF.Listen)
		}
	}
	return nil
}

func unspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// announcement is what this agent says about itself: its NETCONF and gNMI
// addresses (as bound, unless overridden) and its host key.
func (a *announceConfig) announcement(netconfAddr, gnmiAddr string, hostKey ssh.PublicKey) (topology.Announcement, error) {
	addr := a.Address
	if addr == "" {
		addr = netconfAddr
	}
	gaddr := a.GNMIAddress
	if gaddr == "" && gnmiAddr != "" {
		gaddr = gnmiAddr
		// A gNMI server on every address is announced at the NETCONF host.
		if host, port, err := net.SplitHostPort(gnmiAddr); err == nil && unspecified(host) {
			nh, _, _ := net.SplitHostPort(addr)
			gaddr = net.JoinHostPort(nh, port)
		}
	}
	ann := topology.Announcement{
		Name: a.Name, Address: addr, GNMIAddress: gaddr, Driver: "sami",
		Domain: a.Domain, Location: a.Location,
		HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey))),
		TTL:     3 * a.Interval,
	}
	if err := ann.Validate(); err != nil {
		return ann, fmt.Errorf("%w: announce: %v", errConfig, err)
	}
	return ann, nil
}

// startAnnounce announces in the background until ctx ends; failures are
// logged and retried, never fatal: the firewall serves whether or not the
// directory is up.
func startAnnounce(ctx context.Context, a announceConfig, netconfAddr, gnmiAddr string, hostKey ssh.PublicKey, log *slog.Logger) error {
	if a.URL == "" {
		return nil
	}
	ann, err := a.announcement(netconfAddr, gnmiAddr, hostKey)
	if err != nil {
		return err
	}
	log.Info("announcing", "url", a.URL, "name", ann.Name, "address", ann.Address, "gnmi", ann.GNMIAddress,
		"location", ann.Location, "domain", ann.Domain, "interval", a.Interval)
	go topology.Announce(ctx, a.URL, a.token, ann, a.Interval, topology.WithAnnounceLogger(log))
	return nil
}
