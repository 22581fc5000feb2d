package datastore

import (
	"bytes"
	"io"
	"reflect"
	"strings"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/xmltok"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// opNone is the "none" default-operation; it is never an nc:operation value.
const opNone yangxml.Operation = "none"

// elemPath is one step of a data path: a node name and, for a list entry,
// its key values as written in the document.
type elemPath struct {
	name string
	keys map[string]string
}

// opKey identifies a node of the decoded edit tree: a container or list
// entry by its struct pointer (field -1), a leaf by its parent struct and
// field index, a leaf-list value additionally by its index.
type opKey struct {
	ptr   uintptr
	field int
	idx   int
}

// rawOp is an nc:operation found by the pre-pass over the document: the
// path of the node that carries it (list keys as written) and, for a
// leaf-list value, the value.
type rawOp struct {
	path  []elemPath
	op    yangxml.Operation
	kind  fieldKind
	value string
	bare  bool // a leaf with delete/remove and no value, cut from the document
}

// edit is a decoded <config> with its operations.
type edit struct {
	root  ygot.GoStruct
	ops   map[opKey]yangxml.Operation
	bare  map[uintptr][]bareLeaf // parent struct pointer -> leaves
	below map[uintptr]bool       // structs with an operation somewhere below them
}

type bareLeaf struct {
	field int
	op    yangxml.Operation
}

// decodeEdit decodes <config> content and its nc:operation attributes.
//
// The operations are found by a schema-aware pre-pass over the document
// rather than with yangxml.WithEditOperations, because the decoder
// reports them before the enclosing list entry is stored in the tree and
// without the value of a leaf-list entry; the pre-pass also cuts out
// valueless leaves that carry delete or remove (<mark nc:operation="delete"/>),
// which the decoder would reject as invalid values.
func (s *Store) decodeEdit(data []byte) (*edit, error) {
	var raw []rawOp
	prepassErr := error(nil)
	if bytes.Contains(data, []byte("operation")) {
		data, raw, prepassErr = s.prepass(data)
	}
	ed := &edit{root: s.newRoot(), ops: map[opKey]yangxml.Operation{}, bare: map[uintptr][]bareLeaf{}, below: map[uintptr]bool{}}
	if err := s.codec.Unmarshal(data, ed.root, yangxml.RejectConfigFalse()); err != nil {
		return nil, decodeError(err)
	}
	if prepassErr != nil {
		return nil, rpcError(typeRPC, "malformed-message", "", "%v", prepassErr)
	}
	rv := reflect.ValueOf(ed.root)
	for _, r := range raw {
		k, ok := s.resolve(rv, r.path, r.value, ed.below)
		if !ok {
			continue // a node the decoder did not keep (cannot happen for valid input)
		}
		if r.bare {
			ed.bare[k.ptr] = append(ed.bare[k.ptr], bareLeaf{field: k.field, op: r.op})
		} else {
			ed.ops[k] = r.op
		}
	}
	return ed, nil
}

// resolve finds the node at path in the tree root; for a leaf-list, the
// entry whose value is written as value. The structs above the node are
// marked in above.
func (s *Store) resolve(root reflect.Value, path []elemPath, value string, above map[uintptr]bool) (opKey, bool) {
	cur := root // pointer to struct
	for i, step := range path {
		si := s.info(cur.Type().Elem())
		f := si.byName[step.name]
		if f == nil {
			return opKey{}, false
		}
		above[cur.Pointer()] = true
		fv := cur.Elem().Field(f.index)
		end := i == len(path)-1
		switch f.kind {
		case kindLeaf:
			return opKey{ptr: cur.Pointer(), field: f.index, idx: -1}, end
		case kindLeafList:
			for j := range fv.Len() {
				v := fv.Index(j)
				if keyMatches(v, value) || (strings.Contains(value, ":") && keyMatches(v, value[strings.LastIndexByte(value, ':')+1:])) {
					return opKey{ptr: cur.Pointer(), field: f.index, idx: j}, end
				}
			}
			return opKey{}, false
		case kindContainer:
			if fv.IsNil() {
				return opKey{}, false
			}
			cur = fv
		case kindList:
			_, e := f.lookupEntry(fv, step.keys)
			if !e.IsValid() {
				return opKey{}, false
			}
			cur = e
		}
		if end {
			return opKey{ptr: cur.Pointer(), field: -1, idx: -1}, true
		}
	}
	return opKey{}, false
}

func (s *Store) info(t reflect.Type) *structInfo {
	si, err := infoOf(t)
	if err != nil {
		panic(err) // checked for the root type in New
	}
	return si
}

// prepass finds the nc:operation attributes of the document and cuts out
// the valueless delete/remove leaves. Unknown elements are skipped: the
// decoder reports them. It tokenizes with xmltok (an edit of 100k sessions,
// each with an operation, is 100k rawOps; encoding/xml's tokens cost more
// than the whole decode) and keeps text only for leaves.
func (s *Store) prepass(data []byte) ([]byte, []rawOp, error) {
	type frame struct {
		name    string
		info    *structInfo // container/list entry/wrapper
		field   *fieldInfo  // nil for the wrapper
		keys    map[string]string
		start   int // byte offset of the start tag
		op      yangxml.Operation
		text    []byte
		child   bool // child element seen
		unknown bool
		nsTop   int // len(ns) before this element's declarations
	}
	type nsDecl struct{ prefix, uri string }
	lookup := func(ns []nsDecl, prefix string) string {
		for i := len(ns) - 1; i >= 0; i-- {
			if ns[i].prefix == prefix {
				return ns[i].uri
			}
		}
		if prefix == "xml" {
			return "http://www.w3.org/XML/1998/namespace"
		}
		return ""
	}
	tk := xmltok.NewBytes(data)
	var lines []int // byte offsets of line starts, built at the first cut
	offset := func() int {
		line, col := tk.InputPos()
		if lines == nil {
			lines = append(lines, 0)
			for i, c := range data {
				if c == '\n' {
					lines = append(lines, i+1)
				}
			}
		}
		return lines[line-1] + col - 1
	}
	var stack []*frame
	var ns []nsDecl
	var cuts [][2]int
	cutOpen := -1 // a cut whose end is the start of the next token
	var out []rawOp
	for {
		kind, err := tk.Next()
		if cutOpen >= 0 {
			if err == io.EOF {
				cuts = append(cuts, [2]int{cutOpen, len(data)})
			} else if err == nil {
				cuts = append(cuts, [2]int{cutOpen, offset()})
			}
			cutOpen = -1
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return data, nil, err
		}
		switch kind {
		case xmltok.StartElement:
			fr := &frame{name: string(tk.Local()), nsTop: len(ns)}
			for i := range tk.NumAttr() {
				p, l, v := tk.Attr(i)
				switch {
				case len(p) == 0 && string(l) == "xmlns":
					ns = append(ns, nsDecl{"", string(v)})
				case string(p) == "xmlns":
					ns = append(ns, nsDecl{string(l), string(v)})
				}
			}
			for i := range tk.NumAttr() {
				p, l, v := tk.Attr(i)
				if len(p) > 0 && string(p) != "xmlns" && string(l) == "operation" && lookup(ns, string(p)) == yangxml.NetconfBaseNS {
					fr.op = yangxml.Operation(v)
				}
			}
			var parent *frame
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
				parent.child = true
			}
			switch {
			case parent == nil && lookup(ns, string(tk.Prefix())) == yangxml.NetconfBaseNS && (fr.name == "config" || fr.name == "data"):
				fr.info = s.rootInfo
			case parent != nil && (parent.unknown || parent.info == nil):
				fr.unknown = true
			default:
				pi := s.rootInfo
				if parent != nil {
					pi = parent.info
				}
				f := pi.byName[fr.name]
				if f == nil {
					fr.unknown = true
					break
				}
				fr.field = f
				fr.info = f.elem
				if f.kind == kindList {
					fr.keys = map[string]string{}
				}
			}
			if fr.op != "" && fr.field != nil && fr.field.kind == kindLeaf {
				fr.start = offset() // only a leaf may be cut
			}
			stack = append(stack, fr)
		case xmltok.CharData:
			if n := len(stack); n > 0 {
				if f := stack[n-1].field; f != nil && (f.kind == kindLeaf || f.kind == kindLeafList) {
					stack[n-1].text = append(stack[n-1].text, tk.Text()...)
				}
			}
		case xmltok.EndElement:
			fr := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			ns = ns[:fr.nsTop]
			if fr.unknown || fr.field == nil {
				continue
			}
			text := strings.TrimSpace(string(fr.text))
			if fr.field.kind == kindLeaf && len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].keys[fr.name] = text
			}
			if fr.op == "" {
				continue
			}
			var path []elemPath
			for _, a := range stack {
				if a.field != nil {
					path = append(path, elemPath{name: a.name, keys: a.keys})
				}
			}
			path = append(path, elemPath{name: fr.name, keys: fr.keys})
			r := rawOp{path: path, op: fr.op, kind: fr.field.kind, value: text}
			if fr.field.kind == kindLeaf && text == "" && !fr.child && (fr.op == yangxml.OpDelete || fr.op == yangxml.OpRemove) {
				r.bare = true
				cutOpen = fr.start
			}
			out = append(out, r)
		}
	}
	if len(cuts) == 0 {
		return data, out, nil
	}
	var b bytes.Buffer
	prev := 0
	for _, c := range cuts {
		b.Write(data[prev:c[0]])
		prev = c[1]
	}
	b.Write(data[prev:])
	return b.Bytes(), out, nil
}

