package gnmiserver_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/gnmiserver"
)

func TestCapabilities(t *testing.T) {
	e := start(t)
	r, err := e.client.Capabilities(ctxT(t), &gpb.CapabilityRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.GNMIVersion != "0.10.0" {
		t.Errorf("gNMI version %q", r.GNMIVersion)
	}
	var found bool
	for _, m := range r.SupportedModels {
		if m.Name == "sami-flow-state" && m.Organization == "The sami project" && m.Version == "2026-11-21" {
			found = true
		}
	}
	if !found {
		t.Errorf("sami-flow-state not in models: %v", r.SupportedModels)
	}
	encs := map[gpb.Encoding]bool{}
	for _, x := range r.SupportedEncodings {
		encs[x] = true
	}
	if !encs[gpb.Encoding_JSON_IETF] || !encs[gpb.Encoding_JSON] {
		t.Errorf("encodings %v", r.SupportedEncodings)
	}
}

// get returns the updates of a single-path Get.
func get(t *testing.T, e *env, p *gpb.Path, dt gpb.GetRequest_DataType) ([]*gpb.Update, error) {
	t.Helper()
	r, err := e.client.Get(ctxT(t), &gpb.GetRequest{Path: []*gpb.Path{p}, Type: dt, Encoding: gpb.Encoding_JSON_IETF})
	if err != nil {
		return nil, err
	}
	if len(r.Notification) != 1 {
		t.Fatalf("%d notifications", len(r.Notification))
	}
	return r.Notification[0].Update, nil
}

func decode(t *testing.T, u *gpb.Update) any {
	t.Helper()
	b := u.GetVal().GetJsonIetfVal()
	if b == nil {
		t.Fatalf("update %s has no json_ietf_val: %v", prototext.Format(u.Path), u.Val)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGet(t *testing.T) {
	e := start(t)

	t.Run("sessions container", func(t *testing.T) {
		us, err := get(t, e, sessionsPath(), gpb.GetRequest_ALL)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 1 {
			t.Fatalf("%d updates", len(us))
		}
		v := decode(t, us[0]).(map[string]any)
		list, _ := v["sami-flow-state:session"].([]any)
		if len(list) != 3 {
			t.Fatalf("sessions: %v", v)
		}
		// The value unmarshals back into the generated struct.
		var got flowstate.SamiFlowState_FlowState_Sessions
		if err := flowstate.Unmarshal(us[0].Val.GetJsonIetfVal(), &got); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if got.GetSession(natID).GetNat().GetSource().GetExternalSrcPort() != 61000 {
			t.Errorf("NAT session did not round-trip")
		}
	})

	t.Run("session list without key", func(t *testing.T) {
		p := sessionsPath()
		p.Elem = append(p.Elem, &gpb.PathElem{Name: "session"})
		us, err := get(t, e, p, gpb.GetRequest_ALL)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, u := range us {
			ids[u.Path.Elem[2].Key["id"]] = true
		}
		if len(us) != 3 || !ids[tcpID] || !ids[udp6ID] || !ids[natID] {
			t.Fatalf("got %d updates for %v", len(us), ids)
		}
	})

	t.Run("one session by key", func(t *testing.T) {
		us, err := get(t, e, sessionPath(udp6ID), gpb.GetRequest_ALL)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 1 || us[0].Path.Elem[2].Key["id"] != udp6ID {
			t.Fatalf("updates %v", us)
		}
		v := decode(t, us[0]).(map[string]any)
		if v["sami-flow-state:address-family"] != "ipv6" && v["address-family"] != "ipv6" {
			t.Errorf("session: %v", v)
		}
	})

	t.Run("leaf", func(t *testing.T) {
		us, err := get(t, e, sessionPath(natID, "nat", "source", "external-src-address"), gpb.GetRequest_ALL)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 1 || string(us[0].Val.GetJsonIetfVal()) != `"203.0.113.5"` {
			t.Fatalf("updates %v", us)
		}
		us, err = get(t, e, sessionPath(tcpID, "counters", "original", "bytes"), gpb.GetRequest_ALL)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(us[0].Val.GetJsonIetfVal()); got != `"1500"` { // RFC 7951: uint64 as string
			t.Fatalf("bytes = %s", got)
		}
	})

	t.Run("origin and module prefix", func(t *testing.T) {
		p := sessionPath(tcpID, "protocol")
		p.Origin = "sami-flow-state"
		p.Elem[0].Name = "sami-flow-state:flow-state"
		us, err := get(t, e, p, gpb.GetRequest_ALL)
		if err != nil {
			t.Fatal(err)
		}
		if string(us[0].Val.GetJsonIetfVal()) != "6" {
			t.Fatalf("protocol %s", us[0].Val.GetJsonIetfVal())
		}
	})

	t.Run("config vs state", func(t *testing.T) {
		us, err := get(t, e, sessionPath(tcpID), gpb.GetRequest_CONFIG)
		if err != nil {
			t.Fatal(err)
		}
		cfg := string(us[0].Val.GetJsonIetfVal())
		if strings.Contains(cfg, "counters") || !strings.Contains(cfg, "protocol") || !strings.Contains(cfg, "established") {
			t.Errorf("CONFIG: %s", cfg)
		}
		us, err = get(t, e, sessionPath(tcpID), gpb.GetRequest_STATE)
		if err != nil {
			t.Fatal(err)
		}
		st := decode(t, us[0]).(map[string]any)
		if _, ok := st["sami-flow-state:counters"]; !ok {
			t.Errorf("STATE without counters: %v", st)
		}
		if _, ok := st["sami-flow-state:protocol"]; ok {
			t.Errorf("STATE with config leaf: %v", st)
		}
		// The whole tree: STATE has capabilities and the key of the one
		// session with counters; CONFIG has no capabilities.
		us, err = get(t, e, &gpb.Path{}, gpb.GetRequest_STATE)
		if err != nil {
			t.Fatal(err)
		}
		all := string(us[0].Val.GetJsonIetfVal())
		if !strings.Contains(all, "capabilities") || !strings.Contains(all, tcpID) || strings.Contains(all, natID) {
			t.Errorf("STATE root: %s", all)
		}
		us, err = get(t, e, &gpb.Path{}, gpb.GetRequest_CONFIG)
		if err != nil {
			t.Fatal(err)
		}
		if all := string(us[0].Val.GetJsonIetfVal()); strings.Contains(all, "capabilities") || !strings.Contains(all, natID) {
			t.Errorf("CONFIG root: %s", all)
		}
		// A state leaf asked for as CONFIG: nothing.
		_, err = get(t, e, sessionPath(tcpID, "counters"), gpb.GetRequest_CONFIG)
		if status.Code(err) != codes.NotFound {
			t.Errorf("CONFIG of counters: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if _, err := get(t, e, sessionPath("0/6/10.9.9.9/1/10.9.9.8/2"), gpb.GetRequest_ALL); status.Code(err) != codes.NotFound {
			t.Errorf("missing session: %v", err)
		}
		if _, err := get(t, e, sessionPath(udp6ID, "nat"), gpb.GetRequest_ALL); status.Code(err) != codes.NotFound {
			t.Errorf("absent container: %v", err)
		}
		bad := &gpb.Path{Elem: []*gpb.PathElem{{Name: "flow-state"}, {Name: "no-such"}}}
		if _, err := get(t, e, bad, gpb.GetRequest_ALL); status.Code(err) != codes.InvalidArgument {
			t.Errorf("bad path: %v", err)
		}
		badKey := sessionsPath()
		badKey.Elem = append(badKey.Elem, &gpb.PathElem{Name: "session", Key: map[string]string{"name": "x"}})
		if _, err := get(t, e, badKey, gpb.GetRequest_ALL); status.Code(err) != codes.InvalidArgument {
			t.Errorf("bad key: %v", err)
		}
		_, err := e.client.Get(ctxT(t), &gpb.GetRequest{Path: []*gpb.Path{sessionsPath()}, Encoding: gpb.Encoding_PROTO})
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("PROTO encoding: %v", err)
		}
		_, err = e.client.Get(ctxT(t), &gpb.GetRequest{Prefix: &gpb.Path{Target: "other"}, Path: []*gpb.Path{sessionsPath()}, Encoding: gpb.Encoding_JSON_IETF})
		if status.Code(err) != codes.NotFound {
			t.Errorf("other target: %v", err)
		}
	})
}

// newSessionJSON is the RFC 7951 encoding of a new UDP session.
func newSessionJSON(t *testing.T) []byte {
	t.Helper()
	s := session(t, 17, "10.0.0.9", 1234, "192.0.2.1", 53)
	if *s.Id != newID {
		t.Fatalf("id %q", *s.Id)
	}
	b, err := ygot.Marshal7951(s, &ygot.RFC7951JSONConfig{AppendModuleName: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSetUpdateAndDelete(t *testing.T) {
	e := start(t)
	req := &gpb.SetRequest{
		Prefix: &gpb.Path{Target: "dut"},
		Delete: []*gpb.Path{sessionPath(udp6ID)},
		Update: []*gpb.Update{
			{Path: sessionPath(newID), Val: &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: newSessionJSON(t)}}},
			{Path: sessionPath(tcpID, "mark"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: 99}}},
		},
	}
	r, err := e.client.Set(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Response) != 3 || r.Response[0].Op != gpb.UpdateResult_DELETE || r.Response[1].Op != gpb.UpdateResult_UPDATE {
		t.Errorf("response %v", r.Response)
	}
	dev, n := e.src.snapshot()
	if n != 1 {
		t.Fatalf("%d replaces", n)
	}
	ss := dev.GetFlowState().GetSessions()
	if ss.GetSession(udp6ID) != nil || ss.GetSession(newID) == nil || ss.GetSession(tcpID).GetMark() != 99 {
		t.Errorf("after set: sessions %v", keys(ss))
	}
	if err := dev.Validate(); err != nil {
		t.Errorf("replaced tree invalid: %v", err)
	}
	// Get reflects it.
	us, err := get(t, e, sessionPath(newID, "protocol"), gpb.GetRequest_ALL)
	if err != nil || string(us[0].Val.GetJsonIetfVal()) != "17" {
		t.Errorf("get new session: %v %v", us, err)
	}
	if _, err := get(t, e, sessionPath(udp6ID), gpb.GetRequest_ALL); status.Code(err) != codes.NotFound {
		t.Errorf("deleted session: %v", err)
	}

	// Replace of a session's tcp container.
	rep := &gpb.SetRequest{Replace: []*gpb.Update{{
		Path: sessionPath(tcpID, "tcp"),
		Val:  &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(`{"sami-flow-state:state":"time-wait"}`)}},
	}}}
	if _, err := e.client.Set(ctxT(t), rep); err != nil {
		t.Fatal(err)
	}
	dev, _ = e.src.snapshot()
	if got := dev.GetFlowState().GetSessions().GetSession(tcpID).GetTcp().GetState(); got != flowstate.SamiFlowState_TcpState_time_wait {
		t.Errorf("tcp state %v", got)
	}
}

func keys(ss *flowstate.SamiFlowState_FlowState_Sessions) []string {
	var out []string
	for k := range ss.Session {
		out = append(out, k)
	}
	return out
}

func TestSetInvalid(t *testing.T) {
	e := start(t)
	before, _ := e.src.snapshot()
	for name, req := range map[string]*gpb.SetRequest{
		"bad enum": {Update: []*gpb.Update{{Path: sessionPath(tcpID, "address-family"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "ipv5"}}}}},
		"bad json": {Update: []*gpb.Update{{Path: sessionPath(newID), Val: &gpb.TypedValue{Value: &gpb.TypedValue_JsonIetfVal{JsonIetfVal: []byte(`{"sami-flow-state:protocol":"udp"}`)}}}}},
		// Valid delete with an invalid update: nothing at all is applied.
		"mixed": {
			Delete: []*gpb.Path{sessionPath(udp6ID)},
			Update: []*gpb.Update{{Path: sessionPath(tcpID, "zone-id"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_IntVal{IntVal: -1}}}},
		},
		"pattern": {Update: []*gpb.Update{{Path: sessionPath(tcpID, "owner", "endpoint-address"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "not-an-ip"}}}}},
		"unknown": {Update: []*gpb.Update{{Path: sessionPath(tcpID, "colour"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_StringVal{StringVal: "red"}}}}},
		"state":   {Update: []*gpb.Update{{Path: sessionPath(tcpID, "counters", "original", "bytes"), Val: &gpb.TypedValue{Value: &gpb.TypedValue_UintVal{UintVal: 1}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.client.Set(ctxT(t), req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("err = %v, want InvalidArgument", err)
			}
			t.Logf("%v", err)
		})
	}
	after, n := e.src.snapshot()
	if n != 0 {
		t.Errorf("%d replaces", n)
	}
	if d, _ := ygot.Diff(before, after); len(d.GetUpdate())+len(d.GetDelete()) > 0 {
		t.Errorf("tree changed: %v", d)
	}
}

func TestSetReplaceFails(t *testing.T) {
	e := start(t)
	e.src.setReplaceErr(errors.New("device busy"))
	before, _ := e.src.snapshot()
	_, err := e.client.Set(ctxT(t), &gpb.SetRequest{Delete: []*gpb.Path{sessionPath(tcpID)}})
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "device busy") {
		t.Fatalf("err = %v", err)
	}
	e.src.setReplaceErr(status.Error(codes.FailedPrecondition, "locked"))
	_, err = e.client.Set(ctxT(t), &gpb.SetRequest{Delete: []*gpb.Path{sessionPath(tcpID)}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("err = %v", err)
	}
	after, _ := e.src.snapshot()
	if d, _ := ygot.Diff(before, after); len(d.GetUpdate())+len(d.GetDelete()) > 0 {
		t.Errorf("tree changed: %v", d)
	}
	if _, err := get(t, e, sessionPath(tcpID), gpb.GetRequest_ALL); err != nil {
		t.Errorf("session gone: %v", err)
	}
}

// collect reads a subscription into a channel.
func collect(st gpb.GNMI_SubscribeClient) <-chan *gpb.SubscribeResponse {
	ch := make(chan *gpb.SubscribeResponse, 1024)
	go func() {
		defer close(ch)
		for {
			r, err := st.Recv()
			if err != nil {
				return
			}
			ch <- r
		}
	}()
	return ch
}

// until reads responses until pred holds, and returns them.
func until(t *testing.T, ch <-chan *gpb.SubscribeResponse, what string, pred func(*gpb.SubscribeResponse) bool) []*gpb.SubscribeResponse {
	t.Helper()
	var got []*gpb.SubscribeResponse
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before %s (%d responses)", what, len(got))
			}
			got = append(got, r)
			if pred(r) {
				return got
			}
		case <-timeout:
			t.Fatalf("timeout waiting for %s (%d responses)", what, len(got))
		}
	}
}

