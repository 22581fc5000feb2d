package journal

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// IDs are ULIDs (github.com/ulid/spec): 48 bits of Unix milliseconds then 80
// random bits, in 26 characters of Crockford's base32. They sort by time as
// strings, and within one process strictly increase (the random part is
// incremented when the millisecond has not moved), so an id made later never
// sorts before one made earlier.
const (
	idLen    = 26
	crockord = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// idGen makes increasing ids. Each Journal has its own (on its own clock);
// NewID uses a package-wide one.
type idGen struct {
	mu   sync.Mutex
	ms   uint64
	rand [10]byte
}

var defaultIDs idGen

// NewID returns a new time-ordered record id.
func NewID() string { return defaultIDs.at(time.Now()) }

func (g *idGen) at(t time.Time) string {
	ms := uint64(max(t.UnixMilli(), 0)) & (1<<48 - 1)
	g.mu.Lock()
	if ms <= g.ms {
		// Same millisecond, or the clock went back: stay after the last id.
		ms = g.ms
		if !increment(&g.rand) {
			ms++ // 2^80 ids in one millisecond: borrow the next one
		}
	} else {
		_, _ = rand.Read(g.rand[:]) // cannot fail since Go 1.24
		// Leave room to increment within the millisecond.
		g.rand[0] &= 0x7f
	}
	g.ms = ms
	r := g.rand
	g.mu.Unlock()
	return encodeID(ms, r)
}

func increment(b *[10]byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}

func encodeID(ms uint64, r [10]byte) string {
	var out [idLen]byte
	for i := 9; i >= 0; i-- { // 10 characters, 50 bits: the top 2 are zero
		out[i] = crockord[ms&31]
		ms >>= 5
	}
	// 80 random bits = 16 characters of 5 bits, taken 40 bits at a time.
	for half := range 2 {
		var v uint64
		for _, c := range r[half*5 : half*5+5] {
			v = v<<8 | uint64(c)
		}
		for i := 7; i >= 0; i-- {
			out[10+half*8+i] = crockord[v&31]
			v >>= 5
		}
	}
	return string(out[:])
}

// IDTime returns the time encoded in an id made by NewID (to the
// millisecond). Lower-case letters are accepted, as the ULID spec asks.
func IDTime(id string) (time.Time, error) {
	if len(id) != idLen {
		return time.Time{}, fmt.Errorf("%w: id %q: %d characters, a ULID has %d", ErrInvalid, id, len(id), idLen)
	}
	var ms uint64
	for i := range idLen {
		v := crockfordValue(id[i])
		if v < 0 {
			return time.Time{}, fmt.Errorf("%w: id %q: character %d (%q) is not Crockford base32", ErrInvalid, id, i+1, id[i])
		}
		if i < 10 {
			ms = ms<<5 | uint64(v)
		}
	}
	if ms >= 1<<48 {
		return time.Time{}, fmt.Errorf("%w: id %q: timestamp overflows 48 bits", ErrInvalid, id)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

func crockfordValue(c byte) int {
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	for i := range len(crockord) {
		if crockord[i] == c {
			return i
		}
	}
	return -1
}
