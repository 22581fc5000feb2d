package datastore

import (
	"context"
	"strings"
	"testing"

	"github.com/sami-netops/sami/generated/flowstate"
)

const p1 = "/sami-flow-state:flow-state/sessions/session[id='" + sid1 + "']"

func withMark(m uint32) func(*session) { return func(s *session) { s.Mark = u32(m) } }

func withStatus(st ...flowstate.E_SamiFlowState_FlowState_Sessions_Session_Status) func(*session) {
	return func(s *session) { s.Status = st }
}

func withTCP(s *session) {
	s.Tcp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established}
}

const (
	seenReply = flowstate.SamiFlowState_FlowState_Sessions_Session_Status_seen_reply
	assured   = flowstate.SamiFlowState_FlowState_Sessions_Session_Status_assured
)

func TestEditConfig(t *testing.T) {
	base := func() *device { return mkDevice(mkSession(sid1, withMark(7), withStatus(seenReply), withTCP)) }
	tests := []struct {
		name     string
		init     *device
		config   string
		opts     EditOptions
		want     *device // nil: unchanged
		wantTag  string
		wantPath string
		wantInfo map[string]string
	}{
		{name: "merge creates a session", init: mkDevice(), config: cfg(entry(sid1, "", full)),
			want: mkDevice(mkSession(sid1))},
		{name: "merge sets a leaf", init: base(), config: cfg(entry(sid1, "", `<mark>9</mark>`)),
			want: mkDevice(mkSession(sid1, withMark(9), withStatus(seenReply), withTCP))},
		{name: "merge adds to a leaf-list", init: base(), config: cfg(entry(sid1, "", `<status>assured</status>`)),
			want: mkDevice(mkSession(sid1, withMark(7), withStatus(seenReply, assured), withTCP))},
		{name: "merge of an existing leaf-list value", init: base(), config: cfg(entry(sid1, "", `<status>seen-reply</status>`)),
			want: base()},
		{name: "create a new session", init: base(), config: cfg(entry(sid2, ` nc:operation="create"`, full)),
			want: mkDevice(mkSession(sid1, withMark(7), withStatus(seenReply), withTCP), mkSession(sid2))},
		{name: "create an existing session", init: base(), config: cfg(entry(sid1, ` nc:operation="create"`, full)),
			wantTag: "data-exists", wantPath: p1},
		{name: "create an existing leaf", init: base(), config: cfg(entry(sid1, "", `<mark nc:operation="create">1</mark>`)),
			wantTag: "data-exists", wantPath: p1 + "/mark"},
		{name: "create a missing leaf", init: mkDevice(mkSession(sid1)), config: cfg(entry(sid1, "", `<mark nc:operation="create">1</mark>`)),
			want: mkDevice(mkSession(sid1, withMark(1)))},
		{name: "create an existing leaf-list value", init: base(), config: cfg(entry(sid1, "", `<status nc:operation="create">seen-reply</status>`)),
			wantTag: "data-exists", wantPath: p1 + "/status[.='seen-reply']"},
		{name: "create an existing container", init: base(), config: cfg(entry(sid1, "", `<tcp nc:operation="create"><state>close</state></tcp>`)),
			wantTag: "data-exists", wantPath: p1 + "/tcp"},
		{name: "create a presence container", init: base(), config: cfg(entry(sid1, "", `<nat><source nc:operation="create"><internal-src-address>192.168.0.1</internal-src-address><external-src-address>10.0.0.1</external-src-address></source></nat>`)),
			want: mkDevice(mkSession(sid1, withMark(7), withStatus(seenReply), withTCP, func(s *session) {
				s.GetOrCreateNat().GetOrCreateSource().InternalSrcAddress = str("192.168.0.1")
				s.Nat.Source.ExternalSrcAddress = str("10.0.0.1")
			}))},
		{name: "delete a session", init: mkDevice(mkSession(sid1), mkSession(sid2)), config: cfg(entry(sid2, ` nc:operation="delete"`, "")),
			want: mkDevice(mkSession(sid1))},
		{name: "delete the last session", init: base(), config: cfg(entry(sid1, ` nc:operation="delete"`, "")),
			want: mkDevice()},
		{name: "delete a missing session", init: base(), config: cfg(entry(sid2, ` nc:operation="delete"`, "")),
			wantTag: "data-missing", wantPath: "/sami-flow-state:flow-state/sessions/session[id='" + sid2 + "']"},
		{name: "remove a missing session", init: base(), config: cfg(entry(sid2, ` nc:operation="remove"`, "")),
			want: base()},
		{name: "delete a leaf without value", init: base(), config: cfg(entry(sid1, "", `<mark nc:operation="delete"/>`)),
			want: mkDevice(mkSession(sid1, withStatus(seenReply), withTCP))},
		{name: "delete a leaf with value", init: base(), config: cfg(entry(sid1, "", `<mark nc:operation="delete">7</mark>`)),
			want: mkDevice(mkSession(sid1, withStatus(seenReply), withTCP))},
		{name: "delete a missing leaf", init: mkDevice(mkSession(sid1)), config: cfg(entry(sid1, "", `<mark nc:operation="delete"></mark>`)),
			wantTag: "data-missing", wantPath: p1 + "/mark"},
		{name: "remove a missing leaf", init: mkDevice(mkSession(sid1)), config: cfg(entry(sid1, "", `<mark nc:operation="remove"/>`)),
			want: mkDevice(mkSession(sid1))},
		{name: "delete a leaf-list value", init: mkDevice(mkSession(sid1, withStatus(seenReply, assured))), config: cfg(entry(sid1, "", `<status nc:operation="delete">seen-reply</status>`)),
			want: mkDevice(mkSession(sid1, withStatus(assured)))},
		{name: "delete a missing leaf-list value", init: base(), config: cfg(entry(sid1, "", `<status nc:operation="delete">assured</status>`)),
			wantTag: "data-missing", wantPath: p1 + "/status[.='assured']"},
		{name: "remove a missing leaf-list value", init: base(), config: cfg(entry(sid1, "", `<status nc:operation="remove">assured</status>`)),
			want: base()},
		{name: "delete a container", init: base(), config: cfg(entry(sid1, "", `<tcp nc:operation="delete"/>`)),
			want: mkDevice(mkSession(sid1, withMark(7), withStatus(seenReply)))},
		{name: "delete a missing container", init: mkDevice(mkSession(sid1)), config: cfg(entry(sid1, "", `<tcp nc:operation="delete"/>`)),
			wantTag: "data-missing", wantPath: p1 + "/tcp"},
		{name: "replace a session", init: base(), config: cfg(entry(sid1, ` nc:operation="replace"`, full+`<label>3</label>`)),
			want: mkDevice(mkSession(sid1, func(s *session) { s.Label = []uint8{3} }))},
		{name: "replace a container", init: mkDevice(mkSession(sid1, func(s *session) {
			s.GetOrCreateTimers().IdleTimeout = u32(30)
			s.Timers.Remaining = u32(10)
		})), config: cfg(entry(sid1, "", `<timers nc:operation="replace"><remaining>5</remaining></timers>`)),
			want: mkDevice(mkSession(sid1, func(s *session) { s.GetOrCreateTimers().Remaining = u32(5) }))},
		{name: "multi-key list", init: mkDevice(mkSession(sid1)), config: cfg(entry(sid1, "", `<vendor-parameter><vendor>acme</vendor><name>x</name><value>1</value></vendor-parameter><vendor-parameter><name>y</name><vendor>acme</vendor><value>2</value></vendor-parameter>`)),
			want: mkDevice(mkSession(sid1, func(s *session) {
				s.GetOrCreateVendorParameter("acme", "x").Value = str("1")
				s.GetOrCreateVendorParameter("acme", "y").Value = str("2")
			}))},
		{name: "multi-key list delete", init: mkDevice(mkSession(sid1, func(s *session) {
			s.GetOrCreateVendorParameter("acme", "x").Value = str("1")
			s.GetOrCreateVendorParameter("acme", "y").Value = str("2")
		})), config: cfg(entry(sid1, "", `<vendor-parameter nc:operation="delete"><vendor>acme</vendor><name>x</name></vendor-parameter>`)),
			want: mkDevice(mkSession(sid1, func(s *session) { s.GetOrCreateVendorParameter("acme", "y").Value = str("2") }))},
		{name: "none without operations changes nothing", init: base(), config: cfg(entry(sid1, "", `<mark>1</mark><status>assured</status>`)),
			opts: EditOptions{DefaultOperation: DefaultNone}, want: base()},
		{name: "none on a missing session", init: base(), config: cfg(entry(sid2, "", `<mark>1</mark>`)),
			opts: EditOptions{DefaultOperation: DefaultNone}, wantTag: "data-missing", wantPath: "/sami-flow-state:flow-state/sessions/session[id='" + sid2 + "']"},
		{name: "none with a delete", init: mkDevice(mkSession(sid1), mkSession(sid2)), config: cfg(entry(sid1, "", `<mark>1</mark>`), entry(sid2, ` nc:operation="delete"`, "")),
			opts: EditOptions{DefaultOperation: DefaultNone}, want: mkDevice(mkSession(sid1))},
		{name: "none with a merge below", init: base(), config: cfg(entry(sid1, "", `<mark nc:operation="merge">1</mark>`)),
			opts: EditOptions{DefaultOperation: DefaultNone}, want: mkDevice(mkSession(sid1, withMark(1), withStatus(seenReply), withTCP))},
		{name: "default replace", init: mkDevice(mkSession(sid1), mkSession(sid2)), config: cfg(entry(sid3, "", full)),
			opts: EditOptions{DefaultOperation: DefaultReplace}, want: mkDevice(mkSession(sid3))},
		{name: "rollback-on-error leaves the target unchanged", init: base(), config: cfg(entry(sid2, "", full), entry(sid1, ` nc:operation="create"`, full)),
			opts: EditOptions{ErrorOption: RollbackOnError}, wantTag: "data-exists", wantPath: p1},
		{name: "stop-on-error leaves the target unchanged", init: base(), config: cfg(entry(sid2, "", full), entry(sid3, ` nc:operation="delete"`, "")),
			opts: EditOptions{ErrorOption: StopOnError}, wantTag: "data-missing"},
		{name: "continue-on-error applies the rest", init: base(), config: cfg(entry(sid1, ` nc:operation="create"`, full), entry(sid2, "", full)),
			opts: EditOptions{ErrorOption: ContinueOnError}, wantTag: "data-exists", wantPath: p1,
			want: mkDevice(mkSession(sid1, withMark(7), withStatus(seenReply), withTCP), mkSession(sid2))},
		{name: "test-only changes nothing", init: base(), config: cfg(entry(sid2, "", full)),
			opts: EditOptions{TestOption: TestOnly}, want: base()},
		{name: "test-only reports a missing mandatory leaf", init: base(), config: cfg(entry(sid2, "", `<protocol>6</protocol>`)),
			opts: EditOptions{TestOption: TestOnly}, wantTag: "data-missing"},
		{name: "candidate edits defer validation", init: base(), config: cfg(entry(sid2, "", `<protocol>17</protocol>`)),
			want: mkDevice(mkSession(sid1, withMark(7), withStatus(seenReply), withTCP), &session{Id: str(sid2), Protocol: u8(17)})},
		{name: "test-then-set validates", init: base(), config: cfg(entry(sid2, "", `<protocol>17</protocol>`)),
			opts: EditOptions{TestOption: TestThenSet}, wantTag: "data-missing", wantPath: "/sami-flow-state:flow-state/sessions/session[id='" + sid2 + "']/address-family"},
		{name: "unknown element", init: base(), config: cfg(entry(sid1, "", `<colour>red</colour>`)),
			wantTag: "unknown-element", wantPath: p1 + "/colour", wantInfo: map[string]string{"bad-element": "colour"}},
		{name: "bad value", init: base(), config: cfg(entry(sid1, "", `<mark>-1</mark>`)),
			wantTag: "invalid-value", wantPath: p1 + "/mark", wantInfo: map[string]string{"bad-element": "mark"}},
		{name: "enum value", init: base(), config: cfg(entry(sid1, "", `<status>sleepy</status>`)),
			wantTag: "invalid-value", wantPath: p1 + "/status"},
		{name: "wrong namespace", init: base(), config: cfg(entry(sid1, "", `<mark xmlns="urn:other">1</mark>`)),
			wantTag: "unknown-namespace", wantInfo: map[string]string{"bad-element": "mark", "bad-namespace": "urn:other"}},
		{name: "unknown module", init: base(), config: `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><system xmlns="urn:other"/></config>`,
			wantTag: "unknown-namespace", wantInfo: map[string]string{"bad-element": "system", "bad-namespace": "urn:other"}},
		{name: "malformed", init: base(), config: cfg(entry(sid1, "", `<mark>1</mork>`)),
			wantTag: "malformed-message"},
		{name: "bad operation", init: base(), config: cfg(entry(sid1, "", `<mark nc:operation="frobnicate">1</mark>`)),
			wantTag: "bad-attribute", wantInfo: map[string]string{"bad-attribute": "operation", "bad-element": "mark"}},
		{name: "missing key", init: base(), config: cfg(`<session><mark>1</mark></session>`),
			wantTag: "missing-element", wantInfo: map[string]string{"bad-element": "id"}},
		{name: "config false node", init: base(), config: cfg(entry(sid1, "", `<counters><original><packets>1</packets></original></counters>`)),
			wantTag: "invalid-value", wantPath: p1 + "/counters"},
		{name: "bad default-operation", init: base(), config: cfg(), opts: EditOptions{DefaultOperation: "merge-ish"},
			wantTag: "invalid-value", wantInfo: map[string]string{"bad-element": "default-operation"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, WithInitialRunning(tc.init))
			before := s.Get(Candidate, false)
			err := s.EditConfig(context.Background(), 1, Candidate, strings.NewReader(tc.config), tc.opts)
			if tc.wantTag == "" {
				mustOK(t, err)
			} else {
				re := wantTag(t, err, tc.wantTag)
				if tc.wantPath != "" && re.Path != tc.wantPath {
					t.Errorf("error-path %q, want %q", re.Path, tc.wantPath)
				}
				for k, v := range tc.wantInfo {
					if re.Info[k] != v {
						t.Errorf("error-info %s = %q, want %q (%v)", k, re.Info[k], v, re)
					}
				}
			}
			want := tc.want
			if want == nil {
				want = before.(*device)
			}
			if d := diff(want, s.Get(Candidate, false)); d != "" {
				t.Errorf("candidate (-want +got):\n%s", d)
			}
			if d := diff(before, s.Get(Running, false)); d != "" {
				t.Errorf("running changed by a candidate edit (-want +got):\n%s", d)
			}
		})
	}
}

