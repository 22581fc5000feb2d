package netconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DialOption configures Dial.
type DialOption func(*dialOpts) error

type dialOpts struct {
	user       string
	auth       []ssh.AuthMethod
	hostKey    ssh.HostKeyCallback
	knownHosts []string
	insecure   bool
	keepalive  time.Duration
	session    []Option
	agentConn  net.Conn
}

// WithUser sets the SSH user name.
func WithUser(u string) DialOption { return func(o *dialOpts) error { o.user = u; return nil } }

// WithPassword adds password authentication.
func WithPassword(p string) DialOption {
	return func(o *dialOpts) error { o.auth = append(o.auth, ssh.Password(p)); return nil }
}

// WithKeyFile adds public-key authentication with a private key file
// (OpenSSH or PEM format; passphrase may be empty).
func WithKeyFile(path, passphrase string) DialOption {
	return func(o *dialOpts) error {
		pem, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%w: key file: %w", ErrAuth, err)
		}
		var signer ssh.Signer
		if passphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
		} else {
			signer, err = ssh.ParsePrivateKey(pem)
		}
		if err != nil {
			return fmt.Errorf("%w: key file %s: %w", ErrAuth, path, err)
		}
		o.auth = append(o.auth, ssh.PublicKeys(signer))
		return nil
	}
}

// WithSigners adds public-key authentication with in-memory keys.
func WithSigners(signers ...ssh.Signer) DialOption {
	return func(o *dialOpts) error { o.auth = append(o.auth, ssh.PublicKeys(signers...)); return nil }
}

// WithAgent adds authentication through the ssh-agent at $SSH_AUTH_SOCK.
func WithAgent() DialOption {
	return func(o *dialOpts) error {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return fmt.Errorf("%w: SSH_AUTH_SOCK is not set", ErrAuth)
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			return fmt.Errorf("%w: ssh-agent: %w", ErrAuth, err)
		}
		o.agentConn = c
		o.auth = append(o.auth, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
		return nil
	}
}

// WithKnownHosts verifies the server's host key against these known_hosts
// files (default: ~/.ssh/known_hosts).
func WithKnownHosts(files ...string) DialOption {
	return func(o *dialOpts) error { o.knownHosts = append(o.knownHosts, files...); return nil }
}

// WithHostKeyCallback verifies the host key with a custom callback.
func WithHostKeyCallback(cb ssh.HostKeyCallback) DialOption {
	return func(o *dialOpts) error { o.hostKey = cb; return nil }
}

// InsecureIgnoreHostKey disables host key verification. Only for a device
// the operator explicitly opted out for; never a default.
func InsecureIgnoreHostKey() DialOption {
	return func(o *dialOpts) error { o.insecure = true; return nil }
}

// WithKeepalive sends an SSH keepalive every interval; a missed answer
// closes the session (default 30 s; 0 disables).
func WithKeepalive(interval time.Duration) DialOption {
	return func(o *dialOpts) error { o.keepalive = interval; return nil }
}

// WithSessionOptions passes options to the NETCONF session.
func WithSessionOptions(opts ...Option) DialOption {
	return func(o *dialOpts) error { o.session = append(o.session, opts...); return nil }
}

// Dial connects to a NETCONF server over SSH (addr is host:port, usually
// port 830), authenticates, opens the "netconf" subsystem and runs the hello
// exchange. ctx bounds all of it.
func Dial(ctx context.Context, addr string, opts ...DialOption) (*Session, error) {
	o := dialOpts{keepalive: 30 * time.Second}
	for _, f := range opts {
		if err := f(&o); err != nil {
			return nil, err
		}
	}
	if o.agentConn != nil {
		defer o.agentConn.Close()
	}
	cb, err := o.hostKeyCallback()
	if err != nil {
		return nil, err
	}
	if len(o.auth) == 0 {
		return nil, fmt.Errorf("%w: no authentication method given (password, key file or agent)", ErrAuth)
	}
	cfg := &ssh.ClientConfig{User: o.user, Auth: o.auth, HostKeyCallback: cb}
	if deadline, ok := ctx.Deadline(); ok {
		cfg.Timeout = time.Until(deadline)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrTransport, addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		if err == nil {
			cc.Close()
		}
		conn.Close()
		return nil, fmt.Errorf("%w: ssh handshake with %s: %w", ErrTransport, addr, context.Cause(ctx))
	}
	if err != nil {
		conn.Close()
		return nil, classifySSHError(addr, err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	t, err := openSubsystem(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrTransport, addr, err)
	}
	s, err := NewSession(ctx, t, o.session...)
	if err != nil {
		return nil, err
	}
	if o.keepalive > 0 {
		go keepalive(s, client, o.keepalive)
	}
	return s, nil
}

func (o *dialOpts) hostKeyCallback() (ssh.HostKeyCallback, error) {
	switch {
	case o.hostKey != nil:
		return o.hostKey, nil
	case o.insecure:
		return ssh.InsecureIgnoreHostKey(), nil //nolint:gosec // explicit per-device opt-out
	}
	files := o.knownHosts
	if len(files) == 0 {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("%w: no known_hosts given and no home directory: %w", ErrHostKey, err)
		}
		files = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("%w: known_hosts: %w", ErrHostKey, err)
	}
	return cb, nil
}

func classifySSHError(addr string, err error) error {
	var ke *knownhosts.KeyError
	switch {
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return fmt.Errorf("%w: %s presented a host key that does not match known_hosts (possible impersonation): %w", ErrHostKey, addr, err)
	case errors.As(err, &ke):
		return fmt.Errorf("%w: %s is not in known_hosts: %w", ErrHostKey, addr, err)
	case strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("%w: %s: %w", ErrAuth, addr, err)
	}
	return fmt.Errorf("%w: ssh handshake with %s: %w", ErrTransport, addr, err)
}

// sshTransport is the netconf subsystem channel; closing it closes the
// whole SSH connection.
type sshTransport struct {
	io.Reader
	io.WriteCloser
	sess   *ssh.Session
	client *ssh.Client
	once   sync.Once
}

func openSubsystem(client *ssh.Client) (*sshTransport, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	in, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.RequestSubsystem("netconf"); err != nil {
		sess.Close()
		return nil, fmt.Errorf("netconf subsystem refused: %w", err)
	}
	return &sshTransport{Reader: out, WriteCloser: in, sess: sess, client: client}, nil
}

func (t *sshTransport) Close() error {
	var err error
	t.once.Do(func() {
		t.sess.Close()
		err = t.client.Close()
	})
	return err
}

func keepalive(s *Session, client *ssh.Client, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.Done():
			return
		case <-tick.C:
			res := make(chan error, 1)
			go func() {
				_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
				res <- err
			}()
			select {
			case err := <-res:
				if err != nil {
					s.fail(fmt.Errorf("%w: keepalive: %w", ErrTransport, err))
					return
				}
			case <-time.After(every):
				s.fail(fmt.Errorf("%w: keepalive unanswered for %v", ErrTransport, every))
				return
			case <-s.Done():
				return
			}
		}
	}
}
