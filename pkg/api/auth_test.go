package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/api"
)

const (
	opsToken    = "ops-0123456789abcdef0123456789abcdef"
	viewerToken = "viewer-fedcba9876543210fedcba987654"
)

func testTokens(t *testing.T) *api.Tokens {
	t.Helper()
	tok, err := api.ParseTokens(strings.NewReader("# who may call\nvm-manager:" + opsToken + "\nviewer:" + viewerToken + ":read\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// syncBuffer is a log sink the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBearerTokens(t *testing.T) {
	s := newSite(t)
	s.fill(t, "fw1", "10.1.0.5", 5)
	var logs syncBuffer
	e := s.start(t, envConfig{opts: []api.Option{api.WithTokens(testTokens(t)), api.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}})
	trigger := map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2", "dry-run": true}
	tests := []struct {
		name, method, path string
		auth               string
		body               any
		want               int
	}{
		{"no credentials", "GET", "/v1/migrations", "", nil, http.StatusUnauthorized},
		{"wrong token", "GET", "/v1/migrations", "Bearer " + strings.Repeat("x", 32), nil, http.StatusUnauthorized},
		{"a token's prefix", "GET", "/v1/migrations", "Bearer " + opsToken[:20], nil, http.StatusUnauthorized},
		{"basic auth", "GET", "/v1/migrations", "Basic dm06cHc=", nil, http.StatusUnauthorized},
		{"metrics need a token", "GET", "/metrics", "", nil, http.StatusUnauthorized},
		{"read-only token reads", "GET", "/v1/devices", "Bearer " + viewerToken, nil, http.StatusOK},
		{"read-only token cannot trigger", "POST", "/v1/migrations", "Bearer " + viewerToken, trigger, http.StatusForbidden},
		{"scheme is case-insensitive", "GET", "/v1/migrations", "bearer " + viewerToken, nil, http.StatusOK},
		{"trigger token", "POST", "/v1/migrations", "Bearer " + opsToken, trigger, http.StatusOK},
		{"probes are open", "GET", "/healthz", "", nil, http.StatusOK},
		{"readiness is open", "GET", "/readyz", "", nil, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(tc.method, tc.path, tc.body, "Authorization", tc.auth)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != `Bearer realm="sami"` {
				t.Errorf("401 without WWW-Authenticate: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("the token's name is the requester", func(t *testing.T) {
		e.token = opsToken
		defer func() { e.token = "" }()
		_, m, p := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
		if m.ID == "" {
			t.Fatalf("trigger: %+v", p)
		}
		done := e.wait(m.ID)
		if done.Requester != "vm-manager" || done.Report == nil || done.Report.Requester != "vm-manager" {
			t.Errorf("requester %q / report %+v", done.Requester, done.Report)
		}
		audits, err := e.j.Audits(t.Context(), journalAuditFilter(m.ID))
		if err != nil || len(audits) != 1 || audits[0].Requester != "vm-manager" {
			t.Errorf("audit: %+v %v", audits, err)
		}
	})
	t.Run("no secret in the logs", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, "request refused") {
			t.Errorf("refusals are not logged:\n%s", out)
		}
		for _, secret := range []string{opsToken, viewerToken, opsToken[:20], "dm06cHc="} {
			if strings.Contains(out, secret) {
				t.Errorf("the log holds a secret %q", secret)
			}
		}
	})
}

// pki is a test CA with its server and client certificates.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial int64
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{ca: ca, caKey: key, pool: x509.NewCertPool(), serial: 1}
	p.pool.AddCert(ca)
	return p
}

func (p *pki) issue(t *testing.T, cn string, server bool) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestClientCertificates(t *testing.T) {
	s := newSite(t)
	ca := newPKI(t, "sami clients")
	other := newPKI(t, "someone else")
	srvCert := ca.issue(t, "sami", true)
	e := s.start(t, envConfig{
		opts: []api.Option{api.WithTokens(testTokens(t)), api.WithClientCerts("vm-manager", "cn-less-allowed")},
		tls: func(ts *httptest.Server) {
			ts.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: ca.pool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
		},
	})
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, Certificates: certs}}}
	}
	// forced sends its certificate even when the server's CA list does not
	// name its issuer (Go's client would otherwise send none).
	forced := func(c tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }}}}
	}
	tests := []struct {
		name   string
		client *http.Client
		token  string
		want   int // 0: the TLS handshake fails
	}{
		{"allowed certificate", client(ca.issue(t, "vm-manager", false)), "", http.StatusOK},
		{"certificate of a CN not allowed", client(ca.issue(t, "intruder", false)), "", http.StatusForbidden},
		{"certificate without CN", client(ca.issue(t, "", false)), "", http.StatusForbidden},
		{"certificate of another CA, not sent", client(other.issue(t, "vm-manager", false)), "", http.StatusUnauthorized},
		{"certificate of another CA, forced", forced(other.issue(t, "vm-manager", false)), "", 0},
		{"no certificate, no token", client(), "", http.StatusUnauthorized},
		{"no certificate, a token", client(), opsToken, http.StatusOK},
		{"a bad token beats a good certificate", client(ca.issue(t, "vm-manager", false)), "wrong-token-wrong-token", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.client, e.token = tc.client, tc.token
			resp, err := func() (*http.Response, error) {
				req, _ := http.NewRequest("POST", e.url+"/v1/migrations", strings.NewReader(`{"endpoints":["10.1.0.5"],"from":"s1","to":"s2","dry-run":true}`))
				req.Header.Set("Content-Type", "application/json")
				if tc.token != "" {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				return tc.client.Do(req)
			}()
			if tc.want == 0 {
				if err == nil || !strings.Contains(err.Error(), "tls") {
					t.Fatalf("a certificate of another CA got through: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	t.Run("the CN is the requester", func(t *testing.T) {
		s.fill(t, "fw1", "10.1.0.5", 4)
		e.client, e.token = client(ca.issue(t, "vm-manager", false)), ""
		_, m, p := e.trigger(map[string]any{"endpoints": []string{"10.1.0.5"}, "from": "s1", "to": "s2"}, "")
		if m.ID == "" {
			t.Fatalf("trigger: %+v", p)
		}
		if done := e.wait(m.ID); done.Status != api.StatusDone || done.Requester != "vm-manager" {
			t.Errorf("%s by %q", done.Status, done.Requester)
		}
	})
}

func TestParseTokens(t *testing.T) {
	long := strings.Repeat("a", 20)
	tests := []struct {
		name, in string
		want     string // error substring; "" means valid
	}{
		{"valid", "# comment\n\nops:" + long + "\nro:" + strings.Repeat("b", 20) + ":read\n", ""},
		{"scopes", "a:" + long + ":read,trigger\n", ""},
		{"no colon", "ops" + long + "\n", "tokens:1: want name:token"},
		{"too many fields", "a:" + long + ":read:x\n", "tokens:1: want name:token"},
		{"short token", "ops:short\n", `tokens:1: token of "ops" is 5 characters long`},
		{"bad name", "o p:" + long + "\n", "tokens:1: name:"},
		{"empty name", ":" + long + "\n", "tokens:1: name: empty"},
		{"duplicate name", "a:" + long + "\na:" + strings.Repeat("c", 20) + "\n", `tokens:2: name "a" already used on line 1`},
		{"shared token", "a:" + long + "\nb:" + long + "\n", `tokens:2: the token of "b" is the one on line 1`},
		{"unknown scope", "a:" + long + ":write\n", `unknown scope "write"`},
		{"empty", "# nobody\n", "has no tokens"},
		{"blank in token", "a:" + long + "\tx\n", "blanks or control characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := api.ParseTokens(strings.NewReader(tc.in))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tok.Len() == 0 {
					t.Fatal("no tokens")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, api.ErrTokens) {
				t.Fatalf("error %v, want %q wrapping ErrTokens", err, tc.want)
			}
			if strings.Contains(err.Error(), long) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}
