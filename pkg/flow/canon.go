package flow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"slices"
	"time"

	"github.com/openconfig/ygot/ygot"
)

// The canonical encoding is a typed, self-delimiting serialization in which
// every value starts with a tag byte and carries its own length, so no two
// different trees encode alike:
//
//	field      len name, then the value (len >= 1)
//	container  'C' fields 0x00         (fields sorted by name; 0x00 is never a name length)
//	list       'M' count entries       (entries: containers, sorted by encoding)
//	leaf-list  'L' count values        (values sorted, see compareEnc)
//	string     'S' len bytes           binary 'X' len bytes     enum 'E' len name
//	unsigned   'U' n, n bytes          (minimal big-endian, so byte order is numeric order)
//	signed     'I' 8 bytes             (sign bit flipped)       float 'F' 8 bytes
//	bool       'B' 0|1                 empty  'Y'
//	address    '4' 4 bytes | '6' 16 bytes len zone
//	date-time  'T' 8 bytes seconds, 4 bytes nanoseconds (the UTC instant)
//
// Lengths and counts are unsigned varints. The encoding is kept compact
// because hashing it is most of the cost of a digest. Absent leaves, leaves
// equal to their default and empty non-presence containers are left out,
// because they mean the same thing as each other.

// encoder holds the buffers one walker reuses between sessions, so encoding
// a session does not allocate in the common case. It is not safe for
// concurrent use.
type encoder struct {
	buf   []byte
	tmp   []byte // leaf-list element scratch
	spans []span
}

type span struct{ start, end int }

// session encodes s into e.buf, replacing its previous contents.
func (e *encoder) session(s *Session) error {
	e.buf = e.buf[:0]
	if s == nil {
		return ErrNilSession
	}
	if err := e.fields(sessionPlan, reflect.ValueOf(s).Elem()); err != nil {
		return &SessionError{ID: s.GetId(), Path: pathOf(err), Err: unwrapPath(err)}
	}
	return nil
}

// pathError carries the schema path of an encoding failure up to session.
type pathError struct {
	path string
	err  error
}

func (p *pathError) Error() string { return p.path + ": " + p.err.Error() }
func (p *pathError) Unwrap() error { return p.err }

func pathOf(err error) string {
	if pe, ok := err.(*pathError); ok {
		return pe.path
	}
	return ""
}

func unwrapPath(err error) error {
	if pe, ok := err.(*pathError); ok {
		return pe.err
	}
	return err
}

