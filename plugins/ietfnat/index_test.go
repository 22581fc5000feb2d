package ietfnat

import (
	"strconv"
	"strings"
	"testing"
)

// IndexFor is part of the on-device format: changing it would move every
// written entry, so its values are pinned.
func TestIndexForGolden(t *testing.T) {
	for _, tc := range []struct {
		id    string
		probe int
		want  uint32
	}{
		{"0/6/10.0.0.5/40312/198.51.100.20/443", 0, 2083073217},
		{"0/6/10.0.0.5/40312/198.51.100.20/443", 1, 4087637623},
		{"0/17/2001:db8::10/5353/2001:db8:1::53/53", 0, 1972228975},
		{"0/1/10.0.0.6/4660/198.51.100.40/8.0", 0, 1798678123},
	} {
		if got := IndexFor(tc.id, tc.probe); got != tc.want {
			t.Errorf("IndexFor(%s, %d) = %d, want %d", tc.id, tc.probe, got, tc.want)
		}
	}
}

func TestIndexTable(t *testing.T) {
	const a, b = "0/6/10.0.0.1/1/10.0.0.2/2", "0/6/10.0.0.3/1/10.0.0.4/2"
	t.Run("free: the first probe", func(t *testing.T) {
		tb := newIndexTable()
		if i, err := tb.assign(a); err != nil || i != IndexFor(a, 0) {
			t.Errorf("assign = %d, %v", i, err)
		}
		if i, _ := tb.assign(a); i != IndexFor(a, 0) {
			t.Errorf("a flow keeps its index: %d", i)
		}
	})
	t.Run("taken by another flow or a rule: next probes", func(t *testing.T) {
		tb := newIndexTable()
		tb.add(IndexFor(a, 0), idHash(b))
		tb.add(IndexFor(a, 1), 0) // a rule
		if i, err := tb.assign(a); err != nil || i != IndexFor(a, 2) {
			t.Errorf("assign = %d, %v; want probe 2 = %d", i, err, IndexFor(a, 2))
		}
	})
	t.Run("a flow with several entries", func(t *testing.T) {
		tb := newIndexTable()
		tb.add(7, idHash(a))
		tb.add(9, idHash(a))
		tb.add(8, idHash(b))
		if got := tb.indexes(a); len(got) != 2 || got[0] != 7 || got[1] != 9 {
			t.Errorf("indexes %v", got)
		}
		tb.drop(7)
		if got := tb.indexes(a); len(got) != 1 || got[0] != 9 {
			t.Errorf("after dropping 7: %v", got)
		}
		if i, _ := tb.assign(a); i != 9 {
			t.Errorf("assign %d, want the remaining 9", i)
		}
		tb.add(9, idHash(b)) // the index changes hands
		if got := tb.indexes(a); len(got) != 0 {
			t.Errorf("a still has %v", got)
		}
		if got := tb.indexes(b); len(got) != 2 {
			t.Errorf("b has %v", got)
		}
		tb.drop(12345) // unknown: no-op
	})
	t.Run("every probe taken", func(t *testing.T) {
		tb := newIndexTable()
		for p := range maxProbes {
			tb.add(IndexFor(a, p), 0)
		}
		if _, err := tb.assign(a); err == nil || !strings.Contains(err.Error(), "no free mapping-entry index") {
			t.Errorf("assign: %v", err)
		}
	})
}

// With 100k flows in 2^32 indexes about one collision is expected; every
// flow still gets its own index.
func TestIndexTableManyFlows(t *testing.T) {
	tb := newIndexTable()
	seen := map[uint32]bool{}
	moved := 0
	for i := range 100_000 {
		id := "0/17/10." + strconv.Itoa(i>>16) + "." + strconv.Itoa(i>>8&255) + "." + strconv.Itoa(i&255) + "/1000/192.0.2.1/53"
		idx, err := tb.assign(id)
		if err != nil {
			t.Fatal(err)
		}
		if seen[idx] {
			t.Fatalf("index %d given twice", idx)
		}
		seen[idx] = true
		if idx != IndexFor(id, 0) {
			moved++
		}
	}
	t.Logf("%d of 100000 flows moved to a later probe", moved)
}
