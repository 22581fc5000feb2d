package mapdrivertest

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ServeSSH serves the fake as NETCONF over SSH on 127.0.0.1 (an ephemeral
// port) until the test ends, for clients in another process (a CLI under
// test). It lets user in with any of keys and writes a known_hosts file
// naming its host key into dir; it returns the address and that file.
func (d *Device) ServeSSH(t testing.TB, dir, user string, keys ...ssh.PublicKey) (addr, knownHosts string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		for _, ok := range keys {
			if c.User() == user && string(ok.Marshal()) == string(k.Marshal()) {
				return &ssh.Permissions{}, nil
			}
		}
		return nil, errors.New("fake device: key not accepted")
	}}
	cfg.AddHostKey(hk)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	knownHosts = filepath.Join(dir, "known_hosts-"+ln.Addr().(*net.TCPAddr).AddrPort().String())
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, hk.PublicKey())
	if err := os.WriteFile(knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { d.serveSSH(c, cfg) })
		}
	})
	return addr, knownHosts
}

func (d *Device) serveSSH(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			for r := range creqs {
				ok := r.Type == "subsystem" && len(r.Payload) > 4 && string(r.Payload[4:]) == "netconf"
				r.Reply(ok, nil)
				if ok {
					go ssh.DiscardRequests(creqs)
					d.serve(ch)
					return
				}
			}
			ch.Close()
		}()
	}
}
