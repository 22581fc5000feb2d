package gnmiserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/gnmiserver"
)

// fakeSource is a Source over a flowstate.Device. Changes (Replace, add,
// remove) are reported through Updates as ygot.Diff notifications, or as
// given with push. Like a device, it reports changes only while Updates
// runs (the server reads Updates only while someone subscribes).
type fakeSource struct {
	mu         sync.Mutex
	dev        *flowstate.Device
	replaced   []*flowstate.Device
	replaceErr error
	currentErr error
	currents   int                      // Current calls
	listeners  int                      // Updates calls running
	pushc      chan []*gpb.Notification // unbuffered: push waits for Updates
}

func newFakeSource(t *testing.T) *fakeSource {
	t.Helper()
	d := &flowstate.Device{}
	for _, s := range fixtureSessions(t) {
		if err := d.GetOrCreateFlowState().GetOrCreateSessions().AppendSession(s); err != nil {
			t.Fatal(err)
		}
	}
	c := d.GetOrCreateFlowState().GetOrCreateCapabilities()
	c.Vendor = ygot.String("sami")
	c.Model = ygot.String("fake")
	c.ActiveSessions = ygot.Uint64(3)
	if err := d.Validate(); err != nil {
		t.Fatalf("fixture invalid: %v", err)
	}
	return &fakeSource{dev: d, pushc: make(chan []*gpb.Notification)}
}

func (f *fakeSource) Current(ctx context.Context) (ygot.GoStruct, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.currents++
	if f.currentErr != nil {
		return nil, f.currentErr
	}
	return ygot.DeepCopy(f.dev)
}

// listening reports how many Updates calls run.
func (f *fakeSource) listening() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listeners
}

func (f *fakeSource) Replace(ctx context.Context, root ygot.GoStruct) error {
	d, ok := root.(*flowstate.Device)
	if !ok {
		return errors.New("not a Device")
	}
	f.mu.Lock()
	if f.replaceErr != nil {
		f.mu.Unlock()
		return f.replaceErr
	}
	if err := d.Validate(); err != nil {
		f.mu.Unlock()
		return err
	}
	cp, err := ygot.DeepCopy(d)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	n, err := ygot.Diff(f.dev, d)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	f.dev = cp.(*flowstate.Device)
	f.replaced = append(f.replaced, cp.(*flowstate.Device))
	f.mu.Unlock()
	return f.send(ctx, []*gpb.Notification{n})
}