func (e *encoder) fields(p *plan, v reflect.Value) error {
	for _, f := range p.fields {
		if f.volatile || f.tolerant {
			continue
		}
		if err := e.field(f, v.Field(f.index)); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) field(f *field, fv reflect.Value) error {
	start := len(e.buf)
	switch f.kind {
	case nodeContainer:
		if fv.IsNil() {
			return nil
		}
		e.buf = append(e.buf, f.header...)
		if err := e.container(f.sub, fv.Elem()); err != nil {
			return err
		}
		if !f.presence && len(e.buf) == start+len(f.header)+2 {
			e.buf = e.buf[:start] // 'C' 0x00: an empty container means absent
		}
	case nodeList:
		if fv.Len() == 0 {
			return nil
		}
		e.buf = append(e.buf, f.header...)
		return e.list(f, fv)
	case nodeLeaf:
		if f.ptr {
			if fv.IsNil() {
				return nil
			}
			fv = fv.Elem()
		}
		e.buf = append(e.buf, f.header...)
		valStart := len(e.buf)
		var ok bool
		var err error
		if e.buf, ok, err = f.appendValue(e.buf, fv); err != nil {
			return &pathError{f.path, err}
		}
		if !ok || (f.defEnc != nil && bytes.Equal(e.buf[valStart:], f.defEnc)) {
			e.buf = e.buf[:start]
		}
	case nodeLeafList:
		n := fv.Len()
		if n == 0 {
			return nil
		}
		// Elements go to e.tmp and are sorted there; leaf-lists hold only
		// scalars, so the scratch space is never used recursively.
		e.tmp, e.spans = e.tmp[:0], e.spans[:0]
		for i := range n {
			s := len(e.tmp)
			var ok bool
			var err error
			if e.tmp, ok, err = f.appendValue(e.tmp, fv.Index(i)); err != nil {
				return &pathError{f.path, err}
			}
			if !ok {
				return &pathError{f.path, fmt.Errorf("%w: unset value in leaf-list", ErrInvalid)}
			}
			e.spans = append(e.spans, span{s, len(e.tmp)})
		}
		sortSpans(e.tmp, e.spans)
		e.buf = append(e.buf, f.header...)
		e.buf = appendLen(e.buf, 'L', n)
		for _, sp := range e.spans {
			e.buf = append(e.buf, e.tmp[sp.start:sp.end]...)
		}
	}
	return nil
}

// container appends 'C', the fields of struct v and the end marker.
func (e *encoder) container(p *plan, v reflect.Value) error {
	e.buf = append(e.buf, 'C')
	if err := e.fields(p, v); err != nil {
		return err
	}
	e.buf = append(e.buf, 0)
	return nil
}

// list appends a keyed list. Map iteration order is random, so the entries
// are encoded in place, then sorted by their encoding.
func (e *encoder) list(f *field, fv reflect.Value) error {
	e.buf = appendLen(e.buf, 'M', fv.Len())
	base := len(e.buf)
	spans := make([]span, 0, fv.Len())
	for _, ev := range fv.Seq2() {
		s := len(e.buf)
		if ev.IsNil() {
			return &pathError{f.path, fmt.Errorf("%w: nil list entry", ErrInvalid)}
		}
		if err := e.container(f.sub, ev.Elem()); err != nil {
			return err
		}
		spans = append(spans, span{s, len(e.buf)})
	}
	sorted := slices.Clone(e.buf[base:])
	sortSpans(e.buf, spans)
	e.buf = e.buf[:base]
	for _, sp := range spans {
		e.buf = append(e.buf, sorted[sp.start-base:sp.end-base]...)
	}
	return nil
}

// sortSpans sorts spans of buf by compareEnc. Leaf-lists are short, and an
// insertion sort does not allocate.
func sortSpans(buf []byte, spans []span) {
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && compareEnc(buf[spans[j].start:spans[j].end], buf[spans[j-1].start:spans[j-1].end]) < 0; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
}

// compareEnc orders encoded values naturally: numbers numerically and
// strings, enum names and binaries by content rather than by their length
// prefix, so that Diff shows leaf-lists in the order a reader expects. Equal
// content means equal encodings, so this is a total order on encodings.
func compareEnc(a, b []byte) int {
	if len(a) > 1 && len(b) > 1 && a[0] == b[0] && (a[0] == 'S' || a[0] == 'E' || a[0] == 'X') {
		_, na := binary.Uvarint(a[1:])
		_, nb := binary.Uvarint(b[1:])
		if na > 0 && nb > 0 {
			if c := bytes.Compare(a[1+na:], b[1+nb:]); c != 0 {
				return c
			}
		}
	}
	return bytes.Compare(a, b)
}

// appendValue appends the encoding of scalar v (already dereferenced). It
// reports false, appending nothing, for values that mean "absent": an unset
// enum, an empty binary, a false empty-type leaf, a nil union.
func (f *field) appendValue(b []byte, v reflect.Value) ([]byte, bool, error) {
	switch f.val {
	case valString:
		s := v.String()
		switch f.text {
		case textAddress:
			if a, ok := parseAddr(s); ok {
				if a.Is4() {
					a4 := a.As4()
					return append(append(b, '4'), a4[:]...), true, nil
				}
				a16 := a.As16()
				b = append(append(b, '6'), a16[:]...)
				b = binary.AppendUvarint(b, uint64(len(a.Zone())))
				return append(b, a.Zone()...), true, nil
			}
		case textDateTime:
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				b = append(b, 'T')
				b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^1<<63)
				return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond())), true, nil
			}
		}
		return appendString(b, 'S', s), true, nil
	case valUint:
		return appendUint(b, v.Uint()), true, nil
	case valInt:
		return binary.BigEndian.AppendUint64(append(b, 'I'), uint64(v.Int())^1<<63), true, nil
	case valFloat:
		return binary.BigEndian.AppendUint64(append(b, 'F'), math.Float64bits(v.Float())), true, nil
	case valBool:
		if v.Bool() {
			return append(b, 'B', 1), true, nil
		}
		return append(b, 'B', 0), true, nil
	case valEmpty:
		if !v.Bool() {
			return b, false, nil
		}
		return append(b, 'Y'), true, nil
	case valEnum:
		x := v.Int()
		if x == 0 {
			return b, false, nil
		}
		name, ok := f.enum[x]
		if !ok {
			return b, false, fmt.Errorf("%w: enum value %d not in the model", ErrInvalid, x)
		}
		return appendString(b, 'E', name), true, nil
	case valBinary:
		if v.Len() == 0 {
			return b, false, nil
		}
		return append(appendLen(b, 'X', v.Len()), v.Bytes()...), true, nil
	case valUnion:
		if v.IsNil() {
			return b, false, nil
		}
		return appendUnion(b, v.Elem())
	}
	return b, false, fmt.Errorf("%w: unsupported value kind %d", ErrInvalid, f.val)
}

// appendUnion encodes the member held by a union leaf by its dynamic type:
// enums by name, everything else as its Go kind.
func appendUnion(b []byte, v reflect.Value) ([]byte, bool, error) {
	u := field{}
	switch {
	case v.Type().Implements(goEnumType) && v.Kind() == reflect.Int64:
		name, err := ygot.EnumName(v.Interface().(ygot.GoEnum))
		if err != nil {
			return b, false, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return appendString(b, 'E', name), true, nil
	case v.Kind() == reflect.String:
		u.val = valString
	case v.Kind() >= reflect.Uint && v.Kind() <= reflect.Uint64:
		u.val = valUint
	case v.Kind() >= reflect.Int && v.Kind() <= reflect.Int64:
		u.val = valInt
	case v.Kind() == reflect.Float32 || v.Kind() == reflect.Float64:
		u.val = valFloat
	case v.Kind() == reflect.Bool:
		u.val = valBool
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		u.val = valBinary
	default:
		return b, false, fmt.Errorf("%w: unsupported union member %s", ErrInvalid, v.Type())
	}
	return u.appendValue(b, v)
}

func appendLen(b []byte, tag byte, n int) []byte {
	return binary.AppendUvarint(append(b, tag), uint64(n))
}

func appendString(b []byte, tag byte, s string) []byte {
	return append(appendLen(b, tag, len(s)), s...)
}

// appendUint appends 'U', the number of significant bytes of x and those
// bytes, big-endian.
func appendUint(b []byte, x uint64) []byte {
	n := (bits.Len64(x) + 7) / 8
	b = append(b, 'U', byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(x>>(8*i)))
	}
	return b
}