func nodeName(f *fieldInfo, parentModule string) string {
	if f.module != "" && f.module != parentModule {
		return f.module + ":" + f.name
	}
	return f.name
}

// applier applies a decoded edit to a working copy of the target. The
// working copy shares the nodes the edit does not touch with the target
// (see share.go): a struct is copied before its fields change, the map of
// a list and a leaf-list before entries are added or removed. Pruning
// (empty non-presence containers, lists and leaf-lists removed, so that
// equal configurations have equal trees) happens on the way back up, on
// the nodes the edit touched.
type applier struct {
	ed        *edit
	errs      []*netconf.RPCError
	keepGoing bool
	inEntry   bool       // below a list entry
	lists     []listEdit // how the lists outside list entries were made
	mapClone  func(any) (any, bool)
}

// copyMap is a shallow copy of the list map m, made by the Store's
// WithMapClone when it knows the type.
func (a *applier) copyMap(m reflect.Value) reflect.Value {
	if a.mapClone != nil {
		if c, ok := a.mapClone(m.Interface()); ok {
			if cv := reflect.ValueOf(c); cv.Type() == m.Type() {
				return cv
			}
		}
	}
	return copyMap(m)
}

func (a *applier) fail(e *netconf.RPCError) bool {
	a.errs = append(a.errs, e)
	return !a.keepGoing
}

