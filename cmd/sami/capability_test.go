package main_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// sami ARGS...: the real binary; its exit code is kept for exit.
			"sami": func(ts *testscript.TestScript, neg bool, args []string) {
				err := ts.Exec(samiBin, args...)
				code := 0
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee):
					code = ee.ExitCode()
				case err != nil:
					ts.Fatalf("sami: %v", err)
				}
				ts.Setenv("EXIT", strconv.Itoa(code))
				if neg != (code != 0) {
					ts.Fatalf("sami exited with %d (want a failure: %v)", code, neg)
				}
			},
			// exit N: the last sami exited with N.
			"exit": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: exit CODE")
				}
				if got := ts.Getenv("EXIT"); (got == args[0]) == neg {
					ts.Fatalf("sami exited with %s, want %s", got, args[0])
				}
			},
		},
	})
}
