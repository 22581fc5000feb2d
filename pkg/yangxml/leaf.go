package yangxml

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
)

// nsResolver maps an XML prefix ("" for the default) to a namespace URI.
type nsResolver interface {
	lookupNS(prefix string) (string, bool)
}

// valueCodec converts between the XML text of one YANG type and a Go value.
type valueCodec struct {
	goType reflect.Type
	// transient: decode does not keep the text it is given (numbers,
	// booleans, enums), so the decoder can pass a view of its buffer.
	transient bool
	// decode parses text into a value of goType.
	decode func(text string, ns nsResolver) (reflect.Value, error)
	// encode formats a value of goType; decl is a module whose prefix the
	// text uses (identityref) and must be declared on the element.
	encode func(v reflect.Value) (text string, decl *Module, err error)
}

// leafCodec binds a valueCodec to a leaf or leaf-list field.
type leafCodec struct {
	valueCodec
	ptr  bool // leaf stored as *T
	list bool // leaf-list stored as []T
}

// valueType is the Go type of one value (the key type for list keys).
func (l *leafCodec) valueType() reflect.Type { return l.goType }

func (comp *compiler) leaf(e *yang.Entry, ft reflect.Type, list bool, path string, parent reflect.Type) (*leafCodec, error) {
	if util.IsLeafRef(e) {
		target, err := util.ResolveIfLeafRef(e)
		if err != nil {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: leafref: %v", ErrUnsupported, err)}
		}
		e = target
	}
	lc := &leafCodec{list: list}
	gt := ft
	switch {
	case list:
		if ft.Kind() != reflect.Slice {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: leaf-list field of type %v", ErrUnsupported, ft)}
		}
		gt = ft.Elem()
	case ft.Kind() == reflect.Ptr:
		lc.ptr = true
		gt = ft.Elem()
	}
	vc, err := comp.value(e.Type, gt, path, parent)
	if err != nil {
		return nil, err
	}
	lc.valueCodec = *vc
	return lc, nil
}

func (comp *compiler) value(yt *yang.YangType, gt reflect.Type, path string, parent reflect.Type) (*valueCodec, error) {
	if yt == nil {
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: leaf without a type", ErrUnsupported)}
	}
	bad := func() (*valueCodec, error) {
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: YANG type %s (%v) as Go %v", ErrUnsupported, yt.Name, yt.Kind, gt)}
	}
	vc := &valueCodec{goType: gt}
	switch yt.Kind {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64, yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64,
		yang.Ydecimal64, yang.Ybool, yang.Yempty, yang.Ybinary:
		vc.transient = true
	}
	switch yt.Kind {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64:
		if gt.Kind() < reflect.Int || gt.Kind() > reflect.Int64 {
			return bad()
		}
		bits := gt.Bits()
		rng := yt.Range
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
			if err != nil {
				return reflect.Value{}, numErr(s, yt, err)
			}
			if !inRange(rng, yang.FromInt(n)) {
				return reflect.Value{}, fmt.Errorf("%w: %d not in %v", ErrOutOfRange, n, rng)
			}
			return reflect.ValueOf(n).Convert(gt), nil
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) { return strconv.FormatInt(v.Int(), 10), nil, nil }
	case yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		if gt.Kind() < reflect.Uint || gt.Kind() > reflect.Uint64 {
			return bad()
		}
		bits := gt.Bits()
		rng := yt.Range
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			n, err := strconv.ParseUint(strings.TrimSpace(s), 10, bits)
			if err != nil {
				return reflect.Value{}, numErr(s, yt, err)
			}
			if !inRange(rng, yang.FromUint(n)) {
				return reflect.Value{}, fmt.Errorf("%w: %d not in %v", ErrOutOfRange, n, rng)
			}
			return reflect.ValueOf(n).Convert(gt), nil
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) { return strconv.FormatUint(v.Uint(), 10), nil, nil }
	case yang.Ydecimal64:
		if gt.Kind() != reflect.Float64 {
			return bad()
		}
		fd := uint8(yt.FractionDigits)
		rng := yt.Range
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			s = strings.TrimSpace(s)
			n, err := yang.ParseDecimal(s, fd)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("%w: %q is not a decimal64 with %d fraction digits", ErrInvalidValue, s, fd)
			}
			if !inRange(rng, n) {
				return reflect.Value{}, fmt.Errorf("%w: %s not in %v", ErrOutOfRange, s, rng)
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return reflect.Value{}, fmt.Errorf("%w: %q: %v", ErrInvalidValue, s, err)
			}
			return reflect.ValueOf(f).Convert(gt), nil
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) {
			return strconv.FormatFloat(v.Float(), 'f', int(fd), 64), nil, nil
		}
	case yang.Ystring:
		if gt.Kind() != reflect.String {
			return bad()
		}
		check, err := comp.stringCheck(yt, path)
		if err != nil {
			return nil, err
		}
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			if err := check(s); err != nil {
				return reflect.Value{}, err
			}
			return reflect.ValueOf(s).Convert(gt), nil
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) {
			s := v.String()
			return s, nil, check(s)
		}
	case yang.Ybool:
		if gt.Kind() != reflect.Bool {
			return bad()
		}
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			switch strings.TrimSpace(s) {
			case "true":
				return reflect.ValueOf(true).Convert(gt), nil
			case "false":
				return reflect.ValueOf(false).Convert(gt), nil
			}
			return reflect.Value{}, fmt.Errorf("%w: %q is not a boolean (true or false)", ErrInvalidValue, s)
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) { return strconv.FormatBool(v.Bool()), nil, nil }
	case yang.Yempty:
		if gt.Kind() != reflect.Bool {
			return bad()
		}
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			if strings.TrimSpace(s) != "" {
				return reflect.Value{}, fmt.Errorf("%w: type empty has content %q", ErrInvalidValue, s)
			}
			return reflect.ValueOf(true).Convert(gt), nil
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) { return "", nil, nil }
	case yang.Ybinary:
		if gt.Kind() != reflect.Slice || gt.Elem().Kind() != reflect.Uint8 {
			return bad()
		}
		lr := yt.Length
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			b, err := base64.StdEncoding.DecodeString(stripSpace(s))
			if err != nil {
				return reflect.Value{}, fmt.Errorf("%w: not base64: %v", ErrInvalidValue, err)
			}
			if !inRange(lr, yang.FromUint(uint64(len(b)))) {
				return reflect.Value{}, fmt.Errorf("%w: %d bytes, length must be in %v", ErrInvalidValue, len(b), lr)
			}
			return reflect.ValueOf(b).Convert(gt), nil
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) {
			return base64.StdEncoding.EncodeToString(v.Bytes()), nil, nil
		}
	case yang.Yenum, yang.Yidentityref:
		if gt.Kind() != reflect.Int64 || !gt.Implements(reflect.TypeFor[ygot.GoEnum]()) {
			return bad()
		}
		return comp.enum(yt, gt, path)
	case yang.Yunion:
		if gt.Kind() == reflect.Interface {
			return comp.union(yt, gt, path, parent)
		}
		return comp.simpleUnion(yt, gt, path, parent)
	default:
		return bad()
	}
	return vc, nil
}

