package sami_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/device/devicetest"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/plugins"
	"github.com/sami-netops/sami/plugins/sami"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openT(t *testing.T, cfg device.Config) *sami.Driver {
	t.Helper()
	d, err := sami.Open(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestRegister(t *testing.T) {
	r := device.NewRegistry()
	if err := plugins.Register(r); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.Names(), "sami") {
		t.Fatalf("registered drivers %v lack sami", r.Names())
	}
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["basic"])
	d, err := r.Open(ctxT(t), a.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Capabilities(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	want := simfw.Vendors()["basic"]
	if c.MaxSessions != 1000 || c.Has(flow.Feature(flowstate.SamiFlowState_Feature_nat)) || !c.ConfirmedCommit || !c.Writable || c.Vendor == "" {
		t.Errorf("capabilities of a %+v device: %+v", want, c)
	}
	if err := sami.Register(r); err == nil {
		t.Error("registering sami twice: no error")
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	for _, tc := range []struct {
		name   string
		change func(*device.Config)
		want   string
	}{
		{"no address", func(c *device.Config) { c.Address = "" }, "no address"},
		{"address without port", func(c *device.Config) { c.Address = "127.0.0.1" }, "missing port"},
		{"gnmi protocol", func(c *device.Config) { c.Protocol = "gnmi" }, `protocol "gnmi"`},
		{"no user", func(c *device.Config) { c.Credentials.User = "" }, "no user"},
		{"no key or password", func(c *device.Config) { c.Credentials.KeyFile, c.Credentials.Password = "", "" }, "neither a key file nor a password"},
		{"half a client cert", func(c *device.Config) { c.Credentials.CertFile = "x.pem" }, "needs both"},
		{"bad watch interval", func(c *device.Config) { c.Options = map[string]string{"watch-interval": "soon"} }, "watch-interval"},
		{"unknown option", func(c *device.Config) { c.Options = map[string]string{"wach-interval": "1s"} }, `unknown option "wach-interval"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := a.Config()
			tc.change(&cfg)
			_, err := sami.Open(ctxT(t), cfg)
			if !errors.Is(err, device.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("open: %v, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"], agenttest.WithPassword("s3cret"))
	cfg := a.Config()
	cfg.Credentials.KeyFile = ""
	d := openT(t, cfg) // password only
	if _, err := d.Capabilities(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cfg.Credentials.Password = "wrong"
	if _, err := sami.Open(ctxT(t), cfg); !errors.Is(err, device.ErrAuth) {
		t.Errorf("wrong password: %v, want ErrAuth", err)
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
	cfg = a.Config()
	cfg.Credentials.KnownHosts = nil
	cfg.Credentials.InsecureIgnoreHostKey = true
	openT(t, cfg) // explicitly opted out
}

func TestReadOnlyUser(t *testing.T) {
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"], agenttest.WithReadOnly())
	d := openT(t, a.Config())
	err := d.Lock(ctxT(t))
	var re *netconf.RPCError
	if !errors.Is(err, device.ErrAuth) || !errors.As(err, &re) {
		t.Errorf("lock as a read-only user: %v, want ErrAuth with the rpc-error", err)
	}
}

func TestErrorsKeepTheRPCError(t *testing.T) {
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	d1, d2 := openT(t, a.Config()), openT(t, a.Config())
	if err := d1.Lock(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	err := d2.Lock(ctxT(t))
	var re *netconf.RPCError
	var de *device.Error
	if !errors.Is(err, device.ErrLocked) || !errors.As(err, &re) || re.Tag != "lock-denied" || !errors.As(err, &de) || de.Op != "lock" || de.Device != "fw1" {
		t.Errorf("lock denied: %v, want a *device.Error (fw1, lock) wrapping ErrLocked and the lock-denied rpc-error", err)
	}
}

// TestStageAbortKeepsTheConnection: a session the driver cannot encode
// ends the edit without closing the connection, so the lock survives.
func TestStageAbortKeepsTheConnection(t *testing.T) {
	a, fw := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	d := openT(t, a.Config())
	ctx := ctxT(t)
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	noKey := devicetest.Session(3)
	noKey.Original.SourceAddress = nil // no key can be derived
	badEnum := devicetest.Session(4)
	badEnum.Tcp.State = flowstate.E_SamiFlowState_TcpState(250) // passes the key check, fails the encoder
	for _, tc := range []struct {
		name string
		ss   []*flow.Session
		want string
	}{
		{"nil session", []*flow.Session{devicetest.Session(1), nil}, "session 1: flow: nil session"},
		{"no key", []*flow.Session{devicetest.Session(1), devicetest.Session(2), noKey}, "session 2"},
		{"value the encoder refuses", []*flow.Session{devicetest.Session(1), devicetest.Session(2), badEnum}, "session 2 (" + badEnum.GetId() + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Stage(ctx, slices.Values(tc.ss))
			if !errors.Is(err, device.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("stage: %v, want ErrRefused naming %q", err, tc.want)
			}
		})
	}
	// Still our lock and an untouched candidate.
	other := openT(t, a.Config())
	if err := other.Lock(ctx); !errors.Is(err, device.ErrLocked) {
		t.Errorf("another driver's lock: %v, want ErrLocked", err)
	}
	if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if fw.Len() != 0 {
		t.Errorf("aborted stages left %d sessions", fw.Len())
	}
}

// TestReconnect: a driver redials a device that came back; a transaction
// that was open when the connection went is reported lost, not continued.
func TestReconnect(t *testing.T) {
	a, fw := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	d := openT(t, a.Config())
	ctx := ctxT(t)
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Stage(ctx, slices.Values([]*flow.Session{devicetest.Session(1)})); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	a.Restart(t)
	if _, err := d.Capabilities(ctx); err != nil {
		t.Fatalf("capabilities after the device came back: %v", err)
	}
	if err := d.Commit(ctx, device.CommitOptions{}); !errors.Is(err, device.ErrUnreachable) || !strings.Contains(err.Error(), "inside a transaction") {
		t.Errorf("commit of a transaction lost with the connection: %v, want ErrUnreachable", err)
	}
	if fw.Len() != 0 {
		t.Fatalf("the lost transaction reached the device: %d sessions", fw.Len())
	}
	// Starting again works.
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Stage(ctx, slices.Values([]*flow.Session{devicetest.Session(1)})); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	// A confirmed commit without persist dies with the connection.
	a.Stop()
	a.Restart(t)
	if err := d.Confirm(ctx, ""); !errors.Is(err, device.ErrUnreachable) {
		t.Errorf("confirm after the connection was lost: %v, want ErrUnreachable", err)
	}
	if fw.Len() != 0 {
		t.Errorf("the device kept an unconfirmed commit of a lost session: %d sessions", fw.Len())
	}
	if err := d.Unlock(ctx); err != nil {
		t.Errorf("unlock after a lost transaction: %v", err)
	}
}

// TestWatchDeliversWholeSessions: gNMI sends only the leaves that changed;
// the driver delivers the whole session.
func TestWatchDeliversWholeSessions(t *testing.T) {
	a, fw := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	s := devicetest.Session(1)
	if err := fw.Upsert(ctxT(t), []*flow.Session{s, devicetest.Session(2)}); err != nil {
		t.Fatal(err)
	}
	d := openT(t, a.Config())
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	var mu sync.Mutex
	var got []device.Delta
	done := watchLive(t, ctx, d, flow.NewMatcher(flow.Endpoint{Address: addr(t, s)}), func(dl device.Delta) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, dl)
	})
	fw.Touch(s.GetId(), 10, 1000) // counters change: only those leaves travel
	fw.Touch(devicetest.Session(2).GetId(), 10, 1000)
	var last *device.Delta
	deadline := time.Now().Add(20 * time.Second)
	for last == nil {
		if time.Now().After(deadline) {
			t.Fatal("no delta with the new counters for a session with traffic")
		}
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		for i := range got {
			if dl := &got[i]; dl.Type != device.Upserted || dl.ID != s.GetId() {
				t.Fatalf("delta %v %s, want upserted %s", dl.Type, dl.ID, s.GetId())
			}
		}
		// The leaves travel one by one: the copy with the new packet
		// count is the one to look at.
		if len(got) > 0 && got[len(got)-1].Session.GetCounters().GetOriginal().GetPackets() > 0 {
			last = &got[len(got)-1]
		}
		mu.Unlock()
	}
	s.Timers.Remaining = s.Timers.IdleTimeout // traffic restarted the lifetime
	if r := flow.Diff([]*flow.Session{s}, []*flow.Session{last.Session}); !r.Empty() {
		t.Errorf("the delivered session is not whole: %+v", r)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("watch after cancel: %v", err)
	}
}

// TestWatchStreamLost: the device going away ends Watch with ErrUnreachable.
func TestWatchStreamLost(t *testing.T) {
	a, _ := agenttest.StartSim(t, "fw1", simfw.Vendors()["sami-sim"])
	d := openT(t, a.Config())
	done := watchLive(t, ctxT(t), d, nil, func(device.Delta) {})
	a.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, device.ErrUnreachable) {
			t.Errorf("watch of a vanished device: %v, want ErrUnreachable", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not end when the device vanished")
	}
}

func addr(t *testing.T, s *flow.Session) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s.GetOriginal().GetSourceAddress())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// watchLive starts d.Watch and returns once its stream is live (failing
// the test if it ends or stays silent for 20 s before); the deltas after
// Live go to fn, Watch's result to the returned channel.
func watchLive(t *testing.T, ctx context.Context, d device.Driver, m *flow.Matcher, fn func(device.Delta)) <-chan error {
	t.Helper()
	live := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- d.Watch(ctx, m, func(dl device.Delta) error {
			if dl.Type == device.Live {
				close(live)
			} else {
				fn(dl)
			}
			return nil
		})
	}()
	select {
	case <-live:
	case err := <-done:
		t.Fatalf("watch ended before it was live: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the watch did not say it is live")
	}
	return done
}