func TestEditRunning(t *testing.T) {
	ctx := context.Background()
	t.Run("refused without writable-running", func(t *testing.T) {
		s := newStore(t)
		err := s.EditConfig(ctx, 1, Running, strings.NewReader(cfg(entry(sid1, "", full))), EditOptions{})
		wantTag(t, err, "operation-not-supported")
	})
	t.Run("applied through the hook and validated", func(t *testing.T) {
		rec := &recorder{}
		s := newStore(t, WithWritableRunning(), WithApply(rec.apply))
		mustOK(t, s.EditConfig(ctx, 1, Running, strings.NewReader(cfg(entry(sid1, "", full))), EditOptions{}))
		if d := diff(mkDevice(mkSession(sid1)), s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
		if rec.n() != 1 {
			t.Errorf("apply called %d times, want 1", rec.n())
		}
		err := s.EditConfig(ctx, 1, Running, strings.NewReader(cfg(entry(sid2, "", `<mark>1</mark>`))), EditOptions{})
		wantTag(t, err, "data-missing")
		if rec.n() != 1 {
			t.Errorf("apply called for an invalid edit")
		}
	})
	t.Run("failing hook leaves running unchanged", func(t *testing.T) {
		rec := &recorder{fail: errTest}
		s := newStore(t, WithWritableRunning(), WithApply(rec.apply))
		err := s.EditConfig(ctx, 1, Running, strings.NewReader(cfg(entry(sid1, "", full))), EditOptions{})
		wantTag(t, err, "operation-failed")
		if d := diff(mkDevice(), s.Get(Running, false)); d != "" {
			t.Errorf("running (-want +got):\n%s", d)
		}
	})
}