// enum handles enumeration and identityref, which ygot both maps to int64
// enum types.
func (comp *compiler) enum(yt *yang.YangType, gt reflect.Type, path string) (*valueCodec, error) {
	defs := reflect.Zero(gt).Interface().(ygot.GoEnum).ΛMap()[gt.Name()]
	if len(defs) == 0 {
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: enum type %v has no definitions", ErrUnsupported, gt)}
	}
	byName := make(map[string]int64, len(defs))
	for v, d := range defs {
		byName[d.Name] = v
	}
	vc := &valueCodec{goType: gt, transient: true}
	if yt.Kind == yang.Yenum {
		vc.decode = func(s string, _ nsResolver) (reflect.Value, error) {
			v, ok := byName[strings.TrimSpace(s)]
			if !ok {
				return reflect.Value{}, fmt.Errorf("%w: %q is not one of the enumeration's values", ErrInvalidValue, s)
			}
			return reflect.ValueOf(v).Convert(gt), nil
		}
		vc.encode = func(v reflect.Value) (string, *Module, error) {
			d, ok := defs[v.Int()]
			if !ok {
				return "", nil, fmt.Errorf("%w: enum value %d of %v", ErrInvalidValue, v.Int(), gt)
			}
			return d.Name, nil, nil
		}
		return vc, nil
	}
	c := comp.c
	vc.decode = func(s string, ns nsResolver) (reflect.Value, error) {
		s = strings.TrimSpace(s)
		prefix, name := "", s
		if i := strings.IndexByte(s, ':'); i >= 0 {
			prefix, name = s[:i], s[i+1:]
		}
		uri, ok := ns.lookupNS(prefix)
		if !ok {
			return reflect.Value{}, fmt.Errorf("%w: identityref %q: prefix %q is not declared", ErrNamespace, s, prefix)
		}
		m := c.byNS[uri]
		if m == nil {
			return reflect.Value{}, fmt.Errorf("%w: identityref %q: namespace %q is no known module", ErrNamespace, s, uri)
		}
		v, ok := byName[name]
		if !ok || defs[v].DefiningModule != m.Name {
			return reflect.Value{}, fmt.Errorf("%w: %q is not an identity derived from %s", ErrInvalidValue, s, baseName(yt))
		}
		return reflect.ValueOf(v).Convert(gt), nil
	}
	vc.encode = func(v reflect.Value) (string, *Module, error) {
		d, ok := defs[v.Int()]
		if !ok {
			return "", nil, fmt.Errorf("%w: identity value %d of %v", ErrInvalidValue, v.Int(), gt)
		}
		m := c.mods[d.DefiningModule]
		if m == nil {
			return "", nil, fmt.Errorf("%w: identity %s: module %q has no namespace registered", ErrNamespace, d.Name, d.DefiningModule)
		}
		return m.Prefix + ":" + d.Name, m, nil
	}
	return vc, nil
}

