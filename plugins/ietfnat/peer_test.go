package ietfnat

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/peertest"
)

// VendorYANGEnv names the folder of the real vendor YANG modules (its ietf/
// subfolder holds ietf-nat@2019-01-10.yang and its imports). They are read
// where they are and never copied into the project.
const VendorYANGEnv = "SAMI_VENDOR_YANG"

const defaultVendorYANG = "/work/shared/vendor-yang"

// vendorIETF returns the folder with ietf-nat and its imports, or skips
// (fails in CI) through peertest.Need.
func vendorIETF(t testing.TB) string {
	t.Helper()
	root := os.Getenv(VendorYANGEnv)
	if root == "" {
		root = defaultVendorYANG
	}
	dir := filepath.Join(root, "ietf")
	_, err := os.Stat(filepath.Join(dir, Module+"@"+Revision+".yang"))
	peertest.Need(t, "the RFC 8512 module "+filepath.Join(dir, Module+"@"+Revision+".yang")+" (with ietf-inet-types, ietf-yang-types, ietf-interfaces)", err == nil,
		"set "+VendorYANGEnv+" to the vendor-yang folder (its ietf/ subfolder holds ietf-nat@2019-01-10.yang and its imports, from github.com/YangModels/yang standard/ietf/RFC)")
	return dir
}

// ifFeatureExpr matches an if-feature statement whose argument is an
// expression (YANG 1.1: or, and, not), possibly split with +.
var ifFeatureExpr = regexp.MustCompile(`if-feature\s+("[^"]*"(\s*\+\s*"[^"]*")*)\s*;`)

// yumaModule writes, into a temporary folder, the vendor's ietf-nat as
// yuma123 2.13 can load it. yuma123 does not implement YANG 1.1 if-feature
// expressions: it drops every node whose if-feature is "a or b" (the whole
// mapping table) and then fails on a leafref into one. netconfd enables
// every feature (--feature-enable-default), where such an expression is
// true, so removing those statements changes nothing else. Single-feature
// if-features are kept.
func yumaModule(t testing.TB, dir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, Module+"@"+Revision+".yang"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	out := ifFeatureExpr.ReplaceAllFunc(src, func(m []byte) []byte {
		expr := string(m)
		if strings.Contains(expr, " or ") || strings.Contains(expr, " and ") || strings.Contains(expr, "not ") {
			n++
			return nil
		}
		return m
	})
	if n == 0 || bytes.Contains(out, []byte(" or ")) && bytes.Contains(out, []byte(`if-feature "basic-nat44 or`)) {
		t.Fatalf("the yuma123 adaptation of %s found no if-feature expression to remove (%d): has the module changed?", dir, n)
	}
	// Not t.TempDir(): its name holds the test's, and peertest takes any
	// netconfd log line with "Error" in it (the module path is logged) for
	// a failure.
	dir, err = os.MkdirTemp("", "sami-ietf-nat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tmp := filepath.Join(dir, Module+"@"+Revision+".yang")
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return tmp
}

// startNAT starts netconfd with ietf-nat, and returns the device config
// for a driver (key auth, host key verified).
func startNAT(t *testing.T) (*peertest.Netconfd, device.Config) {
	t.Helper()
	dir := vendorIETF(t)
	mod := yumaModule(t, dir)
	nd := peertest.StartNetconfd(t, peertest.WithModulePath(dir), peertest.WithModule(mod))
	return nd, natConfig(t, nd)
}

func startNetconfdB(b *testing.B, dir string) *peertest.Netconfd {
	return peertest.StartNetconfd(b, peertest.WithModulePath(dir), peertest.WithModule(yumaModule(b, dir)))
}

func natConfig(t testing.TB, nd *peertest.Netconfd) device.Config {
	return device.Config{
		Name:    "nat-b",
		Driver:  Name,
		Address: nd.Addr,
		Credentials: device.Credentials{
			User: nd.User, KeyFile: nd.KeyFile, KnownHosts: []string{nd.KnownHosts},
		},
		Options: map[string]string{OptInstanceName: "cgn-1"},
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout: 20 * time.Second,
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func benchOpen(b *testing.B, cfg device.Config) *Driver {
	d, err := Open(b.Context(), cfg)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

func open(t *testing.T, cfg device.Config) *Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func readAll(t *testing.T, d *Driver) []*flow.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*flow.Session
	if err := d.Read(ctx, nil, func(s *flow.Session) error { out = append(out, s); return nil }); err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out
}

// rawEntries reads a datastore's entries of instance 1 with the NETCONF
// client alone (not through the driver).
func rawEntries(t *testing.T, nd *peertest.Netconfd, ds netconf.Datastore) []*Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := rawSession(t, nd)
	defer s.Close()
	r, err := s.GetConfig(ctx, ds, instanceFilter(1, true))
	if err != nil {
		t.Fatalf("get-config %s: %v", ds, err)
	}
	var out []*Entry
	if _, err := DecodeMappingTable(strings.NewReader("<data>"+string(r.Data)+"</data>"), 1, func(e *Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatalf("get-config %s: %v\n%s", ds, err, r.Data)
	}
	return out
}

func rawSession(t *testing.T, nd *peertest.Netconfd) *netconf.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := netconf.Dial(ctx, nd.Addr, netconf.WithUser(nd.User), netconf.WithKeyFile(nd.KeyFile, ""), netconf.WithKnownHosts(nd.KnownHosts))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return s
}

// rawEdit writes a literal <config> into the candidate and commits it.
func rawEdit(t *testing.T, nd *peertest.Netconfd, config string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := rawSession(t, nd)
	defer s.Close()
	if err := s.EditConfig(ctx, netconf.Candidate, netconf.ConfigXML(config)); err != nil {
		t.Fatalf("edit-config: %v", err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func sameSessions(t *testing.T, what string, want, got []*flow.Session) {
	t.Helper()
	if r := flow.Diff(want, got); !r.Empty() {
		t.Fatalf("%s: read-back differs:%s", what, diffText(r))
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
