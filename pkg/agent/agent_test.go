package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/backend"
	"github.com/sami-netops/sami/pkg/datastore"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/pkg/yangxml"
)

func session(port uint16) *flow.Session {
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.1"), DestinationAddress: ygot.String("192.0.2.1"),
			SourcePort: ygot.Uint16(port), DestinationPort: ygot.Uint16(443),
		},
		Tcp:    &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(3600)},
	}
	if err := flow.SetKey(s); err != nil {
		panic(err)
	}
	return s
}

type rig struct {
	fw  *simfw.Firewall
	cli *netconf.Session
}

// start runs an agent over a simulated firewall behind our NETCONF server
// on loopback, and connects our client to it.
func start(t *testing.T, p simfw.Personality, traffic ...*flow.Session) *rig {
	t.Helper()
	fw := simfw.New(p)
	if len(traffic) > 0 {
		if err := fw.Upsert(context.Background(), traffic); err != nil {
			t.Fatal(err)
		}
	}
	return &rig{fw: fw, cli: serve(t, fw)}
}

// serve runs an agent over b behind our NETCONF server on loopback and
// returns a client session to it.
func serve(t *testing.T, b backend.Backend) *netconf.Session {
	t.Helper()
	return agenttest.Start(t, b.Name(), b, agenttest.WithoutGNMI()).Client(t)
}

func ids(fw *simfw.Firewall) []string {
	var out []string
	for _, s := range fw.Snapshot() {
		out = append(out, s.GetId())
	}
	sort.Strings(out)
	return out
}

func idsOf(ss ...*flow.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.GetId())
	}
	sort.Strings(out)
	return out
}

func edit(ctx context.Context, r *rig, op yangxml.Operation, ss ...*flow.Session) error {
	codec, _ := flow.NewCodec()
	var opts []yangxml.EncodeOption
	if op != "" {
		opts = append(opts, yangxml.WithOperation(flow.SessionsPath, op))
	}
	return r.cli.EditConfig(ctx, netconf.Candidate, netconf.ConfigFunc(func(w io.Writer) error {
		le, err := codec.NewListEncoder(w, flow.SessionsPath, append(opts, yangxml.Wrapper("config"), yangxml.ConfigOnly())...)
		if err != nil {
			return err
		}
		for _, s := range ss {
			if err := le.Encode(s); err != nil {
				return err
			}
		}
		return le.Close()
	}))
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: device holds %v, want %v", what, got, want)
	}
}

func TestAgentGetIsLive(t *testing.T) {
	ctx := context.Background()
	r := start(t, simfw.Vendors()["sami-sim"], session(1000))
	// A flow created by traffic after the agent started shows up at once.
	if err := r.fw.Upsert(ctx, []*flow.Session{session(1001)}); err != nil {
		t.Fatal(err)
	}
	r.fw.Touch(session(1000).GetId(), 10, 1500)
	rep, err := r.cli.Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	codec, _ := flow.NewCodec()
	d := &flowstate.Device{}
	if err := codec.Unmarshal(append(append([]byte(`<data xmlns="`+netconf.BaseNS+`">`), rep.Data...), `</data>`...), d); err != nil {
		t.Fatal(err)
	}
	if n := len(d.GetFlowState().GetSessions().Session); n != 2 {
		t.Fatalf("<get> shows %d sessions, want 2", n)
	}
	if d.GetFlowState().GetCapabilities().GetVendor() == "" {
		t.Error("<get> shows no capabilities")
	}
	if c := d.GetFlowState().GetSessions().GetSession(session(1000).GetId()).GetCounters(); c.GetOriginal().GetPackets() == 0 {
		t.Errorf("counters not served: %+v", c)
	}
}

func TestAgentCommitWritesOnlyTheDifference(t *testing.T) {
	ctx := context.Background()
	r := start(t, simfw.Vendors()["sami-sim"], session(1000), session(1001))
	if err := r.cli.Lock(ctx, netconf.Candidate); err != nil {
		t.Fatal(err)
	}
	if err := edit(ctx, r, "", session(2000), session(2001)); err != nil {
		t.Fatal(err)
	}
	if err := edit(ctx, r, yangxml.OpDelete, session(1001)); err != nil {
		t.Fatal(err)
	}
	if err := r.cli.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, "after commit", ids(r.fw), idsOf(session(1000), session(2000), session(2001)))
}