func (f *fakeSource) Updates(ctx context.Context, fn func([]*gpb.Notification) error) error {
	f.mu.Lock()
	f.listeners++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.listeners--
		f.mu.Unlock()
	}()
	for {
		select {
		case ns := <-f.pushc:
			if err := fn(ns); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeSource) send(ctx context.Context, ns []*gpb.Notification) error {
	f.mu.Lock()
	listening := f.listeners > 0
	f.mu.Unlock()
	if !listening {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case f.pushc <- ns:
		return nil
	case <-ctx.Done():
		return errors.New("fake source: nobody reads Updates")
	}
}

// add adds a session and reports the delta.
func (f *fakeSource) add(t *testing.T, s *flow.Session) {
	t.Helper()
	f.mu.Lock()
	old, _ := ygot.DeepCopy(f.dev)
	if err := f.dev.GetOrCreateFlowState().GetOrCreateSessions().AppendSession(s); err != nil {
		f.mu.Unlock()
		t.Fatal(err)
	}
	n, err := ygot.Diff(old, f.dev)
	f.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.send(context.Background(), []*gpb.Notification{n}); err != nil {
		t.Fatal(err)
	}
}

// remove deletes a session and reports it as one delete of the list entry.
func (f *fakeSource) remove(t *testing.T, id string) {
	t.Helper()
	f.mu.Lock()
	f.dev.GetFlowState().GetSessions().DeleteSession(id)
	f.mu.Unlock()
	n := &gpb.Notification{Timestamp: time.Now().UnixNano(), Delete: []*gpb.Path{sessionPath(id)}}
	if err := f.send(context.Background(), []*gpb.Notification{n}); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeSource) snapshot() (*flowstate.Device, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp, _ := ygot.DeepCopy(f.dev)
	return cp.(*flowstate.Device), len(f.replaced)
}

func (f *fakeSource) setReplaceErr(err error) {
	f.mu.Lock()
	f.replaceErr = err
	f.mu.Unlock()
}

type (
	fsOriginal = flowstate.SamiFlowState_FlowState_Sessions_Session_Original
	fsReply    = flowstate.SamiFlowState_FlowState_Sessions_Session_Reply
	fsSNAT     = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source
)

// session builds a session with its canonical id.
func session(t *testing.T, proto uint8, src string, sport uint16, dst string, dport uint16) *flow.Session {
	t.Helper()
	af := flowstate.SamiFlowState_AddressFamily_ipv4
	if net.ParseIP(src).To4() == nil {
		af = flowstate.SamiFlowState_AddressFamily_ipv6
	}
	s := &flow.Session{
		AddressFamily: af,
		Protocol:      ygot.Uint8(proto),
		Original: &fsOriginal{
			SourceAddress:      ygot.String(src),
			SourcePort:         ygot.Uint16(sport),
			DestinationAddress: ygot.String(dst),
			DestinationPort:    ygot.Uint16(dport),
		},
	}
	if err := flow.SetKey(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Fixture ids.
const (
	tcpID  = "0/6/10.0.0.1/40000/198.51.100.7/443"
	udp6ID = "0/17/2001:db8::1/5353/2001:db8::2/53"
	natID  = "0/6/10.0.0.2/41000/198.51.100.8/80"
	newID  = "0/17/10.0.0.9/1234/192.0.2.1/53"
)

func fixtureSessions(t *testing.T) []*flow.Session {
	tcp := session(t, 6, "10.0.0.1", 40000, "198.51.100.7", 443)
	tcp.GetOrCreateTcp().State = flowstate.SamiFlowState_TcpState_established
	tcp.GetOrCreateCounters().GetOrCreateOriginal().Packets = ygot.Uint64(10)
	tcp.GetOrCreateCounters().GetOrCreateOriginal().Bytes = ygot.Uint64(1500)
	tcp.Mark = ygot.Uint32(7)

	udp6 := session(t, 17, "2001:db8::1", 5353, "2001:db8::2", 53)

	nat := session(t, 6, "10.0.0.2", 41000, "198.51.100.8", 80)
	nat.GetOrCreateNat().Source = &fsSNAT{
		InternalSrcAddress: ygot.String("10.0.0.2"),
		ExternalSrcAddress: ygot.String("203.0.113.5"),
		InternalSrcPort:    ygot.Uint16(41000),
		ExternalSrcPort:    ygot.Uint16(61000),
	}
	nat.Reply = &fsReply{
		SourceAddress:      ygot.String("198.51.100.8"),
		SourcePort:         ygot.Uint16(80),
		DestinationAddress: ygot.String("203.0.113.5"),
		DestinationPort:    ygot.Uint16(61000),
	}
	for _, s := range []*flow.Session{tcp, udp6, nat} {
		switch *s.Id {
		case tcpID, udp6ID, natID:
		default:
			t.Fatalf("unexpected fixture id %q", *s.Id)
		}
	}
	return []*flow.Session{tcp, udp6, nat}
}

func sessionsPath() *gpb.Path {
	return &gpb.Path{Elem: []*gpb.PathElem{{Name: "flow-state"}, {Name: "sessions"}}}
}

func sessionPath(id string, leaf ...string) *gpb.Path {
	p := &gpb.Path{Elem: []*gpb.PathElem{
		{Name: "flow-state"}, {Name: "sessions"},
		{Name: "session", Key: map[string]string{"id": id}},
	}}
	for _, l := range leaf {
		p.Elem = append(p.Elem, &gpb.PathElem{Name: l})
	}
	return p
}

// testCert writes a self-signed certificate for localhost and 127.0.0.1 and
// its key to dir.
func testCert(t *testing.T, dir, name string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// env is a running server over a fake source.
type env struct {
	src    *fakeSource
	srv    *gnmiserver.Server
	addr   string
	caFile string
	pool   *x509.CertPool
	client gpb.GNMIClient
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a server with TLS on 127.0.0.1:0 and connects a client.
func start(t *testing.T, opts ...gnmiserver.Option) *env {
	t.Helper()
	src := newFakeSource(t)
	return startWith(t, src, src, opts...)
}

// startWith is start over source (fake is the fakeSource it is built on).
func startWith(t *testing.T, source gnmiserver.Source, src *fakeSource, opts ...gnmiserver.Option) *env {
	t.Helper()
	schema, err := flowstate.Schema()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gnmiserver.New(source, schema, append([]gnmiserver.Option{gnmiserver.WithTarget("dut"), gnmiserver.WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, pool := testCert(t, dir, "server")
	tcfg, err := gnmiserver.TLSConfig(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, credentials.NewTLS(tcfg)) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return")
		}
	})
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &env{src: src, srv: srv, addr: ln.Addr().String(), caFile: certFile, pool: pool, client: gpb.NewGNMIClient(conn)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
