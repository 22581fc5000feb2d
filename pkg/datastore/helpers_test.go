package datastore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/netconf"
)

type (
	device  = flowstate.Device
	session = flowstate.SamiFlowState_FlowState_Sessions_Session
)

const (
	sid1 = "0/6/10.0.0.1/1000/10.0.0.2/80"
	sid2 = "0/17/10.0.0.3/53/10.0.0.4/53"
	sid3 = "0/6/10.0.0.5/2000/10.0.0.6/443"
)

func newRoot() ygot.GoStruct { return &flowstate.Device{} }

func newStore(t *testing.T, opts ...Option) *Store {
	t.Helper()
	codec, err := flow.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(codec, newRoot, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cfg wraps session list entries into <config>.
func cfg(entries ...string) string {
	return `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">` +
		`<flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions>` +
		strings.Join(entries, "") + `</sessions></flow-state></config>`
}

// entry is a <session> with attributes attrs (e.g. ` nc:operation="create"`) and children body.
func entry(id, attrs, body string) string {
	return `<session` + attrs + `><id>` + id + `</id>` + body + `</session>`
}

// full is the body of a session with every mandatory node.
const full = `<address-family>ipv4</address-family><protocol>6</protocol>` +
	`<original><source-address>10.0.0.1</source-address><destination-address>10.0.0.2</destination-address></original>`

func u8(v uint8) *uint8    { return &v }
func u32(v uint32) *uint32 { return &v }
func str(v string) *string { return &v }

// mkSession is a session with the mandatory nodes of full, changed by fns.
func mkSession(id string, fns ...func(*session)) *session {
	s := &session{
		Id:            str(id),
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      u8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: str("10.0.0.1"), DestinationAddress: str("10.0.0.2"),
		},
	}
	for _, f := range fns {
		f(s)
	}
	return s
}

func mkDevice(ss ...*session) *device {
	d := &device{}
	if len(ss) == 0 {
		return d
	}
	sessions := d.GetOrCreateFlowState().GetOrCreateSessions()
	for _, s := range ss {
		if err := sessions.AppendSession(s); err != nil {
			panic(err)
		}
	}
	return d
}

func diff(want, got ygot.GoStruct) string { return cmp.Diff(want, got) }

// rpcErr extracts the first rpc-error of err.
func rpcErr(t *testing.T, err error) *netconf.RPCError {
	t.Helper()
	var re *netconf.RPCError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not an *netconf.RPCError", err, err)
	}
	return re
}

func wantTag(t *testing.T, err error, tag string) *netconf.RPCError {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", tag)
	}
	re := rpcErr(t, err)
	if re.Tag != tag {
		t.Fatalf("error %v: tag %q, want %q", err, re.Tag, tag)
	}
	return re
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func editCand(s *Store, sess Session, xml string) error {
	return s.EditConfig(context.Background(), sess, Candidate, strings.NewReader(xml), EditOptions{})
}

// fakeTimers replaces time.AfterFunc: timeouts fire when the test says.
type fakeTimers struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	mu      sync.Mutex
	d       time.Duration
	fn      func()
	stopped bool
}

func (f *fakeTimers) afterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{d: d, fn: fn}
	f.timers = append(f.timers, t)
	return t
}

func (f *fakeTimers) last() *fakeTimer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.timers) == 0 {
		return nil
	}
	return f.timers[len(f.timers)-1]
}

func (t *fakeTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// fire runs the timeout as time.AfterFunc would (unless stopped).
func (t *fakeTimer) fire() {
	t.mu.Lock()
	stopped := t.stopped
	t.stopped = true
	t.mu.Unlock()
	if !stopped {
		t.fn()
	}
}

// recorder is an apply hook that records the configurations it moved to.
type recorder struct {
	mu    sync.Mutex
	calls []ygot.GoStruct
	fail  error
}

func (r *recorder) apply(_ context.Context, _, to ygot.GoStruct) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.calls = append(r.calls, to)
	return nil
}

func (r *recorder) n() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}
