package datastore

import (
	"reflect"
	"slices"
	"sync"

	"github.com/openconfig/ygot/ygot"
)

// Sharing (share.go) makes an edit of a few sessions cost a few sessions,
// except for what must look at a whole list: the edit copies the list's map
// before changing it, and comparing two trees, validating what a tree does
// not share with a valid one, or telling the apply hook what changed then
// walks every entry of the copy. A lineage remembers, for a list map an
// edit made, the map it was copied from and the keys the edit touched, so
// those questions are answered from the touched keys: the commit of a
// pre-copy round into a destination holding 100k sessions does not walk
// them. Lineages are kept for the lists outside list entries (the large
// ones), for the maps of the trees the Store holds, and for a few edits
// back (maxAncestors).

// maxAncestors bounds the maps a lineage reaches back to: a candidate
// edited many times before a commit falls back to comparing entries.
const maxAncestors = 8

// ancestor is a map a list map was made from, with the keys whose entries
// may differ between the two.
type ancestor struct {
	m    reflect.Value
	keys map[any]reflect.Value
}

type lineages struct {
	mu  sync.Mutex
	byM map[uintptr][]ancestor // by map pointer; the maps are kept alive by live trees or the ancestors
	own map[uintptr]reflect.Value
}

// listEdit is what an edit did to one list map: copied from, touched keys.
type listEdit struct {
	m, from reflect.Value
	keys    []reflect.Value
}

// add records the lists an edit made.
func (l *lineages) add(edits []listEdit) {
	if len(edits) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byM == nil {
		l.byM, l.own = map[uintptr][]ancestor{}, map[uintptr]reflect.Value{}
	}
	for _, e := range edits {
		keys := make(map[any]reflect.Value, len(e.keys))
		for _, k := range e.keys {
			keys[k.Interface()] = k
		}
		anc := []ancestor{{m: e.from, keys: keys}}
		for _, a := range l.byM[e.from.Pointer()] {
			if len(anc) == maxAncestors {
				break
			}
			merged := make(map[any]reflect.Value, len(a.keys)+len(keys))
			for k, v := range a.keys {
				merged[k] = v
			}
			for k, v := range keys {
				merged[k] = v
			}
			anc = append(anc, ancestor{m: a.m, keys: merged})
		}
		l.byM[e.m.Pointer()] = anc
		l.own[e.m.Pointer()] = e.m
	}
}

// changed returns the keys whose entries may differ between the list maps
// a and b, when one was made from the other by recorded edits.
func (l *lineages) changed(a, b reflect.Value) (map[any]reflect.Value, bool) {
	if l == nil || !a.IsValid() || !b.IsValid() || a.IsNil() || b.IsNil() {
		return nil, false
	}
	pa, pb := a.Pointer(), b.Pointer()
	if pa == pb {
		return nil, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range []struct{ from, to uintptr }{{pa, pb}, {pb, pa}} {
		for _, anc := range l.byM[x.from] {
			if anc.m.Pointer() == x.to {
				return anc.keys, true
			}
		}
	}
	return nil, false
}

// keep forgets the lineages of maps that are not in live (by pointer).
func (l *lineages) keep(live map[uintptr]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p := range l.byM {
		if !live[p] {
			delete(l.byM, p)
			delete(l.own, p)
		}
	}
}

// topLists adds the list maps of the struct v (a pointer) that are outside
// list entries to out.
func topLists(si *structInfo, v reflect.Value, out map[uintptr]bool) {
	if !v.IsValid() || v.IsNil() {
		return
	}
	for _, f := range si.fields {
		fv := v.Elem().Field(f.index)
		switch {
		case f.kind == kindContainer && !fv.IsNil():
			topLists(f.elem, fv, out)
		case f.kind == kindList && !fv.IsNil():
			out[fv.Pointer()] = true
		}
	}
}

// tidyLocked forgets what no datastore holds any more: the validated tree
// (so it does not keep a whole old table alive) and the lineages of maps
// of trees that were dropped (mu held).
func (s *Store) tidyLocked() {
	live := []ygot.GoStruct{s.running, s.candidate}
	if s.pending != nil {
		live = append(live, s.pending.rollback)
	}
	if v := s.validated; v != nil && !slices.Contains(live, v) {
		s.validated = nil
	}
	maps := map[uintptr]bool{}
	for _, t := range live {
		topLists(s.rootInfo, reflect.ValueOf(t), maps)
	}
	s.lin.keep(maps)
}

// ListChanges reports, for two maps of the same list (outside list
// entries) in trees of this Store where one was made from the other by
// edits, which keys may have different entries (a superset of those that
// differ) and true; false when the Store does not know, and every entry
// must be compared. An apply hook uses it to find what a commit changed in
// a large table without comparing every entry.
func (s *Store) ListChanges(a, b any) ([]any, bool) {
	av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
	if av.Kind() != reflect.Map || bv.Kind() != reflect.Map || av.Type() != bv.Type() {
		return nil, false
	}
	keys, ok := s.lin.changed(av, bv)
	if !ok {
		return nil, false
	}
	out := make([]any, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	return out, true
}
