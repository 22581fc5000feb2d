package ietfnat

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
)

// TestNetconfdFailures: the device's refusals and failures come back as
// the device sentinels the engine decides on.
func TestNetconfdFailures(t *testing.T) {
	nd, cfg := startNAT(t)
	want := loadSessions(t, "sessions.xml")
	openErr := func(t *testing.T, cfg device.Config) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, err := Open(ctx, cfg)
		if err == nil {
			d.Close()
		}
		return err
	}

	t.Run("lock held by another driver", func(t *testing.T) {
		ctx := ctxT(t)
		d1, d2 := open(t, cfg), open(t, cfg)
		if err := d1.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d2.Lock(ctx); !errors.Is(err, device.ErrLocked) {
			t.Errorf("second Lock: %v", err)
		}
		if err := d2.Stage(ctx, slices.Values(want[:1])); !errors.Is(err, device.ErrLocked) {
			t.Errorf("Stage into a candidate locked by another session: %v", err)
		}
		if err := d1.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d2.Lock(ctx); err != nil {
			t.Errorf("Lock after the other unlocked: %v", err)
		}
		d2.Unlock(ctx)
	})

	t.Run("wrong host key", func(t *testing.T) {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		kh := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize(nd.Addr)}, k)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := cfg
		c.Credentials.KnownHosts = []string{kh}
		if err := openErr(t, c); !errors.Is(err, device.ErrAuth) {
			t.Errorf("Open: %v", err)
		}
	})

	t.Run("password", func(t *testing.T) {
		c := cfg
		c.Credentials.KeyFile, c.Credentials.Password = "", nd.Password
		if err := openErr(t, c); err != nil {
			t.Errorf("Open with the password: %v", err)
		}
		c.Credentials.Password = "wrong"
		if err := openErr(t, c); !errors.Is(err, device.ErrAuth) {
			t.Errorf("Open with a wrong password: %v", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		c := cfg
		c.Address = "127.0.0.1:1"
		if err := openErr(t, c); !errors.Is(err, device.ErrUnreachable) {
			t.Errorf("Open: %v", err)
		}
	})

	t.Run("another instance name", func(t *testing.T) {
		ctx := ctxT(t)
		d := open(t, cfg) // creates instance 1 "cgn-1" with the first Stage
		if err := d.Stage(ctx, slices.Values(want[:1])); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		c := cfg
		c.Options = map[string]string{OptInstanceName: "cgn-2"}
		err := openErr(t, c)
		if !errors.Is(err, device.ErrConfig) {
			t.Errorf("Open: %v", err)
		}
		t.Log(err)
		if err := d.Remove(ctx, []string{want[0].GetId()}); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("close rolls back its own confirmed commit", func(t *testing.T) {
		ctx := ctxT(t)
		d := open(t, cfg)
		if err := d.Stage(ctx, slices.Values(want)); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{Confirmed: true, Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		d.Close()
		d2 := open(t, cfg)
		deadline := time.Now().Add(10 * time.Second)
		for len(readAll(t, d2)) > 0 {
			if time.Now().After(deadline) {
				t.Fatal("not rolled back after the session closed")
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("session lost while locked", func(t *testing.T) {
		ctx := ctxT(t)
		d := open(t, cfg)
		if err := d.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Stage(ctx, slices.Values(want[:2])); err != nil {
			t.Fatal(err)
		}
		nd.Restart(t) // drops every session (and empties the datastores)
		if err := d.Stage(ctx, slices.Values(want[2:])); !errors.Is(err, device.ErrUnreachable) {
			t.Fatalf("Stage after the lock was lost: %v", err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); !errors.Is(err, device.ErrUnreachable) {
			t.Fatalf("Commit after the lock was lost: %v", err)
		}
		if err := d.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Stage(ctx, slices.Values(want)); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		sameSessions(t, "after reconnecting", want, readAll(t, d))
		if err := d.Remove(ctx, idsOf(want)); err != nil {
			t.Fatal(err)
		}
		if err := d.Commit(ctx, device.CommitOptions{}); err != nil {
			t.Fatal(err)
		}
		d.Unlock(ctx)
	})
}

// TestNetconfdWatch: the polling watch reports a binding appearing,
// changing and going away.
func TestNetconfdWatch(t *testing.T) {
	nd, cfg := startNAT(t)
	cfg.Options = map[string]string{OptWatchInterval: "300ms"}
	d := open(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	deltas := make(chan device.Delta, 16)
	done := make(chan error, 1)
	go func() { done <- d.Watch(ctx, nil, func(dl device.Delta) error { deltas <- dl; return nil }) }()
	expect := func(typ device.DeltaType, id string) {
		t.Helper()
		select {
		case dl := <-deltas:
			if dl.Type != typ || dl.ID != id || (typ == device.Upserted && dl.Session.GetId() != id) {
				t.Fatalf("delta %v %s, want %v %s", dl.Type, dl.ID, typ, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v delta for %s", typ, id)
		}
	}
	mine := sess(nil)
	if err := flow.SetKey(mine); err != nil {
		t.Fatal(err)
	}
	// The watch reports what changed after its baseline read: Live says
	// it is read.
	expect(device.Live, "")
	rawEdit(t, nd, `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><id>1</id><mapping-table>`+
		string(withIndex(t, mine, 7))+`</mapping-table></instance></instances></nat></config>`)
	expect(device.Upserted, mine.GetId())
	changed := sess(func(s *flow.Session) { s.Nat.Source.ExternalSrcPort = ygotU16(1) })
	rawEdit(t, nd, `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><id>1</id><mapping-table>`+
		string(withIndex(t, changed, 7))+`</mapping-table></instance></instances></nat></config>`)
	expect(device.Upserted, mine.GetId())
	rawEdit(t, nd, `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><id>1</id><mapping-table>`+
		`<mapping-entry nc:operation="delete"><index>7</index></mapping-entry></mapping-table></instance></instances></nat></config>`)
	expect(device.Removed, mine.GetId())
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch: %v", err)
	}
	select {
	case dl := <-deltas:
		t.Errorf("unexpected delta %v %s", dl.Type, dl.ID)
	default:
	}
}

func idsOf(ss []*flow.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.GetId())
	}
	return out
}
