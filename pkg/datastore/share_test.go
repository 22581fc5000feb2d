package datastore

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
)

func sessionsOfTree(t ygot.GoStruct) map[string]*session {
	return t.(*device).GetFlowState().GetSessions().Session
}

// An edit never changes the tree it was made from, and shares with it
// every session it does not touch.
func TestEditSharesUntouchedNodes(t *testing.T) {
	labels := make([]uint8, 2, 16) // spare capacity: an append in place would show
	labels[0], labels[1] = 1, 2
	init := mkDevice(
		mkSession(sid1, func(s *session) { s.Label = labels }),
		mkSession(sid2, func(s *session) { s.Mark = u32(5) }),
		mkSession(sid3),
	)
	s := newStore(t, WithInitialRunning(init))
	before := s.Snapshot(Running)
	pristine, err := ygot.DeepCopy(before)
	if err != nil {
		t.Fatal(err)
	}
	edits := []string{
		cfg(entry(sid1, "", `<mark>9</mark><label>7</label><label nc:operation="delete">1</label>`)),
		cfg(entry(sid2, ` nc:operation="remove"`, "")),
		cfg(entry(sid3, ` nc:operation="replace"`, full+`<mark>1</mark>`)),
	}
	for _, e := range edits {
		mustOK(t, editCand(s, 1, e))
	}
	if d := diff(pristine, before); d != "" {
		t.Fatalf("the edits changed the tree they started from (-before +after):\n%s", d)
	}
	old, got := sessionsOfTree(before), sessionsOfTree(s.Snapshot(Candidate))
	if got[sid1] == old[sid1] || got[sid1].GetMark() != 9 || !reflect.DeepEqual(got[sid1].Label, []uint8{2, 7}) {
		t.Errorf("merged session: %+v (labels %v)", got[sid1], got[sid1].Label)
	}
	if _, ok := got[sid2]; ok {
		t.Error("removed session still there")
	}
	if got[sid3] == old[sid3] {
		t.Error("replaced session is the old struct")
	}
	// An edit of one session shares the others.
	mustOK(t, editCand(s, 1, cfg(entry(sid1, "", `<mark>10</mark>`))))
	if cur := sessionsOfTree(s.Snapshot(Candidate)); cur[sid3] != got[sid3] {
		t.Error("an edit of another session copied this one")
	}
}

// Pruning still happens on the nodes an edit touched: removing the last
// session leaves no sessions container, emptying a leaf-list no slice.
func TestEditPrunes(t *testing.T) {
	s := newStore(t, WithInitialRunning(mkDevice(mkSession(sid1, func(s *session) { s.Label = []uint8{3} }))))
	mustOK(t, editCand(s, 1, cfg(entry(sid1, "", `<label nc:operation="delete">3</label><timers/>`))))
	got := sessionsOfTree(s.Snapshot(Candidate))[sid1]
	if got.Label != nil || got.Timers != nil {
		t.Errorf("label %v (nil: %v), timers %v: want both pruned", got.Label, got.Label == nil, got.Timers)
	}
	mustOK(t, editCand(s, 1, cfg(entry(sid1, ` nc:operation="delete"`, ""))))
	if fs := s.Snapshot(Candidate).(*device).FlowState; fs != nil {
		t.Errorf("flow-state %+v left after removing the last session, want it pruned", fs)
	}
}

func TestEqualTrees(t *testing.T) {
	s := newStore(t)
	a := mkDevice(mkSession(sid1), mkSession(sid2, func(s *session) { s.Label = []uint8{1} }))
	shared := mkDevice()
	shared.FlowState = &flowstate.SamiFlowState_FlowState{Sessions: &flowstate.SamiFlowState_FlowState_Sessions{Session: map[string]*session{}}}
	for k, v := range a.FlowState.Sessions.Session {
		shared.FlowState.Sessions.Session[k] = v
	}
	for _, tc := range []struct {
		name string
		b    ygot.GoStruct
	}{
		{"same pointer", a},
		{"shared entries", shared},
		{"deep copy", mkDevice(mkSession(sid1), mkSession(sid2, func(s *session) { s.Label = []uint8{1} }))},
		{"a leaf differs", mkDevice(mkSession(sid1), mkSession(sid2, func(s *session) { s.Label = []uint8{1}; s.Mark = u32(1) }))},
		{"a leaf-list differs", mkDevice(mkSession(sid1), mkSession(sid2, func(s *session) { s.Label = []uint8{2} }))},
		{"nil and empty leaf-list", mkDevice(mkSession(sid1, func(s *session) { s.Label = []uint8{} }), mkSession(sid2, func(s *session) { s.Label = []uint8{1} }))},
		{"an entry less", mkDevice(mkSession(sid1))},
		{"another key", mkDevice(mkSession(sid1), mkSession(sid3, func(s *session) { s.Label = []uint8{1} }))},
		{"empty", mkDevice()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := reflect.DeepEqual(ygot.GoStruct(a), tc.b)
			if got := s.equalTrees(a, tc.b); got != want {
				t.Errorf("equalTrees = %v, reflect.DeepEqual = %v", got, want)
			}
			if got := s.equalTrees(tc.b, a); got != want {
				t.Errorf("equalTrees reversed = %v, reflect.DeepEqual = %v", got, want)
			}
		})
	}
}

