package sandbox

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// writeKeys makes the host key, the client key, the gNMI certificate and
// the password file.
func (a *Agent) writeKeys(dir string) error {
	_, hk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if a.hostKey, err = ssh.NewSignerFromKey(hk); err != nil {
		return err
	}
	a.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(a.hostKey.PublicKey())))
	cpub, ck, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if a.clientPK, err = ssh.NewPublicKey(cpub); err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(ck, "sami sandbox client of "+a.Name)
	if err != nil {
		return err
	}
	a.KeyFile = a.file("id_ed25519")
	if err := os.WriteFile(a.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(a.KeyFile+".pub", ssh.MarshalAuthorizedKey(a.clientPK), 0o644); err != nil {
		return err
	}
	if a.Password != "" {
		a.PasswordFile = a.file("password")
		if err := os.WriteFile(a.PasswordFile, []byte(a.Password+"\n"), 0o600); err != nil {
			return err
		}
	}
	if !a.opts.gnmi || a.opts.plaintext {
		return nil
	}
	cert, der, err := selfSigned(a.Name)
	if err != nil {
		return err
	}
	a.tlsCert = cert
	a.CAFile = a.file("gnmi.crt")
	return os.WriteFile(a.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

// writeKnownHosts records the host key for the address the agent got.
func (a *Agent) writeKnownHosts() error {
	kh := knownhosts.Line([]string{knownhosts.Normalize(a.Addr)}, a.hostKey.PublicKey()) + "\n"
	a.KnownHosts = a.file("known_hosts")
	return os.WriteFile(a.KnownHosts, []byte(kh), 0o600)
}

// selfSigned makes a certificate for 127.0.0.1 and localhost that is its
// own CA.
func selfSigned(name string) (*tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "sami sandbox " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der, nil
}