// TestAgentConfirmedCommitRollback: the rollback restores exactly what the
// commit changed; a flow created by traffic meanwhile survives it.
func TestAgentConfirmedCommitRollback(t *testing.T) {
	ctx := context.Background()
	r := start(t, simfw.Vendors()["sami-sim"], session(1000), session(1001))
	changed := session(1000)
	changed.Tcp.State = flowstate.SamiFlowState_TcpState_fin_wait
	if err := edit(ctx, r, "", session(3000), changed); err != nil {
		t.Fatal(err)
	}
	if err := edit(ctx, r, yangxml.OpDelete, session(1001)); err != nil {
		t.Fatal(err)
	}
	if err := r.cli.Commit(ctx, netconf.ConfirmTimeout(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check(t, "after confirmed commit", ids(r.fw), idsOf(session(1000), session(3000)))
	// Traffic creates a flow while the commit is pending.
	if err := r.fw.Upsert(ctx, []*flow.Session{session(4000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.cli.Get(ctx, nil); err != nil { // reads never disturb the pending commit
		t.Fatal(err)
	}
	if err := r.cli.CancelCommit(ctx, ""); err != nil {
		t.Fatal(err)
	}
	check(t, "after cancel-commit", ids(r.fw), idsOf(session(1000), session(1001), session(4000)))
	for _, s := range r.fw.Snapshot() {
		if s.GetId() == session(1000).GetId() && s.GetTcp().GetState() != flowstate.SamiFlowState_TcpState_established {
			t.Errorf("replaced session not restored: state %v", s.GetTcp().GetState())
		}
	}
}

func TestAgentCapacityRefusedBeforeWriting(t *testing.T) {
	ctx := context.Background()
	p := simfw.Vendors()["sami-sim"]
	p.MaxSessions = 3
	r := start(t, p, session(1000))
	err := edit(ctx, r, "", session(2000), session(2001), session(2002))
	if err == nil {
		err = r.cli.Commit(ctx)
	}
	var re *netconf.RPCError
	if !errors.As(err, &re) || re.Tag != "resource-denied" {
		t.Fatalf("got %v, want resource-denied", err)
	}
	t.Logf("device said: %v", re)
	check(t, "after refused commit", ids(r.fw), idsOf(session(1000)))
}

func TestAgentRefusalMidBatchLeavesNothing(t *testing.T) {
	ctx := context.Background()
	r := start(t, simfw.Vendors()["sami-sim"], session(1000))
	changed := session(1000)
	changed.Tcp.State = flowstate.SamiFlowState_TcpState_close_wait
	if err := edit(ctx, r, "", changed, session(2000), session(2001), session(2002)); err != nil {
		t.Fatal(err)
	}
	r.fw.FailWriteAt(3)
	err := r.cli.Commit(ctx)
	var re *netconf.RPCError
	if !errors.As(err, &re) || re.Tag != "operation-failed" {
		t.Fatalf("got %v, want operation-failed", err)
	}
	t.Logf("device said: %v", re)
	check(t, "after refused commit", ids(r.fw), idsOf(session(1000)))
	if s := r.fw.Snapshot()[0]; s.GetTcp().GetState() != flowstate.SamiFlowState_TcpState_established {
		t.Errorf("replaced session not restored: %v", s.GetTcp().GetState())
	}
	// The candidate still holds the edit; a retry without the fault succeeds.
	if err := r.cli.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(ids(r.fw)); n != 4 {
		t.Fatalf("retry: %d sessions", n)
	}
}

func TestGNMISource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fw := simfw.New(simfw.Vendors()["sami-sim"])
	if err := fw.Upsert(ctx, []*flow.Session{session(1000), session(1001)}); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(ctx, fw)
	if err != nil {
		t.Fatal(err)
	}
	src := a.GNMI()
	cur, err := src.Current(ctx)
	if err != nil || len(cur.(*flowstate.Device).GetFlowState().GetSessions().Session) != 2 {
		t.Fatalf("Current: %v", err)
	}
	// Updates: watch, then change the device.
	got := make(chan string, 8)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	go src.Updates(wctx, func(ns []*gpb.Notification) error {
		for _, n := range ns {
			switch {
			case len(n.Delete) > 0:
				got <- "delete " + n.Delete[0].Elem[2].Key["id"]
			case n.Prefix != nil:
				got <- "update " + n.Prefix.Elem[2].Key["id"]
			}
		}
		return nil
	})
	for fw.Watchers() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	// Replace: a gNMI Set result with one session more and one less.
	next := cur.(*flowstate.Device)
	next.GetFlowState().GetSessions().AppendSession(session(2000))
	next.GetFlowState().GetSessions().DeleteSession(session(1001).GetId())
	if err := src.Replace(ctx, next); err != nil {
		t.Fatal(err)
	}
	check(t, "after Replace", ids(fw), idsOf(session(1000), session(2000)))
	want := map[string]bool{"update " + session(2000).GetId(): true, "delete " + session(1001).GetId(): true}
	for len(want) > 0 {
		select {
		case ev := <-got:
			delete(want, ev)
		case <-ctx.Done():
			t.Fatalf("notifications missing: %v", want)
		}
	}
	// A pending confirmed commit (from NETCONF) blocks gNMI writes.
	mustOK(t, a.Store().Commit(ctx, 7, datastore.CommitOptions{Confirmed: true}))
	var re *netconf.RPCError
	if err := src.Replace(ctx, next); !errors.As(err, &re) || re.Tag != "in-use" {
		t.Fatalf("Replace during a pending confirmed commit: %v", err)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