func isSync(r *gpb.SubscribeResponse) bool { return r.GetSyncResponse() }

// mentions reports whether an update or delete of r is under session id.
func mentions(r *gpb.SubscribeResponse, id string, deleted bool) bool {
	n := r.GetUpdate()
	if n == nil {
		return false
	}
	paths := []*gpb.Path{}
	if deleted {
		paths = append(paths, n.Delete...)
	} else {
		for _, u := range n.Update {
			paths = append(paths, u.Path)
		}
	}
	for _, p := range paths {
		for _, e := range append(append([]*gpb.PathElem{}, n.GetPrefix().GetElem()...), p.GetElem()...) {
			if e.Key["id"] == id {
				return true
			}
		}
	}
	return false
}

func subscribeReq(mode gpb.SubscriptionList_Mode, p *gpb.Path) *gpb.SubscribeRequest {
	return &gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Subscribe{Subscribe: &gpb.SubscriptionList{
		Prefix:       &gpb.Path{Target: "dut"},
		Mode:         mode,
		Encoding:     gpb.Encoding_JSON_IETF,
		Subscription: []*gpb.Subscription{{Path: p, Mode: gpb.SubscriptionMode_ON_CHANGE}},
	}}}
}

func TestSubscribeOnce(t *testing.T) {
	e := start(t)
	st, err := e.client.Subscribe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(subscribeReq(gpb.SubscriptionList_ONCE, sessionsPath())); err != nil {
		t.Fatal(err)
	}
	got := until(t, collect(st), "sync_response", isSync)
	seen := map[string]bool{}
	for _, r := range got {
		for _, id := range []string{tcpID, udp6ID, natID} {
			if mentions(r, id, false) {
				seen[id] = true
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("initial data before sync covers %v (%d responses)", seen, len(got))
	}
	if got[len(got)-1].GetSyncResponse() != true {
		t.Errorf("last response is not sync")
	}
}

func TestSubscribeStream(t *testing.T) {
	e := start(t)
	st, err := e.client.Subscribe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// No target, module-prefixed path: the server fills in / strips.
	req := subscribeReq(gpb.SubscriptionList_STREAM, &gpb.Path{Origin: "sami-flow-state", Elem: []*gpb.PathElem{{Name: "sami-flow-state:flow-state"}}})
	req.GetSubscribe().Prefix = nil
	if err := st.Send(req); err != nil {
		t.Fatal(err)
	}
	ch := collect(st)
	until(t, ch, "sync_response", isSync)

	e.src.add(t, session(t, 17, "10.0.0.9", 1234, "192.0.2.1", 53))
	until(t, ch, "update of the new session", func(r *gpb.SubscribeResponse) bool { return mentions(r, newID, false) })

	e.src.remove(t, natID)
	until(t, ch, "delete of the NAT session", func(r *gpb.SubscribeResponse) bool { return mentions(r, natID, true) })

	// A Set reaches subscribers through the source's deltas.
	if _, err := e.client.Set(ctxT(t), &gpb.SetRequest{Delete: []*gpb.Path{sessionPath(tcpID)}}); err != nil {
		t.Fatal(err)
	}
	until(t, ch, "delete of the TCP session", func(r *gpb.SubscribeResponse) bool { return mentions(r, tcpID, true) })
}

func TestSubscribePoll(t *testing.T) {
	e := start(t)
	st, err := e.client.Subscribe(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(subscribeReq(gpb.SubscriptionList_POLL, sessionPath(tcpID))); err != nil {
		t.Fatal(err)
	}
	ch := collect(st)
	got := until(t, ch, "first sync", isSync)
	if len(got) < 2 || !mentions(got[0], tcpID, false) {
		t.Fatalf("first poll: %v", got)
	}
	e.src.add(t, session(t, 17, "10.0.0.9", 1234, "192.0.2.1", 53))
	if err := st.Send(&gpb.SubscribeRequest{Request: &gpb.SubscribeRequest_Poll{Poll: &gpb.Poll{}}}); err != nil {
		t.Fatal(err)
	}
	got = until(t, ch, "second sync", isSync)
	for _, r := range got {
		if mentions(r, newID, false) {
			t.Errorf("poll of one session returned another")
		}
	}
	if len(got) < 2 || !mentions(got[0], tcpID, false) {
		t.Fatalf("second poll: %v", got)
	}
}

func TestSubscribeErrors(t *testing.T) {
	e := start(t)
	for name, req := range map[string]*gpb.SubscribeRequest{
		"bad path": subscribeReq(gpb.SubscriptionList_ONCE, &gpb.Path{Elem: []*gpb.PathElem{{Name: "nope"}}}),
		"other target": func() *gpb.SubscribeRequest {
			r := subscribeReq(gpb.SubscriptionList_ONCE, sessionsPath())
			r.GetSubscribe().Prefix.Target = "other"
			return r
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := e.client.Subscribe(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(req); err != nil {
				t.Fatal(err)
			}
			_, err = st.Recv()
			if c := status.Code(err); c != codes.InvalidArgument && c != codes.NotFound {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestServeRequiresCredentials(t *testing.T) {
	src := newFakeSource(t)
	schema, err := flowstate.Schema()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gnmiserver.New(src, schema, gnmiserver.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var creds credentials.TransportCredentials
	if err := srv.Serve(context.Background(), ln, creds); err == nil {
		t.Fatal("Serve without credentials succeeded")
	}
}

func TestTLSClientCertificates(t *testing.T) {
	src := newFakeSource(t)
	schema, err := flowstate.Schema()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gnmiserver.New(src, schema, gnmiserver.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, pool := testCert(t, dir, "server")
	clientCert, clientKey, _ := testCert(t, dir, "client")
	tcfg, err := gnmiserver.TLSConfig(certFile, keyFile, clientCert) // the client cert is its own CA
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, credentials.NewTLS(tcfg)) }()
	defer func() { cancel(); srv.Close(); <-served }()

	capab := func(cfg *tls.Config) error {
		conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = gpb.NewGNMIClient(conn).Capabilities(ctxT(t), &gpb.CapabilityRequest{})
		return err
	}
	if err := capab(&tls.Config{RootCAs: pool, ServerName: "localhost"}); err == nil {
		t.Error("a client without a certificate was accepted")
	}
	kp, err := tls.LoadX509KeyPair(clientCert, clientKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := capab(&tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{kp}}); err != nil {
		t.Errorf("a client with a valid certificate was refused: %v", err)
	}
}
