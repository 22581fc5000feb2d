package flow

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/openconfig/ygot/ygot"
)

// Result is the difference between two sets of sessions, keyed by id.
// Added, Removed and Changed are sorted by id and Errors follow the input
// order, so a Result is deterministic.
type Result struct {
	Added   []*Session // in b, not in a
	Removed []*Session // in a, not in b
	Changed []Change   // in both, with different content
	// Errors lists sessions that could not be compared: nil sessions,
	// sessions without id whose key cannot be derived, ids that appear more
	// than once in one set (the first one is compared) and sessions holding
	// values the model does not define.
	Errors []error
}

// Empty reports whether the two sets held the same sessions and nothing got
// in the way of comparing them.
func (r Result) Empty() bool {
	return len(r.Added) == 0 && len(r.Removed) == 0 && len(r.Changed) == 0 && len(r.Errors) == 0
}

// Change is a session present in both sets with different content.
type Change struct {
	ID     string
	A, B   *Session
	Fields []FieldChange // sorted by Path
}

// FieldChange is one differing node of a changed session.
type FieldChange struct {
	// Path is the schema path relative to the session, with list entries
	// named by key: "nat/source/external-src-address",
	// "vendor-parameter[vendor=acme][name=mtu]/value".
	Path string
	// A and B are the values, nil when absent (or equal to the YANG
	// default). Leaves hold their Go value (uint16, string, bool,
	// flowstate.Binary, ...), enums their YANG name, leaf-lists a sorted
	// slice (enum leaf-lists a []string of names), and presence containers
	// true.
	A, B any
}

// DiffOption configures Diff.
type DiffOption func(*diffConfig)

type diffConfig struct {
	tolerance time.Duration
}

// DefaultTimeoutTolerance is how far the remaining timers of the two copies of
// a session may differ before Diff reports them: the time between the two
// reads, plus rounding to whole seconds.
const DefaultTimeoutTolerance = 2 * time.Second

// WithTimeoutTolerance sets how far timers/remaining may differ between the
// two copies of a session before Diff reports it (default
// DefaultTimeoutTolerance). The remaining lifetime counts down between reading
// the source and reading back the destination, so it cannot be compared
// exactly; a larger difference means the destination installed the wrong
// timeout.
func WithTimeoutTolerance(d time.Duration) DiffOption {
	return func(c *diffConfig) { c.tolerance = d }
}

// Diff compares two sets of sessions, typically the sessions read from the
// source and those read back from the destination. Sessions are matched by id
// (by the derived key when the id is unset) and compared in their canonical
// form, like the digest: counters and last-seen are ignored, and
// timers/remaining is compared with a tolerance.
func Diff(a, b []*Session, opts ...DiffOption) Result {
	cfg := diffConfig{tolerance: DefaultTimeoutTolerance}
	for _, o := range opts {
		o(&cfg)
	}
	var r Result
	ia := index(a, "a", &r.Errors)
	ib := index(b, "b", &r.Errors)
	var ea, eb encoder
	for _, x := range ia.order {
		sa := ia.byID[x]
		sb, ok := ib.byID[x]
		if !ok {
			r.Removed = append(r.Removed, sa)
			continue
		}
		fields, err := compare(&ea, &eb, sa, sb, cfg)
		if err != nil {
			r.Errors = append(r.Errors, err)
			continue
		}
		if len(fields) > 0 {
			r.Changed = append(r.Changed, Change{ID: x, A: sa, B: sb, Fields: fields})
		}
	}
	for _, x := range ib.order {
		if _, ok := ia.byID[x]; !ok {
			r.Added = append(r.Added, ib.byID[x])
		}
	}
	return r
}

type indexed struct {
	byID  map[string]*Session
	order []string // sorted ids
}

func index(list []*Session, side string, errs *[]error) indexed {
	ix := indexed{byID: make(map[string]*Session, len(list))}
	for i, s := range list {
		if s == nil {
			*errs = append(*errs, fmt.Errorf("%w at %s[%d]", ErrNilSession, side, i))
			continue
		}
		id := s.GetId()
		if id == "" {
			var err error
			if id, err = Key(s); err != nil {
				*errs = append(*errs, err)
				continue
			}
		}
		if _, dup := ix.byID[id]; dup {
			*errs = append(*errs, &SessionError{ID: id, Path: "id", Err: fmt.Errorf("%w in %s", ErrDuplicateID, side)})
			continue
		}
		ix.byID[id] = s
		ix.order = append(ix.order, id)
	}
	slices.Sort(ix.order)
	return ix
}