// node applies the children of the edit struct ev (a pointer) to dst (an
// addressable struct of the working copy, private to it). old is the
// corresponding struct of the original target (invalid when the node did
// not exist), against which create/delete/none check existence. It returns
// false to stop.
func (a *applier) node(si *structInfo, dst, old, ev reflect.Value, op yangxml.Operation, path *dataPath, mod string) bool {
	for _, bl := range a.ed.bare[ev.Pointer()] {
		f := fieldByIndex(si, bl.field)
		p := path.child(nodeName(f, mod))
		if bl.op == yangxml.OpDelete && (!old.IsValid() || old.Field(f.index).IsZero()) {
			if a.fail(dataMissing(p.String())) {
				return false
			}
			continue
		}
		dst.Field(f.index).SetZero()
	}
	for _, f := range si.fields {
		efv := ev.Elem().Field(f.index)
		if efv.IsZero() {
			continue
		}
		p := path.child(nodeName(f, mod))
		var ofv reflect.Value
		if old.IsValid() {
			ofv = old.Field(f.index)
		}
		dfv := dst.Field(f.index)
		switch f.kind {
		case kindLeaf:
			eop := a.opOf(opKey{ev.Pointer(), f.index, -1}, op)
			exists := ofv.IsValid() && !ofv.IsZero()
			switch eop {
			case yangxml.OpMerge, yangxml.OpReplace:
				dfv.Set(cloneValue(efv))
			case yangxml.OpCreate:
				if exists {
					if a.fail(dataExists(p.String())) {
						return false
					}
					continue
				}
				dfv.Set(cloneValue(efv))
			case yangxml.OpDelete:
				if !exists {
					if a.fail(dataMissing(p.String())) {
						return false
					}
					continue
				}
				dfv.SetZero()
			case yangxml.OpRemove:
				dfv.SetZero()
			}
		case kindLeafList:
			if !dfv.IsNil() {
				dfv.Set(reflect.AppendSlice(reflect.MakeSlice(dfv.Type(), 0, dfv.Len()), dfv)) // shared
			}
			for i := range efv.Len() {
				val := efv.Index(i)
				eop := a.opOf(opKey{ev.Pointer(), f.index, i}, op)
				exists := ofv.IsValid() && indexOf(ofv, val) >= 0
				switch eop {
				case yangxml.OpMerge, yangxml.OpReplace, yangxml.OpCreate:
					if eop == yangxml.OpCreate && exists {
						if a.fail(dataExists(p.String() + "[.=" + quote(keyText(val)) + "]")) {
							return false
						}
						continue
					}
					if indexOf(dfv, val) < 0 {
						dfv.Set(reflect.Append(dfv, val))
					}
				case yangxml.OpDelete, yangxml.OpRemove:
					if eop == yangxml.OpDelete && !exists {
						if a.fail(dataMissing(p.String() + "[.=" + quote(keyText(val)) + "]")) {
							return false
						}
						continue
					}
					if j := indexOf(dfv, val); j >= 0 {
						dfv.Set(reflect.AppendSlice(dfv.Slice(0, j), dfv.Slice(j+1, dfv.Len())))
					}
				}
			}
			if !dfv.IsNil() && dfv.Len() == 0 {
				dfv.SetZero()
			}
		case kindContainer:
			eop := a.opOf(opKey{efv.Pointer(), -1, -1}, op)
			var oc reflect.Value
			if ofv.IsValid() && !ofv.IsNil() {
				oc = ofv.Elem()
			}
			if !a.subtree(f.elem, dfv, oc, efv, eop, p, f.module, func(n reflect.Value) { dfv.Set(n) }) {
				return false
			}
			if !dfv.IsNil() && !f.presence && dfv.Elem().IsZero() {
				dfv.SetZero()
			}
		case kindList:
			var from reflect.Value
			if !dfv.IsNil() {
				from = reflect.ValueOf(dfv.Interface())
				dfv.Set(a.copyMap(from)) // shared
			}
			keys := sortedKeys(efv)
			for _, k := range keys {
				entry := efv.MapIndex(k)
				eop := a.opOf(opKey{entry.Pointer(), -1, -1}, op)
				var oe reflect.Value
				if ofv.IsValid() && !ofv.IsNil() {
					if e := ofv.MapIndex(k); e.IsValid() {
						oe = e.Elem()
					}
				}
				var cur reflect.Value
				if !dfv.IsNil() {
					cur = dfv.MapIndex(k)
				}
				if !cur.IsValid() {
					cur = reflect.Zero(entry.Type())
				}
				set := func(n reflect.Value) {
					if n.IsNil() {
						if !dfv.IsNil() {
							dfv.SetMapIndex(k, reflect.Value{})
						}
						return
					}
					if dfv.IsNil() {
						dfv.Set(reflect.MakeMap(dfv.Type()))
					}
					dfv.SetMapIndex(k, n)
				}
				inEntry := a.inEntry
				a.inEntry = true
				ok := a.subtree(f.elem, cur, oe, entry, eop, p.entry(f, k), f.module, set)
				a.inEntry = inEntry
				if !ok {
					return false
				}
			}
			if !dfv.IsNil() && dfv.Len() == 0 {
				dfv.SetZero()
			}
			if !a.inEntry && from.IsValid() && !dfv.IsNil() {
				a.lists = append(a.lists, listEdit{m: reflect.ValueOf(dfv.Interface()), from: from, keys: keys})
			}
		}
	}
	return true
}

