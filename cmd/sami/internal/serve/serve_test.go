package serve_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/root"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/api"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
)

// buffer is an output the command's goroutines and the test share.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// daemon is a `sami serve` running in this process.
type daemon struct {
	out, errw *buffer
	cancel    context.CancelFunc
	done      chan int
	url       string
}

func start(t *testing.T, env map[string]string, args ...string) *daemon {
	t.Helper()
	d := &daemon{out: &buffer{}, errw: &buffer{}, done: make(chan int, 1)}
	a := app.New(strings.NewReader(""), d.out, d.errw)
	a.Env = func(k string) string { return env[k] }
	cmd := root.New(a)
	cmd.SetArgs(append([]string{"serve"}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		defer a.Close()
		err := cmd.ExecuteContext(ctx)
		if err != nil {
			fmt.Fprintf(d.errw, "sami: %v\n", err)
		}
		d.done <- app.ExitCode(err)
	}()
	re := regexp.MustCompile(`listening on (\S+) `)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(d.out.String()); m != nil {
			d.url = m[1]
			return d
		}
		select {
		case code := <-d.done:
			d.done <- code
			return d
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("sami serve did not start:\n%s%s", d.out, d.errw)
	return nil
}

func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("sami serve did not stop:\n%s", d.out)
		return -1
	}
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	inv := writeFile(t, dir, "inventory.yaml", "devices: []\nlocations: []\n", 0o600)
	tokens := writeFile(t, dir, "tokens", "ops:0123456789abcdef0123\n", 0o600)
	open := writeFile(t, dir, "tokens.open", "ops:0123456789abcdef0123\n", 0o644)
	short := writeFile(t, dir, "announce", "short\n", 0o600)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"every interface without TLS nor auth", []string{"--listen", ":0"}, "no TLS (--tls-cert, --tls-key) and no authentication"},
		{"non-loopback with tokens but no TLS", []string{"--listen", "0.0.0.0:0", "--tokens", tokens}, "no TLS"},
		{"bad listen", []string{"--listen", "8830"}, `--listen "8830": want host:port`},
		{"cert without key", []string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{"client CA without TLS", []string{"--client-ca", "ca.pem"}, "--client-ca needs TLS"},
		{"client CN without CA", []string{"--client-cn", "vm"}, "--client-cn needs --client-ca"},
		{"missing tokens file", []string{"--tokens", filepath.Join(dir, "nope")}, "no such file"},
		{"tokens file readable by all", []string{"--tokens", open}, "accessible to every user"},
		{"short announce token", []string{"--announce-token-file", short}, "use at least 16"},
		{"negative grace", []string{"--grace", "-1s"}, "--grace -1s"},
		{"missing certificate", []string{"--tls-cert", filepath.Join(dir, "c.pem"), "--tls-key", filepath.Join(dir, "k.pem")}, "--tls-cert/--tls-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := start(t, nil, append([]string{"--inventory", inv, "--journal", filepath.Join(t.TempDir(), "j.db")}, tc.args...)...)
			code := d.stop(t)
			if code != app.ExitUsage || !strings.Contains(d.errw.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, d.errw.String(), app.ExitUsage, tc.want)
			}
		})
	}
}

func flows(vm string, n int) []*flow.Session {
	var out []*flow.Session
	for i := range n {
		s := &flow.Session{
			AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4, Protocol: ygot.Uint8(17),
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
				SourceAddress: ygot.String(vm), DestinationAddress: ygot.String("198.51.100.7"),
				SourcePort: ygot.Uint16(uint16(40000 + i)), DestinationPort: ygot.Uint16(53),
			},
		}
		if err := flow.SetKey(s); err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}

// lab writes an inventory for two in-process agents (fw1 at s1, fw2 at s2).
func lab(t *testing.T, dir string) (string, map[string]*simfw.Firewall) {
	t.Helper()
	var b strings.Builder
	b.WriteString("devices:\n")
	fws := map[string]*simfw.Firewall{}
	for _, name := range []string{"fw1", "fw2"} {
		a, fw := agenttest.StartSim(t, name, simfw.Vendors()["sami-sim"])
		fws[name] = fw
		fmt.Fprintf(&b, "  - {name: %s, address: %q, driver: sami, domain: dc, credentials: {user: %s, key-file: %q, known-hosts: [%q]}}\n",
			name, a.Addr, a.User, a.KeyFile, a.KnownHosts)
	}
	b.WriteString("locations:\n  - {name: s1, ingress: [fw1], egress: [fw1]}\n  - {name: s2, ingress: [fw2], egress: [fw2]}\n")
	return writeFile(t, dir, "inventory.yaml", b.String(), 0o600), fws
}

