package ietfnat

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// maxProbes bounds the search for a free index. With a table of n entries
// the chance that one probe hits a taken index is n/2^32; 64 taken probes
// in a row do not happen below billions of entries, so reaching the bound
// means something else is wrong.
const maxProbes = 64

// IndexFor is the mapping-entry index of the session with canonical id id,
// at probe number probe: the first 32 bits of SHA-256(id) for probe 0, of
// SHA-256(id "#" probe) after that, with 0 (which some devices read as
// "assign one") moved to 1. It depends only on the flow, so every driver
// computes the same index for the same session on an empty table; a taken
// index (another flow's entry, a collision) moves the session to the next
// probe (see the driver's Stage).
func IndexFor(id string, probe int) uint32 {
	h := hashID(id, probe)
	if i := binary.BigEndian.Uint32(h[:4]); i != 0 {
		return i
	}
	return 1
}

func hashID(id string, probe int) [sha256.Size]byte {
	if probe == 0 {
		return sha256.Sum256([]byte(id))
	}
	return sha256.Sum256([]byte(id + "#" + strconv.Itoa(probe)))
}

// idHash identifies a flow in the index table in 8 bytes instead of its id
// string, so the table of a 1M-entry device stays small. Two of 10^6 flows
// share an idHash with probability ~3e-8. 0 marks an index held by a rule.
func idHash(id string) uint64 {
	h := sha256.Sum256([]byte(id))
	if v := binary.BigEndian.Uint64(h[8:16]); v != 0 {
		return v
	}
	return 1
}

// indexTable knows which indexes of the instance's mapping table are taken
// and by which flow.
type indexTable struct {
	byIndex map[uint32]uint64   // index -> idHash (0: a rule)
	byID    map[uint64]uint32   // idHash -> its first index
	extra   map[uint64][]uint32 // idHash -> further indexes of the same flow
}

func newIndexTable() *indexTable {
	return &indexTable{byIndex: map[uint32]uint64{}, byID: map[uint64]uint32{}}
}

// add records that index holds flow h (0: a rule).
func (t *indexTable) add(index uint32, h uint64) {
	if old, ok := t.byIndex[index]; ok {
		if old == h {
			return
		}
		t.drop(index)
	}
	t.byIndex[index] = h
	if h == 0 {
		return
	}
	if _, ok := t.byID[h]; !ok {
		t.byID[h] = index
		return
	}
	if t.extra == nil {
		t.extra = map[uint64][]uint32{}
	}
	t.extra[h] = append(t.extra[h], index)
}

// drop forgets index.
func (t *indexTable) drop(index uint32) {
	h, ok := t.byIndex[index]
	if !ok {
		return
	}
	delete(t.byIndex, index)
	if h == 0 {
		return
	}
	if t.byID[h] == index {
		delete(t.byID, h)
		if ex := t.extra[h]; len(ex) > 0 {
			t.byID[h] = ex[0]
			if len(ex) == 1 {
				delete(t.extra, h)
			} else {
				t.extra[h] = ex[1:]
			}
		}
		return
	}
	ex := t.extra[h]
	for i, x := range ex {
		if x == index {
			t.extra[h] = append(ex[:i:i], ex[i+1:]...)
			break
		}
	}
	if len(t.extra[h]) == 0 {
		delete(t.extra, h)
	}
}

// indexes returns every index that holds the flow with this id.
func (t *indexTable) indexes(id string) []uint32 {
	h := idHash(id)
	first, ok := t.byID[h]
	if !ok {
		return nil
	}
	return append([]uint32{first}, t.extra[h]...)
}

// assign returns the index for the flow with this id: the one it already
// has, else the first free probe, which it takes.
func (t *indexTable) assign(id string) (uint32, error) {
	h := idHash(id)
	if i, ok := t.byID[h]; ok {
		return i, nil
	}
	for probe := range maxProbes {
		i := IndexFor(id, probe)
		if _, taken := t.byIndex[i]; !taken {
			t.add(i, h)
			return i, nil
		}
	}
	return 0, fmt.Errorf("no free mapping-entry index for %s after %d probes (%d entries in the table)", id, maxProbes, len(t.byIndex))
}
