package conntrack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/sami-netops/sami/pkg/peertest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// requireRoot skips (or fails with SAMI_REQUIRE_PEERS=1: peertest.Need)
// when the test cannot create network namespaces and use ctnetlink.
func requireRoot(tb testing.TB) {
	tb.Helper()
	peertest.Need(tb, "root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for network namespaces and ctnetlink", os.Geteuid() == 0, "run the tests as root")
	requireTool(tb, "ip")
}

func requireTool(tb testing.TB, name string) {
	tb.Helper()
	_, err := exec.LookPath(name)
	peertest.Need(tb, name, err == nil, "bash .ci/install-peers (as root)")
}

// newNetNS creates a fresh network namespace and returns its name and path.
func newNetNS(tb testing.TB) (name, path string) {
	tb.Helper()
	requireRoot(tb)
	var r [4]byte
	_, _ = rand.Read(r[:])
	name = "sami-ct-" + hex.EncodeToString(r[:])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			tb.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return name, "/run/netns/" + name
}

// inNS runs a command inside the namespace.
func inNS(tb testing.TB, ns string, args ...string) string {
	tb.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("ip netns exec %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func openNS(tb testing.TB, path string, opts ...Option) *Backend {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Open(ctx, append([]Option{WithNetNS(path)}, opts...)...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = b.Close() })
	return b
}
