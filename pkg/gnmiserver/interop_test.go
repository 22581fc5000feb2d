package gnmiserver_test

import (
	"bytes"
	"context"
	"github.com/sami-netops/sami/pkg/peertest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

const gnmiCliModule = "github.com/openconfig/gnmi/cmd/gnmi_cli@v0.14.1"

// findGnmiCli finds gnmi_cli on PATH or in $(go env GOPATH)/bin. When it is
// missing it is installed only if SAMI_REQUIRE_PEERS=1; otherwise the test
// is skipped.
func findGnmiCli(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("gnmi_cli"); err == nil {
		return p
	}
	gobin := func() string {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return ""
		}
		gp := strings.TrimSpace(string(out))
		if i := strings.IndexByte(gp, filepath.ListSeparator); i >= 0 {
			gp = gp[:i]
		}
		return filepath.Join(gp, "bin", "gnmi_cli")
	}
	if p := gobin(); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	// Missing: skipped loudly, or (SAMI_REQUIRE_PEERS=1, as in CI) installed below.
	peertest.Need(t, "gnmi_cli (not on PATH nor in $(go env GOPATH)/bin)", os.Getenv(peertest.RequireEnv) == "1", "go install "+gnmiCliModule)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "install", gnmiCliModule).CombinedOutput(); err != nil {
		t.Fatalf("SAMI_REQUIRE_PEERS=1 and go install %s failed: %v\n%s", gnmiCliModule, err, out)
	}
	p := gobin()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("gnmi_cli not found after go install: %v", err)
	}
	return p
}

// lockedBuffer is an io.Writer safe for a command and the test to share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestInteropGnmiCli(t *testing.T) {
	cli := findGnmiCli(t)
	e := start(t)
	logDir := t.TempDir() // glog writes its files to TMPDIR
	base := []string{"-a", e.addr, "-ca_crt", e.caFile, "-server_name", "localhost"}
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, append(append([]string{}, base...), args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+logDir)
		out, err := cmd.CombinedOutput()
		t.Logf("$ gnmi_cli %s\n%s", strings.Join(append(base, args...), " "), out)
		if err != nil {
			t.Fatalf("gnmi_cli: %v", err)
		}
		return string(out)
	}
	text := func(m proto.Message) string { return prototext.MarshalOptions{}.Format(m) }

	t.Run("capabilities", func(t *testing.T) {
		out := run(t, "-capabilities")
		for _, want := range []string{"sami-flow-state", "JSON_IETF", "0.10.0"} {
			if !strings.Contains(out, want) {
				t.Errorf("capabilities output lacks %q", want)
			}
		}
	})

	t.Run("get", func(t *testing.T) {
		req := &gpb.GetRequest{Prefix: &gpb.Path{Target: "dut"}, Path: []*gpb.Path{sessionPath(natID)}, Encoding: gpb.Encoding_JSON_IETF}
		out := run(t, "-get", "-proto", text(req))
		for _, want := range []string{"203.0.113.5", "61000", "json_ietf_val"} {
			if !strings.Contains(out, want) {
				t.Errorf("get output lacks %q", want)
			}
		}
	})

	t.Run("set", func(t *testing.T) {
		req := &gpb.SetRequest{Update: []*gpb.Update{{
			Path: sessionPath(newID),
			Val:  &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: newSessionJSON(t)}},
		}}}
		out := run(t, "-set", "-proto", text(req))
		if !strings.Contains(out, "UPDATE") {
			t.Errorf("set output lacks the UPDATE result")
		}
		dev, _ := e.src.snapshot()
		if dev.GetFlowState().GetSessions().GetSession(newID) == nil {
			t.Fatalf("session not created by gnmi_cli -set")
		}
		// Restore, so that the streaming subtest can add it again.
		run(t, "-set", "-proto", text(&gpb.SetRequest{Delete: []*gpb.Path{sessionPath(newID)}}))
	})

	t.Run("subscribe stream", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := append(append([]string{}, base...), "-q", "flow-state", "-qt", "s", "-sd", "3s", "-t", "dut", "-dt", "s")
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+logDir)
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the initial data, then push a new session.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), "198.51.100.8") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(out.String(), "198.51.100.8") {
			t.Fatalf("no initial data from gnmi_cli:\n%s", out.String())
		}
		e.src.add(t, session(t, 17, "10.0.0.9", 1234, "192.0.2.1", 53))
		err := cmd.Wait() // -sd 3s ends the stream with DeadlineExceeded
		t.Logf("$ gnmi_cli %s\n(exit: %v)\n%s", strings.Join(args, " "), err, out.String())
		got := out.String()
		if !strings.Contains(got, "10.0.0.9") || !strings.Contains(got, "192.0.2.1") {
			t.Errorf("the pushed session is not in gnmi_cli's output")
		}
	})
}