// After a tree passed validation, a commit checks only what it does not
// share with it, and finds the same problems, with the same paths, that a
// full validation finds.
func TestValidateIncremental(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustOK(t, editCand(s, 1, cfg(entry(sid1, "", full), entry(sid2, "", full))))
	mustOK(t, s.Commit(ctx, 1, CommitOptions{}))
	mustOK(t, editCand(s, 1, cfg(entry(sid3, "", `<protocol>6</protocol>`))))
	got := s.Commit(ctx, 1, CommitOptions{})
	fresh := newStore(t)
	want := fresh.validate(s.Snapshot(Candidate))
	if got == nil || want == nil || got.Error() != want.Error() {
		t.Fatalf("incremental validation: %v\nfull validation: %v", got, want)
	}
	re := wantTag(t, got, "data-missing")
	if !strings.Contains(re.Path, sid3) || !strings.HasSuffix(re.Path, "/address-family") {
		t.Errorf("error-path %q", re.Path)
	}
	// Fixing it passes, and the confirming commit validates nothing new.
	mustOK(t, editCand(s, 1, cfg(entry(sid3, ` nc:operation="replace"`, full))))
	mustOK(t, s.Commit(ctx, 1, CommitOptions{Confirmed: true}))
	if s.validated != s.Snapshot(Running) {
		t.Error("the committed tree is not the validated one")
	}
	mustOK(t, s.Commit(ctx, 1, CommitOptions{}))
}

// BenchmarkEditCommitIntoLarge: an edit of 10 sessions into a table of n,
// then a commit: the cost must not grow with the table.
func BenchmarkEditCommitIntoLarge(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			d := &device{}
			for i := range n {
				id := fmt.Sprintf("0/6/10.%d.%d.%d/1000/10.0.0.2/80", i>>16, i>>8&255, i&255)
				s := mkSession(id, func(s *session) {
					s.Original.SourceAddress = str(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255))
					s.Original.SourcePort = u16(1000)
					s.Original.DestinationPort = u16(80)
				})
				if err := d.GetOrCreateFlowState().GetOrCreateSessions().AppendSession(s); err != nil {
					b.Fatal(err)
				}
			}
			codec := newStore(&testing.T{}).codec
			s, err := New(codec, newRoot, WithInitialRunning(d), WithApply(func(context.Context, ygot.GoStruct, ygot.GoStruct) error { return nil }),
				WithMapClone(func(m any) (any, bool) {
					sm, ok := m.(map[string]*session)
					return maps.Clone(sm), ok
				}))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var add, remove []string
			for i := range 10 {
				id := fmt.Sprintf("0/6/10.200.0.%d/1000/10.0.0.2/80", i)
				add = append(add, entry(id, "", full))
				remove = append(remove, entry(id, ` nc:operation="remove"`, ""))
			}
			edits := []string{cfg(add...), cfg(remove...)}
			if err := s.Validate(Running); err != nil { // once, off the clock
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				if err := editCand(s, 1, edits[i%2]); err != nil {
					b.Fatal(err)
				}
				if err := s.Commit(ctx, 1, CommitOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
func u16(v uint16) *uint16 { return &v }

// A created or replaced subtree without operations below it is taken from
// the decoded edit as it is; it must come out as the copy would: pruned,
// in the order given.
func TestEditAdoptsWholeSubtrees(t *testing.T) {
	body := full + `<label>3</label><label>5</label><timers/><tcp><original/></tcp>`
	for _, op := range []string{"create", "replace"} {
		t.Run(op, func(t *testing.T) {
			s := newStore(t, WithInitialRunning(mkDevice(mkSession(sid1))))
			err := editCand(s, 1, cfg(entry(sid2, ` nc:operation="`+op+`"`, body)))
			if err != nil {
				t.Fatal(err)
			}
			want := mkSession(sid2, func(s *session) { s.Label = []uint8{3, 5} })
			if d := diff(want, sessionsOfTree(s.Snapshot(Candidate))[sid2]); d != "" {
				t.Errorf("session (-want +got):\n%s", d)
			}
		})
	}
}
