package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/mapping/mapdriver/mapdrivertest"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/plugins/junos"
	"golang.org/x/crypto/ssh"
)

// TestCapabilityScripts runs testdata/capability/*.txtar: the capability
// report of `sami migrate --dry-run` between vendors. The scripts share
// srx1, a Junos SRX (the fake NETCONF device of mapdrivertest over SSH,
// answering get-flow-session-information with testdata/capability/
// srx-reply.xml), and fw1, a sami agent, in one inventory ($INVENTORY).
func TestCapabilityScripts(t *testing.T) {
	reply, err := os.ReadFile("testdata/capability/srx-reply.xml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	key, err := os.ReadFile(a.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srx := &mapdrivertest.Device{Replies: map[string]string{"get-flow-session-information": string(reply)}}
	addr, kh := srx.ServeSSH(t, dir, a.User, signer.PublicKey())
	inv := fmt.Sprintf(`devices:
  - name: srx1
    address: %q
    driver: %s
    domain: dc
    role: firewall
    location: s-srx
    options: {skip-invalid: "true"} # its ICMP sessions do not convert
    credentials: {user: %s, key-file: %q, known-hosts: [%q]}
  - name: fw1
    address: %q
    gnmi-address: %q
    driver: sami
    domain: dc
    role: firewall
    location: s-fw1
    credentials: {user: %s, key-file: %q, known-hosts: [%q], ca-file: %q}
locations:
  - {name: s-srx, domain: dc, ingress: [srx1], egress: [srx1]}
  - {name: s-fw1, domain: dc, ingress: [fw1], egress: [fw1]}
`, addr, junos.Name, a.User, a.KeyFile, kh, a.Addr, a.GNMIAddr, a.User, a.KeyFile, a.KnownHosts, a.CAFile)
	inventory := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(inventory, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/capability",
		Setup: func(e *testscript.Env) error {
			for k, v := range map[string]string{
				"SAMI_INVENTORY": inventory, "SAMI_JOURNAL": filepath.Join(e.WorkDir, "journal.db"),
				"SAMI_PROGRESS": "never", "USER": "tester", "INVENTORY": inventory,
			} {
				e.Setenv(k, v)
			}
			return nil
		},
		Cmds: samiCmds(nil),
	})
}
