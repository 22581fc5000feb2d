package sami_test

import (
	"context"
	"testing"
	"time"

	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/plugins/sami"
)

// simDevice is an agenttest agent over a simulated firewall.
type simDevice struct {
	a    *agenttest.Agent
	fw   *simfw.Firewall
	opts map[string]string
}

func newSimDevice(t *testing.T, opts map[string]string, aopts ...agenttest.Option) *simDevice {
	a, fw := agenttest.StartSim(t, t.Name(), simfw.Vendors()["sami-sim"], aopts...)
	return &simDevice{a: a, fw: fw, opts: opts}
}

func (d *simDevice) Config() device.Config {
	c := d.a.Config()
	c.Options = d.opts
	return c
}

func (d *simDevice) Sessions(testing.TB) []*flow.Session { return d.fw.Snapshot() }

func (d *simDevice) Seed(t testing.TB, ss ...*flow.Session) {
	t.Helper()
	if err := d.fw.Upsert(context.Background(), ss); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

func (d *simDevice) Destroy(t testing.TB, ids ...string) {
	t.Helper()
	var ss []*flow.Session
	for _, id := range ids {
		k, err := flow.ParseKey(id)
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, k.Session())
	}
	if err := d.fw.Delete(context.Background(), ss); err != nil {
		t.Fatalf("destroy: %v", err)
	}
}

func (d *simDevice) RefuseNextWrite(testing.TB) bool { d.fw.FailWriteAt(1); return true }

func (d *simDevice) Stop(testing.TB) { d.a.Stop() }

func open(ctx context.Context, cfg device.Config) (device.Driver, error) {
	d, err := sami.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// TestConformance runs the driver conformance suite against in-process
// agents, watching over gNMI (TLS) and by polling.
func TestConformance(t *testing.T) {
	t.Run("gnmi", func(t *testing.T) {
		devicetest.Run(t, devicetest.Harness{
			Open:      open,
			NewDevice: func(t *testing.T) devicetest.Device { return newSimDevice(t, nil) },
		})
	})
	t.Run("polling", func(t *testing.T) {
		devicetest.Run(t, devicetest.Harness{
			Open: open,
			NewDevice: func(t *testing.T) devicetest.Device {
				return newSimDevice(t, map[string]string{"watch-interval": (50 * time.Millisecond).String()}, agenttest.WithoutGNMI())
			},
		})
	})
}
