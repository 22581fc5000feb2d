package datastore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/openconfig/ygot/ygot"
)

// diffKeys are the ids whose sessions differ between two trees (by
// reflect.DeepEqual), the reference for what lineages answer.
func diffKeys(a, b ygot.GoStruct) []string {
	am, bm := sessionsOfTree(a), sessionsOfTree(b)
	var out []string
	for id, s := range am {
		if !reflect.DeepEqual(s, bm[id]) {
			out = append(out, id)
		}
	}
	for id := range bm {
		if _, ok := am[id]; !ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Random edits of a candidate: what the lineages say (ListChanges, tree
// equality, validation of the unshared part) agrees with comparing every
// session.
func TestLineageAgreesWithFullComparison(t *testing.T) {
	ctx := context.Background()
	id := func(i int) string { return fmt.Sprintf("0/6/10.0.0.%d/1000/10.0.0.2/80", i) }
	var applied [][2]ygot.GoStruct
	s := newStore(t, WithApply(func(_ context.Context, from, to ygot.GoStruct) error {
		applied = append(applied, [2]ygot.GoStruct{from, to})
		return nil
	}))
	var init []string
	for i := range 40 {
		init = append(init, entry(id(i), "", full))
	}
	mustOK(t, editCand(s, 1, cfg(init...)))
	mustOK(t, s.Commit(ctx, 1, CommitOptions{}))
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		before := s.Snapshot(Running)
		for range 1 + rng.IntN(4) { // several edits before a commit
			var es []string
			seen := map[int]bool{}
			for range 1 + rng.IntN(5) {
				i := rng.IntN(50)
				if seen[i] {
					continue // an entry once per edit
				}
				seen[i] = true
				n := id(i)
				switch rng.IntN(5) {
				case 0:
					es = append(es, entry(n, ` nc:operation="remove"`, ""))
				case 1:
					es = append(es, entry(n, ` nc:operation="replace"`, full))
				case 2:
					es = append(es, entry(n, "", full+fmt.Sprintf("<mark>%d</mark>", rng.IntN(3))))
				case 3:
					es = append(es, entry(n, "", full+`<label>4</label>`))
				default:
					es = append(es, entry(n, ` nc:operation="replace"`, full+`<label>1</label><label>2</label>`))
				}
			}
			mustOK(t, editCand(s, 1, cfg(es...)))
		}
		cand := s.Snapshot(Candidate)
		want := diffKeys(before, cand)
		if got := s.equalTrees(before, cand); got != (len(want) == 0) {
			t.Fatalf("round %d: equalTrees = %v, sessions that differ: %v", round, got, want)
		}
		bm, cm := sessionsOfTree(before), sessionsOfTree(cand)
		if bm != nil && cm != nil {
			keys, ok := s.ListChanges(bm, cm)
			if !ok {
				t.Fatalf("round %d: no lineage between running and the candidate", round)
			}
			for _, w := range want {
				if !slices.Contains(keys, any(w)) {
					t.Fatalf("round %d: ListChanges %v misses %s", round, keys, w)
				}
			}
		}
		mustOK(t, s.Commit(ctx, 1, CommitOptions{}))
		if len(want) > 0 {
			last := applied[len(applied)-1]
			if last[0] != before || last[1] != cand {
				t.Fatalf("round %d: apply hook got other trees", round)
			}
		}
	}
	if n := len(s.lin.byM); n > 2 {
		t.Errorf("%d lineages kept, want only those of the live trees", n)
	}
}

// An invalid session among thousands of shared ones is found by the
// validation of what a commit does not share.
func TestValidateSeesTheChangedEntry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var es []string
	for i := range 2000 {
		es = append(es, entry(fmt.Sprintf("0/6/10.0.%d.%d/1000/10.0.0.2/80", i/250, i%250), "", full))
	}
	mustOK(t, editCand(s, 1, cfg(es...)))
	mustOK(t, s.Commit(ctx, 1, CommitOptions{}))
	mustOK(t, editCand(s, 1, cfg(entry(sid3, "", `<protocol>6</protocol>`))))
	wantTag(t, s.Commit(ctx, 1, CommitOptions{}), "data-missing")
}