// compare returns the differing fields of x and y. Equal canonical forms are
// the common case, and then only the tolerant leaves need a look; otherwise
// both sessions are flattened to leaves and merged by path.
func compare(ex, ey *encoder, x, y *Session, cfg diffConfig) ([]FieldChange, error) {
	if err := ex.session(x); err != nil {
		return nil, err
	}
	if err := ey.session(y); err != nil {
		return nil, err
	}
	if bytes.Equal(ex.buf, ey.buf) {
		return tolerantChanges(x, y, cfg), nil
	}
	lx, err := flatten(x)
	if err != nil {
		return nil, err
	}
	ly, err := flatten(y)
	if err != nil {
		return nil, err
	}
	var out []FieldChange
	i, j := 0, 0
	for i < len(lx) || j < len(ly) {
		var p, q *flatLeaf
		switch {
		case j == len(ly) || (i < len(lx) && lx[i].path < ly[j].path):
			p = &lx[i]
			i++
		case i == len(lx) || ly[j].path < lx[i].path:
			q = &ly[j]
			j++
		default:
			p, q = &lx[i], &ly[j]
			i++
			j++
		}
		if p != nil && q != nil {
			if p.enc == q.enc || (p.f.tolerant && withinTolerance(p.num, q.num, cfg.tolerance)) {
				continue
			}
		}
		fc := FieldChange{}
		if p != nil {
			fc.Path, fc.A = p.path, p.val
		}
		if q != nil {
			fc.Path, fc.B = q.path, q.val
		}
		out = append(out, fc)
	}
	return out, nil
}

// tolerantChanges compares the tolerant leaves of x and y without
// allocating unless they differ.
func tolerantChanges(x, y *Session, cfg diffConfig) []FieldChange {
	var out []FieldChange
	vx, vy := reflect.ValueOf(x).Elem(), reflect.ValueOf(y).Elem()
	for _, chain := range sessionPlan.tolerant {
		a, okA := uintAt(vx, chain)
		b, okB := uintAt(vy, chain)
		if okA == okB && (!okA || withinTolerance(a.Uint(), b.Uint(), cfg.tolerance)) {
			continue
		}
		fc := FieldChange{Path: chain[len(chain)-1].path}
		if okA {
			fc.A = a.Interface()
		}
		if okB {
			fc.B = b.Interface()
		}
		out = append(out, fc)
	}
	return out
}

// uintAt follows chain from struct v to an unsigned leaf; false when a
// container on the way or the leaf is absent.
func uintAt(v reflect.Value, chain []*field) (reflect.Value, bool) {
	for _, f := range chain {
		v = v.Field(f.index)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
	}
	return v, true
}

// withinTolerance compares two timer values in seconds, the units the model
// gives timers/remaining (the embedded ygot schema drops units, so this is not
// checked at run time).
func withinTolerance(a, b uint64, tol time.Duration) bool {
	d := max(a, b) - min(a, b)
	if d > math.MaxInt64/uint64(time.Second) {
		return false
	}
	return time.Duration(d)*time.Second <= tol
}

type flatLeaf struct {
	path string
	enc  string // canonical encoding, compared for equality
	num  uint64 // the value of an unsigned leaf, for the tolerance
	val  any    // the value as reported in FieldChange
	f    *field
}

// flatten lists the leaves of s that Diff compares, sorted by path.
func flatten(s *Session) ([]flatLeaf, error) {
	var fl flattener
	if err := fl.walk(sessionPlan, reflect.ValueOf(s).Elem(), ""); err != nil {
		return nil, &SessionError{ID: s.GetId(), Path: pathOf(err), Err: unwrapPath(err)}
	}
	slices.SortFunc(fl.out, func(a, b flatLeaf) int { return strings.Compare(a.path, b.path) })
	return fl.out, nil
}

type flattener struct {
	out []flatLeaf
}

