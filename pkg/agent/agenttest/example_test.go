package agenttest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/simfw"
)

// exampleT stands in for the *testing.T a test has.
type exampleT struct {
	testing.TB
	dir      string
	cleanups []func()
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) TempDir() string {
	if t.dir == "" {
		t.dir, _ = os.MkdirTemp("", "agenttest")
	}
	return t.dir
}
func (t *exampleT) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	os.RemoveAll(t.dir)
}

func ExampleStartSim() {
	t := &exampleT{} // in a test: the test's *testing.T
	defer t.done()

	a, fw := agenttest.StartSim(t, "fw1", simfw.Vendors()["basic"])
	cfg := a.Config() // for the "sami" driver: device.Registry.Open(ctx, cfg)
	fmt.Println(cfg.Name, cfg.Driver, cfg.Address != "", cfg.GNMIAddress != "")

	// A NETCONF client with the same credentials.
	caps := a.Client(t).Capabilities()
	fmt.Println(caps.ConfirmedCommit11(), fw.Len())

	a.Stop()     // the device vanishes
	a.Restart(t) // and comes back on the same addresses, with the same host key
	_, err := a.Client(t).Get(context.Background(), nil)
	fmt.Println(err)
	// Output:
	// fw1 sami true true
	// true 0
	// <nil>
}
