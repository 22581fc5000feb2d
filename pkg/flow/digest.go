package flow

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// Digest identifies a set of sessions: two sets that hold the same sessions
// (same canonical forms, same multiplicity) in any order have the same
// Digest, and sets that differ by lost, added or damaged sessions do not.
// It detects accidents, not forgery: a sum of hashes can be steered by
// someone who chooses many sessions freely (generalized birthday attack), so
// it is no substitute for authenticating the devices.
type Digest [sha256.Size]byte

// String returns the digest in hexadecimal.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes the digest in hexadecimal, for logs and JSON reports.
func (d Digest) MarshalText() ([]byte, error) {
	return hex.AppendEncode(nil, d[:]), nil
}

// UnmarshalText parses the hexadecimal form, so a digest computed elsewhere
// can be compared.
func (d *Digest) UnmarshalText(text []byte) error {
	if hex.DecodedLen(len(text)) != len(d) {
		return fmt.Errorf("flow: digest %q: want %d hex digits", text, 2*len(d))
	}
	if _, err := hex.Decode(d[:], text); err != nil {
		return fmt.Errorf("flow: digest %q: %w", text, err)
	}
	return nil
}

// digestDomain separates this digest from other SHA-256 uses and versions the
// canonical encoding: change it when the encoding changes.
const digestDomain = "sami/flow-digest/v1\x00"

// Digester computes the Digest of a stream of sessions in constant memory, so
// that a session table of millions of entries can be checked while it is read.
//
// Each session is hashed on its own (SHA-256 of its canonical form) and the
// hashes are added modulo 2^256. Addition makes the result independent of
// order, and unlike XOR a session added twice does not cancel out; the count is
// folded into the final hash as well. The zero value is ready to use. A
// Digester is not safe for concurrent use; digest shards in parallel and
// combine them with Merge.
type Digester struct {
	enc   encoder
	sum   [4]uint64 // big-endian limbs: sum[0] is the most significant
	count int
}

// Add adds s to the set. It fails only for a nil session or one holding a
// value the model does not define (an unknown enum value), and then leaves
// the digest unchanged.
func (d *Digester) Add(s *Session) error {
	if err := d.enc.session(s); err != nil {
		return err
	}
	d.addHash(sha256.Sum256(d.enc.buf))
	return nil
}

func (d *Digester) addHash(h [sha256.Size]byte) {
	var carry uint64
	for i := 3; i >= 0; i-- {
		d.sum[i], carry = bits.Add64(d.sum[i], binary.BigEndian.Uint64(h[i*8:]), carry)
	}
	d.count++
}

// Merge adds the sessions that o has seen to d, as if they had been added to d.
func (d *Digester) Merge(o *Digester) {
	var carry uint64
	for i := 3; i >= 0; i-- {
		d.sum[i], carry = bits.Add64(d.sum[i], o.sum[i], carry)
	}
	d.count += o.count
}

// Count returns the number of sessions added.
func (d *Digester) Count() int { return d.count }

// Reset empties the set, keeping the buffers.
func (d *Digester) Reset() {
	d.sum, d.count = [4]uint64{}, 0
}

// Sum returns the digest of the sessions added so far. Adding more sessions
// afterwards is allowed.
func (d *Digester) Sum() Digest {
	var b [len(digestDomain) + 8 + 32]byte
	n := copy(b[:], digestDomain)
	binary.BigEndian.PutUint64(b[n:], uint64(d.count))
	for i, w := range d.sum {
		binary.BigEndian.PutUint64(b[n+8+8*i:], w)
	}
	return sha256.Sum256(b[:])
}

// DigestSessions returns the digest of sessions. It stops at the first session
// that cannot be digested.
func DigestSessions(sessions []*Session) (Digest, error) {
	var d Digester
	for _, s := range sessions {
		if err := d.Add(s); err != nil {
			return Digest{}, err
		}
	}
	return d.Sum(), nil
}