// walk flattens struct v. Outside lists, prefix is empty and the precomputed
// paths are used as they are.
func (fl *flattener) walk(p *plan, v reflect.Value, prefix string) error {
	for _, f := range p.fields {
		if f.volatile {
			continue
		}
		fv := v.Field(f.index)
		path := f.path
		if prefix != "" {
			path = prefix + f.name
		}
		switch f.kind {
		case nodeContainer:
			if fv.IsNil() {
				continue
			}
			if f.presence {
				fl.out = append(fl.out, flatLeaf{path: path, enc: "present", val: true, f: f})
			}
			sub := ""
			if prefix != "" {
				sub = path + "/"
			}
			if err := fl.walk(f.sub, fv.Elem(), sub); err != nil {
				return err
			}
		case nodeList:
			for _, ev := range fv.Seq2() {
				if ev.IsNil() {
					return &pathError{f.path, fmt.Errorf("%w: nil list entry", ErrInvalid)}
				}
				name, err := entryName(f, ev.Elem(), path)
				if err != nil {
					return err
				}
				if err := fl.walk(f.sub, ev.Elem(), name+"/"); err != nil {
					return err
				}
			}
		case nodeLeaf, nodeLeafList:
			l, ok, err := leafOf(f, fv)
			if err != nil {
				return &pathError{path, err}
			}
			if ok {
				l.path = path
				fl.out = append(fl.out, l)
			}
		}
	}
	return nil
}

// entryName names a list entry by its keys: list[k1=v1][k2=v2].
func entryName(f *field, v reflect.Value, path string) (string, error) {
	var b strings.Builder
	b.WriteString(path)
	for _, k := range f.sub.keys {
		l, ok, err := leafOf(k, v.Field(k.index))
		if err != nil {
			return "", &pathError{path, err}
		}
		b.WriteByte('[')
		b.WriteString(k.name)
		b.WriteByte('=')
		if ok {
			fmt.Fprint(&b, l.val)
		}
		b.WriteByte(']')
	}
	return b.String(), nil
}

// leafOf returns the comparable form of leaf or leaf-list f held in fv; false
// when it is absent or equal to its default.
func leafOf(f *field, fv reflect.Value) (flatLeaf, bool, error) {
	l := flatLeaf{f: f}
	if f.kind == nodeLeafList {
		return leafListOf(f, fv)
	}
	if f.ptr {
		if fv.IsNil() {
			return l, false, nil
		}
		fv = fv.Elem()
	}
	enc, ok, err := f.appendValue(nil, fv)
	if err != nil || !ok || (f.defEnc != nil && bytes.Equal(enc, f.defEnc)) {
		return l, false, err
	}
	l.enc, l.val = string(enc), displayValue(f, fv)
	if f.val == valUint {
		l.num = fv.Uint()
	}
	return l, true, nil
}

func leafListOf(f *field, fv reflect.Value) (flatLeaf, bool, error) {
	l := flatLeaf{f: f}
	n := fv.Len()
	if n == 0 {
		return l, false, nil
	}
	type elem struct {
		enc string
		v   reflect.Value
	}
	elems := make([]elem, n)
	for i := range n {
		enc, ok, err := f.appendValue(nil, fv.Index(i))
		if err != nil {
			return l, false, err
		}
		if !ok {
			return l, false, fmt.Errorf("%w: unset value in leaf-list", ErrInvalid)
		}
		elems[i] = elem{string(enc), fv.Index(i)}
	}
	slices.SortStableFunc(elems, func(a, b elem) int { return compareEnc([]byte(a.enc), []byte(b.enc)) })
	var enc strings.Builder
	if f.val == valEnum {
		names := make([]string, n)
		for i, e := range elems {
			names[i] = f.enum[e.v.Int()]
			enc.WriteString(e.enc)
		}
		l.val = names
	} else {
		sorted := reflect.MakeSlice(fv.Type(), n, n)
		for i, e := range elems {
			sorted.Index(i).Set(e.v)
			enc.WriteString(e.enc)
		}
		l.val = sorted.Interface()
	}
	l.enc = enc.String()
	return l, true, nil
}

// displayValue is the value a FieldChange reports for scalar v.
func displayValue(f *field, v reflect.Value) any {
	switch f.val {
	case valEnum:
		return f.enum[v.Int()]
	case valBinary:
		return reflect.ValueOf(bytes.Clone(v.Bytes())).Convert(v.Type()).Interface()
	case valUnion:
		u := v.Elem()
		if e, ok := u.Interface().(ygot.GoEnum); ok {
			if name, err := ygot.EnumName(e); err == nil {
				return name
			}
		}
		return u.Interface()
	}
	return v.Interface()
}