// subtree applies op to a container or list entry. cur is the node's
// pointer in the working copy (nil when absent), old the original struct
// (invalid when absent), ev the edit's pointer; set stores a new pointer
// (nil to delete) in the working copy.
func (a *applier) subtree(si *structInfo, cur, old, ev reflect.Value, op yangxml.Operation, path *dataPath, mod string, set func(reflect.Value)) bool {
	exists := old.IsValid()
	switch op {
	case yangxml.OpDelete:
		if !exists {
			return !a.fail(dataMissing(path.String()))
		}
		set(reflect.Zero(ev.Type()))
	case yangxml.OpRemove:
		set(reflect.Zero(ev.Type()))
	case yangxml.OpCreate:
		if exists {
			return !a.fail(dataExists(path.String()))
		}
		if !a.ed.below[ev.Pointer()] {
			set(adopt(si, ev))
			return true
		}
		n := reflect.New(si.typ)
		set(n)
		return a.node(si, n.Elem(), reflect.Value{}, ev, yangxml.OpCreate, path, mod)
	case yangxml.OpReplace:
		if !a.ed.below[ev.Pointer()] {
			set(adopt(si, ev))
			return true
		}
		n := reflect.New(si.typ)
		set(n)
		return a.node(si, n.Elem(), old, ev, yangxml.OpReplace, path, mod)
	case yangxml.OpMerge:
		if cur.IsNil() {
			cur = reflect.New(si.typ)
		} else {
			cur = shallow(cur) // shared with the target
		}
		set(cur)
		return a.node(si, cur.Elem(), old, ev, yangxml.OpMerge, path, mod)
	case opNone:
		if !exists || cur.IsNil() {
			return !a.fail(dataMissing(path.String()))
		}
		cur = shallow(cur)
		set(cur)
		return a.node(si, cur.Elem(), old, ev, opNone, path, mod)
	}
	return true
}

