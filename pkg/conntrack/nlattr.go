package conntrack

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Netlink attributes (TLVs) read and written in place, without the
// allocations of netlink.AttributeDecoder/Encoder (a copy of every value,
// a decoder per nesting level, a closure per nested attribute): those were
// most of the CPU of a 100k dump and of a 100k install. The rules are the
// ones netlink.AttributeDecoder applies, so both accept the same input.
// Headers are in host byte order, ctnetlink's values in network order.

const (
	nlaHeaderLen = 4
	nlaTypeMask  = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
	nlaFNested   = 0x8000
)

var errBadAttr = errors.New("conntrack: malformed netlink attribute")

func nlaAlign(n int) int { return (n + 3) &^ 3 }

// attrs iterates over the attributes in b.
type attrs struct {
	b   []byte
	typ uint16
	val []byte
	err error
}

func newAttrs(b []byte) attrs { return attrs{b: b} }

// next moves to the next attribute; false at the end or on a malformed
// one (err says which).
func (a *attrs) next() bool {
	if a.err != nil || len(a.b) == 0 {
		return false
	}
	if len(a.b) < nlaHeaderLen {
		a.err = errBadAttr
		return false
	}
	l := int(binary.NativeEndian.Uint16(a.b))
	a.typ = binary.NativeEndian.Uint16(a.b[2:]) & nlaTypeMask
	adv := nlaHeaderLen
	switch {
	case l > len(a.b) || (l != 0 && l < nlaHeaderLen):
		a.err = errBadAttr
		return false
	case l == 0: // no data (netlink.AttributeDecoder accepts it too)
		a.val = a.b[nlaHeaderLen:nlaHeaderLen]
	default:
		a.val = a.b[nlaHeaderLen:l]
		adv = nlaAlign(l)
	}
	if adv >= len(a.b) {
		a.b = nil
	} else {
		a.b = a.b[adv:]
	}
	return true
}

// fail records a bad value of the current attribute and stops iteration.
func (a *attrs) fail(err error) {
	if a.err == nil {
		a.err = err
	}
}

func (a *attrs) sizeErr(kind string) error {
	return fmt.Errorf("conntrack: netlink attribute %d is not a %s; length: %d", a.typ, kind, len(a.val))
}

func (a *attrs) u8() uint8 {
	if len(a.val) != 1 {
		a.fail(a.sizeErr("uint8"))
		return 0
	}
	return a.val[0]
}

func (a *attrs) u16() uint16 {
	if len(a.val) != 2 {
		a.fail(a.sizeErr("uint16"))
		return 0
	}
	return binary.BigEndian.Uint16(a.val)
}

func (a *attrs) u32() uint32 {
	if len(a.val) != 4 {
		a.fail(a.sizeErr("uint32"))
		return 0
	}
	return binary.BigEndian.Uint32(a.val)
}

func (a *attrs) u64() uint64 {
	if len(a.val) != 8 {
		a.fail(a.sizeErr("uint64"))
		return 0
	}
	return binary.BigEndian.Uint64(a.val)
}

// nested returns an iterator over the current attribute's value.
func (a *attrs) nested() attrs { return attrs{b: a.val} }

// Writing: each helper appends one attribute to b and returns it.

func putAttrHeader(b []byte, typ uint16, n int) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(nlaHeaderLen+n))
	return binary.NativeEndian.AppendUint16(b, typ)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func putBytes(b []byte, typ uint16, v []byte) []byte {
	b = putAttrHeader(b, typ, len(v))
	return pad4(append(b, v...))
}

func putU8(b []byte, typ uint16, v uint8) []byte {
	return append(putAttrHeader(b, typ, 1), v, 0, 0, 0)
}

func putU16(b []byte, typ uint16, v uint16) []byte {
	return append(binary.BigEndian.AppendUint16(putAttrHeader(b, typ, 2), v), 0, 0)
}

func putU32(b []byte, typ uint16, v uint32) []byte {
	return binary.BigEndian.AppendUint32(putAttrHeader(b, typ, 4), v)
}

// putString writes a NUL-terminated string (NLA_NUL_STRING).
func putString(b []byte, typ uint16, s string) []byte {
	b = putAttrHeader(b, typ, len(s)+1)
	b = append(append(b, s...), 0)
	return pad4(b)
}

// beginNested opens a nested attribute; endNested(b, start) closes it.
// b must start 4-aligned (netlink messages and attributes always do).
func beginNested(b []byte, typ uint16) ([]byte, int) {
	start := len(b)
	return putAttrHeader(b, typ|nlaFNested, 0), start
}

func endNested(b []byte, start int) []byte {
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	return b
}
