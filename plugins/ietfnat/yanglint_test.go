package ietfnat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sami-netops/sami/pkg/peertest"
)

// TestYanglint checks with libyang, against the real ietf-nat module, that
// the edits the driver sends (the golden files) are valid edit-config
// content and that the fixture of entries is valid <get> data; and, so the
// check is known to bite, that a bad edit is refused.
func TestYanglint(t *testing.T) {
	bin, err := exec.LookPath("yanglint")
	peertest.Need(t, "yanglint (libyang2-tools)", err == nil, "apt-get install libyang2-tools, or bash .ci/install-peers")
	dir := vendorIETF(t)
	const netconfYANG = "/usr/share/yuma/modules/ietf/ietf-netconf@2011-06-01.yang" // for nc:operation
	_, err = os.Stat(netconfYANG)
	peertest.Need(t, netconfYANG+" (for nc:operation in edits)", err == nil, "apt-get install netconfd (yuma123 ships ietf-netconf), or bash .ci/install-peers")
	features := "ietf-nat:basic-nat44,napt44,dst-nat,nat64,nptv6"
	lint := func(typ, file string, body string) (string, error) {
		path := filepath.Join(t.TempDir(), file)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-F", features, "-p", dir, "-p", filepath.Dir(netconfYANG), "-t", typ,
			filepath.Join(dir, Module+"@"+Revision+".yang"), netconfYANG, path).CombinedOutput()
		return string(out), err
	}
	nat := func(t *testing.T, name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b) // yanglint takes the data without the NETCONF envelope
		return s[strings.Index(s, "<nat ") : strings.LastIndex(s, "</nat>")+len("</nat>")]
	}
	for _, tc := range []struct{ typ, file string }{
		{"edit", "stage.golden.xml"},
		{"edit", "remove.golden.xml"},
		{"get", "entries.xml"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			if out, err := lint(tc.typ, tc.file, nat(t, tc.file)); err != nil {
				t.Errorf("yanglint -t %s: %v\n%s", tc.typ, err, out)
			}
		})
	}
	t.Run("a bad edit is refused", func(t *testing.T) {
		bad := strings.Replace(nat(t, "stage.golden.xml"), "<start-port-number>4660<", "<start-port-number>70000<", 1)
		if out, err := lint("edit", "bad.xml", bad); err == nil || !strings.Contains(out, "70000") {
			t.Errorf("yanglint accepted a port 70000: %v\n%s", err, out)
		}
	})
}