// adopt takes the decoded edit subtree ev (a struct pointer with no
// operation below it) into the working copy as it is, instead of building
// a copy of it field by field: the edit is private to the request. It gets
// what the copy would have had: empty non-presence containers, lists and
// leaf-lists removed. (A stage of 100k replaced sessions is then 100k
// pointers stored.)
func adopt(si *structInfo, ev reflect.Value) reflect.Value {
	adoptStruct(si, ev.Elem())
	return ev
}

func adoptStruct(si *structInfo, v reflect.Value) (empty bool) {
	empty = true
	for _, f := range si.fields {
		fv := v.Field(f.index)
		switch f.kind {
		case kindContainer:
			if !fv.IsNil() && adoptStruct(f.elem, fv.Elem()) && !f.presence {
				fv.SetZero()
			}
		case kindList:
			if !fv.IsNil() {
				it := fv.MapRange()
				for it.Next() {
					adoptStruct(f.elem, it.Value().Elem())
				}
				if fv.Len() == 0 {
					fv.SetZero()
				}
			}
		case kindLeafList: // the decoder refuses a value given twice
			if !fv.IsNil() && fv.Len() == 0 {
				fv.SetZero()
			}
		}
		if !fv.IsZero() {
			empty = false
		}
	}
	return empty
}

func (a *applier) opOf(k opKey, inherited yangxml.Operation) yangxml.Operation {
	if op, ok := a.ed.ops[k]; ok {
		return op
	}
	return inherited
}

func fieldByIndex(si *structInfo, i int) *fieldInfo {
	for _, f := range si.fields {
		if f.index == i {
			return f
		}
	}
	panic("datastore: no field with index")
}

func indexOf(slice, v reflect.Value) int {
	for i := range slice.Len() {
		if slice.Index(i).Equal(v) {
			return i
		}
	}
	return -1
}

// cloneValue copies a leaf value so the working copy shares no memory
// with the decoded edit (binary leaves are slices, leaves are pointers).
func cloneValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Ptr:
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(v.Elem())
		return n
	case reflect.Slice:
		return reflect.AppendSlice(reflect.MakeSlice(v.Type(), 0, v.Len()), v)
	}
	return v
}

func quote(s string) string {
	if strings.Contains(s, "'") {
		return `"` + s + `"`
	}
	return "'" + s + "'"
}

// dataPath is the data path of a node of an edit, rendered only for an
// error (an edit of 100k sessions formatted 100k key predicates for
// nothing).
type dataPath struct {
	parent *dataPath
	name   string     // "/name", or "" for the root
	list   *fieldInfo // a list entry: its list and key
	key    reflect.Value
}

func (p *dataPath) child(name string) *dataPath { return &dataPath{parent: p, name: "/" + name} }

func (p *dataPath) entry(f *fieldInfo, k reflect.Value) *dataPath {
	return &dataPath{parent: p, list: f, key: k}
}

func (p *dataPath) String() string {
	if p == nil {
		return ""
	}
	if p.list != nil {
		return p.parent.String() + p.list.predicates(p.key)
	}
	return p.parent.String() + p.name
}

func dataExists(path string) *netconf.RPCError {
	return rpcError(typeApplication, "data-exists", path, "the node already exists")
}

func dataMissing(path string) *netconf.RPCError {
	return rpcError(typeApplication, "data-missing", path, "the node does not exist")
}