func baseName(yt *yang.YangType) string {
	if yt.IdentityBase != nil {
		return yt.IdentityBase.Name
	}
	return yt.Name
}

// simpleUnion: a union that ygot collapsed to one Go type (e.g. string for
// inet:ip-address). A value is valid when any member accepts it.
func (comp *compiler) simpleUnion(yt *yang.YangType, gt reflect.Type, path string, parent reflect.Type) (*valueCodec, error) {
	var members []*valueCodec
	for _, mt := range flattenUnion(yt) {
		m, err := comp.value(mt, gt, path, parent)
		if err != nil {
			return nil, err
		}
		members = append(members, m)
	}
	fast := ipFastPath(yt)
	vc := &valueCodec{goType: gt}
	vc.decode = func(s string, ns nsResolver) (reflect.Value, error) {
		if fast != nil && fast(s) {
			return reflect.ValueOf(s).Convert(gt), nil
		}
		var firstErr error
		for _, m := range members {
			v, err := m.decode(s, ns)
			if err == nil {
				return v, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return reflect.Value{}, fmt.Errorf("%w: %q matches no member of union %s (%v)", ErrInvalidValue, s, yt.Name, firstErr)
	}
	vc.encode = func(v reflect.Value) (string, *Module, error) {
		if fast != nil && v.Kind() == reflect.String && fast(v.String()) {
			return v.String(), nil, nil
		}
		var firstErr error
		for _, m := range members {
			t, d, err := m.encode(v)
			if err == nil {
				return t, d, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return "", nil, firstErr
	}
	return vc, nil
}

// union: a union generated as a Go interface with one wrapper type per member
// (UnionUint64, an enum type, ...). Members are tried in schema order.
func (comp *compiler) union(yt *yang.YangType, iface reflect.Type, path string, parent reflect.Type) (*valueCodec, error) {
	conv, ok := reflect.PointerTo(parent).MethodByName("To_" + iface.Name())
	if !ok {
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: %v has no To_%s method", ErrUnsupported, parent, iface.Name())}
	}
	schemaPath := path
	type member struct {
		vc      *valueCodec
		wrapper reflect.Type
	}
	var members []member
	byWrapper := map[reflect.Type]*valueCodec{}
	for _, mt := range flattenUnion(yt) {
		var nt reflect.Type
		switch mt.Kind {
		case yang.Yenum, yang.Yidentityref:
			nt = comp.enumTypeFor(schemaPath, mt)
			if nt == nil {
				return nil, &Error{Path: path, Err: fmt.Errorf("%w: no generated enum type for union member %s", ErrUnsupported, mt.Name)}
			}
		default:
			nt = nativeType(mt.Kind)
			if nt == nil {
				return nil, &Error{Path: path, Err: fmt.Errorf("%w: union member type %v", ErrUnsupported, mt.Kind)}
			}
		}
		vc, err := comp.value(mt, nt, path, parent)
		if err != nil {
			return nil, err
		}
		// Learn the wrapper type by converting a zero value.
		arg := reflect.New(reflect.TypeFor[any]()).Elem()
		arg.Set(reflect.Zero(nt))
		out := conv.Func.Call([]reflect.Value{reflect.New(parent), arg})
		if !out[1].IsNil() {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: union member %v: %v", ErrUnsupported, nt, out[1].Interface())}
		}
		wt := out[0].Elem().Type()
		members = append(members, member{vc: vc, wrapper: wt})
		if _, ok := byWrapper[wt]; !ok {
			byWrapper[wt] = vc
		}
	}
	vc := &valueCodec{goType: iface}
	vc.decode = func(s string, ns nsResolver) (reflect.Value, error) {
		var firstErr error
		for _, m := range members {
			v, err := m.vc.decode(s, ns)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			u := reflect.New(iface).Elem()
			u.Set(v.Convert(m.wrapper))
			return u, nil
		}
		return reflect.Value{}, fmt.Errorf("%w: %q matches no member of union %s (%v)", ErrInvalidValue, s, yt.Name, firstErr)
	}
	vc.encode = func(v reflect.Value) (string, *Module, error) {
		if v.Kind() == reflect.Interface {
			v = v.Elem()
		}
		m, ok := byWrapper[v.Type()]
		if !ok {
			return "", nil, fmt.Errorf("%w: %v is not a member of union %s", ErrInvalidValue, v.Type(), yt.Name)
		}
		return m.encode(v.Convert(m.goType))
	}
	return vc, nil
}

// enumTypeFor finds the generated enum type for an enumeration or identityref
// member of a union, from the generated ΛEnumTypes map.
func (comp *compiler) enumTypeFor(path string, mt *yang.YangType) reflect.Type {
	cands := comp.enums[path]
	var want []string
	if mt.Kind == yang.Yenum && mt.Enum != nil {
		want = mt.Enum.Names()
	}
	for _, t := range cands {
		defs := reflect.Zero(t).Interface().(ygot.GoEnum).ΛMap()[t.Name()]
		names := map[string]bool{}
		for _, d := range defs {
			names[d.Name] = true
		}
		ok := true
		for _, w := range want {
			ok = ok && names[w]
		}
		if mt.Kind == yang.Yidentityref && mt.IdentityBase != nil {
			ok = false
			for _, id := range mt.IdentityBase.Values {
				ok = ok || names[id.Name]
			}
		}
		if ok {
			return t
		}
	}
	return nil
}

func flattenUnion(yt *yang.YangType) []*yang.YangType {
	var out []*yang.YangType
	for _, m := range yt.Type {
		if m.Kind == yang.Yunion {
			out = append(out, flattenUnion(m)...)
			continue
		}
		out = append(out, m)
	}
	return out
}

func nativeType(k yang.TypeKind) reflect.Type {
	switch k {
	case yang.Yint8:
		return reflect.TypeFor[int8]()
	case yang.Yint16:
		return reflect.TypeFor[int16]()
	case yang.Yint32:
		return reflect.TypeFor[int32]()
	case yang.Yint64:
		return reflect.TypeFor[int64]()
	case yang.Yuint8:
		return reflect.TypeFor[uint8]()
	case yang.Yuint16:
		return reflect.TypeFor[uint16]()
	case yang.Yuint32:
		return reflect.TypeFor[uint32]()
	case yang.Yuint64:
		return reflect.TypeFor[uint64]()
	case yang.Ystring:
		return reflect.TypeFor[string]()
	case yang.Ybool:
		return reflect.TypeFor[bool]()
	case yang.Ydecimal64:
		return reflect.TypeFor[float64]()
	case yang.Ybinary:
		return reflect.TypeFor[[]byte]()
	}
	return nil
}

// stringCheck compiles the length and pattern restrictions of a string type.
func (comp *compiler) stringCheck(yt *yang.YangType, path string) (func(string) error, error) {
	lr := yt.Length
	pats, posix := util.SanitizedPattern(yt)
	var res []*regexp.Regexp
	for _, p := range pats {
		var re *regexp.Regexp
		var err error
		if posix {
			re, err = regexp.CompilePOSIX(p)
		} else {
			re, err = regexp.Compile(p)
		}
		if err != nil {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: pattern %q: %v", ErrUnsupported, p, err)}
		}
		res = append(res, re)
	}
	fast := ipFastPath(yt)
	return func(s string) error {
		if len(lr) > 0 && !inRange(lr, yang.FromUint(uint64(utf8.RuneCountInString(s)))) {
			return fmt.Errorf("%w: %q has length %d, must be in %v", ErrInvalidValue, s, utf8.RuneCountInString(s), lr)
		}
		if fast != nil && fast(s) {
			return nil
		}
		for i, re := range res {
			if !re.MatchString(s) {
				return fmt.Errorf("%w: %q does not match pattern %q of type %s", ErrInvalidValue, s, pats[i], yt.Name)
			}
		}
		return nil
	}, nil
}

// ipFastPath accepts the common address forms of the RFC 6991 address types
// without running their (slow) patterns; anything it does not accept falls
// through to the patterns, so it never widens what is valid.
func ipFastPath(yt *yang.YangType) func(string) bool {
	switch yt.Name {
	case "ip-address", "ip-address-no-zone":
		return func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Zone() == "" }
	case "ipv4-address", "ipv4-address-no-zone":
		return func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is4() }
	case "ipv6-address", "ipv6-address-no-zone":
		return func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is6() && a.Zone() == "" }
	}
	return nil
}

func inRange(r yang.YangRange, n yang.Number) bool {
	if len(r) == 0 {
		return true
	}
	for _, x := range r {
		if !n.Less(x.Min) && !x.Max.Less(n) {
			return true
		}
	}
	return false
}

func numErr(s string, yt *yang.YangType, err error) error {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return fmt.Errorf("%w: %q overflows %s", ErrOutOfRange, s, yt.Kind)
	}
	return fmt.Errorf("%w: %q is not a valid %s", ErrInvalidValue, s, yt.Kind)
}

func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}