func call(t *testing.T, c *http.Client, method, url, token, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

// TestServe runs the daemon with tokens over loopback: a trigger runs to
// done, the metrics count it, SIGTERM (a cancelled context) stops it.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	inv, fws := lab(t, dir)
	if err := fws["fw1"].Upsert(context.Background(), flows("10.1.0.5", 9)); err != nil {
		t.Fatal(err)
	}
	const tok = "vmm-0123456789abcdef0123456789"
	tokens := writeFile(t, dir, "tokens", "vm-manager:"+tok+"\n", 0o600)
	jpath := filepath.Join(dir, "journal.db")
	d := start(t, nil, "--inventory", inv, "--journal", jpath, "--listen", "127.0.0.1:0", "--tokens", tokens, "--grace", "5s")
	if d.url == "" {
		t.Fatalf("not started: %s", d.errw)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	waitReady(t, c, d.url)
	if st := call(t, c, "GET", d.url+"/v1/devices", "", "", nil); st != http.StatusUnauthorized {
		t.Errorf("no token: %d", st)
	}
	var m api.Migration
	if st := call(t, c, "POST", d.url+"/v1/migrations", tok, `{"endpoints":["10.1.0.5"],"from":"s1","to":"s2"}`, &m); st != http.StatusAccepted {
		t.Fatalf("trigger: %d %+v", st, m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for (m.Status == api.StatusQueued || m.Status == api.StatusRunning) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		call(t, c, "GET", d.url+"/v1/migrations/"+m.ID, tok, "", &m)
	}
	if m.Status != api.StatusDone || m.Requester != "vm-manager" || fws["fw2"].Len() != 9 || fws["fw1"].Len() != 0 {
		t.Fatalf("migration %+v; fw1 %d fw2 %d", m, fws["fw1"].Len(), fws["fw2"].Len())
	}
	req, _ := http.NewRequest("GET", d.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `sami_migrations_total{kind="planned",result="done"} 1`) {
		t.Errorf("metrics:\n%s", body)
	}
	if code := d.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s%s", code, d.out, d.errw)
	}
	if out := d.out.String(); !strings.Contains(out, "auth: 1 bearer token(s)") || !strings.Contains(out, "stopped") || strings.Contains(out+d.errw.String(), tok) {
		t.Errorf("output:\n%s", out)
	}
}

func waitReady(t *testing.T, c *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never turned ready", url)
}

// TestServeMutualTLS listens on every interface, which is allowed with TLS
// and client certificates; a client certificate's CN is the requester.
func TestServeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	inv, _ := lab(t, dir)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, serial int64, server bool) (certPEM, keyPEM []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if server {
			tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		kd, _ := x509.MarshalECPrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	}
	sc, sk := issue("sami", 2, true)
	cc, ck := issue("vm-manager", 3, false)
	caFile := writeFile(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})), 0o600)
	d := start(t, nil, "--inventory", inv, "--journal", filepath.Join(dir, "j.db"), "--listen", "0.0.0.0:0",
		"--tls-cert", writeFile(t, dir, "srv.pem", string(sc), 0o600), "--tls-key", writeFile(t, dir, "srv.key", string(sk), 0o600),
		"--client-ca", caFile, "--client-cn", "vm-manager")
	if d.url == "" {
		t.Fatalf("not started: %s", d.errw)
	}
	url := strings.Replace(d.url, "0.0.0.0", "127.0.0.1", 1)
	url = strings.Replace(url, "[::]", "127.0.0.1", 1)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	clientCert, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}}}
	waitReady(t, c, url)
	var devs []api.Device
	if st := call(t, c, "GET", url+"/v1/devices", "", "", &devs); st != http.StatusOK || len(devs) != 2 {
		t.Errorf("devices over mTLS: %d %+v", st, devs)
	}
	noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if _, err := noCert.Get(url + "/v1/devices"); err == nil {
		t.Errorf("a client without certificate got through (mTLS only: the handshake must fail)")
	}
	if code := d.stop(t); code != 0 {
		t.Errorf("exit %d: %s", code, d.errw)
	}
}
