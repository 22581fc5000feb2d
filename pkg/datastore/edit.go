package datastore

import (
	"bytes"
	"encoding/xml"
	"io"
	"reflect"
	"strings"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/netconf"
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
	root ygot.GoStruct
	ops  map[opKey]yangxml.Operation
	bare map[uintptr][]bareLeaf // parent struct pointer -> leaves
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
	ed := &edit{root: s.newRoot(), ops: map[opKey]yangxml.Operation{}, bare: map[uintptr][]bareLeaf{}}
	if err := s.codec.Unmarshal(data, ed.root, yangxml.RejectConfigFalse()); err != nil {
		return nil, decodeError(err)
	}
	if prepassErr != nil {
		return nil, rpcError(typeRPC, "malformed-message", "", "%v", prepassErr)
	}
	rv := reflect.ValueOf(ed.root)
	for _, r := range raw {
		k, ok := s.resolve(rv, r.path, r.value)
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
// entry whose value is written as value.
func (s *Store) resolve(root reflect.Value, path []elemPath, value string) (opKey, bool) {
	cur := root // pointer to struct
	for i, step := range path {
		si := s.info(cur.Type().Elem())
		f := si.byName[step.name]
		if f == nil {
			return opKey{}, false
		}
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
// decoder reports them.
func (s *Store) prepass(data []byte) ([]byte, []rawOp, error) {
	type frame struct {
		name    string
		info    *structInfo // container/list entry/wrapper
		field   *fieldInfo  // nil for the wrapper
		keys    map[string]string
		start   int64
		op      yangxml.Operation
		text    strings.Builder
		child   bool // child element seen
		unknown bool
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	var cuts [][2]int64
	var out []rawOp
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return data, nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			fr := &frame{name: t.Name.Local, start: off}
			for _, a := range t.Attr {
				if a.Name.Space == yangxml.NetconfBaseNS && a.Name.Local == "operation" {
					fr.op = yangxml.Operation(a.Value)
				}
			}
			var parent *frame
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
				parent.child = true
			}
			switch {
			case parent == nil && t.Name.Space == yangxml.NetconfBaseNS && (t.Name.Local == "config" || t.Name.Local == "data"):
				fr.info = s.rootInfo
			case parent != nil && (parent.unknown || parent.info == nil):
				fr.unknown = true
			default:
				pi := s.rootInfo
				if parent != nil {
					pi = parent.info
				}
				f := pi.byName[t.Name.Local]
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
			stack = append(stack, fr)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			fr := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if fr.unknown || fr.field == nil {
				continue
			}
			text := strings.TrimSpace(fr.text.String())
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
				cuts = append(cuts, [2]int64{fr.start, dec.InputOffset()})
			}
			out = append(out, r)
		}
	}
	if len(cuts) == 0 {
		return data, out, nil
	}
	var b bytes.Buffer
	prev := int64(0)
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

// applier applies a decoded edit to a working copy of the target.
type applier struct {
	ed        *edit
	errs      []*netconf.RPCError
	keepGoing bool
}

func (a *applier) fail(e *netconf.RPCError) bool {
	a.errs = append(a.errs, e)
	return !a.keepGoing
}

// node applies the children of the edit struct ev (a pointer) to dst (an
// addressable struct of the working copy). old is the corresponding struct
// of the original target (invalid when the node did not exist), against
// which create/delete/none check existence. It returns false to stop.
func (a *applier) node(si *structInfo, dst, old, ev reflect.Value, op yangxml.Operation, path, mod string) bool {
	for _, bl := range a.ed.bare[ev.Pointer()] {
		f := fieldByIndex(si, bl.field)
		p := path + "/" + nodeName(f, mod)
		if bl.op == yangxml.OpDelete && (!old.IsValid() || old.Field(f.index).IsZero()) {
			if a.fail(dataMissing(p)) {
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
		p := path + "/" + nodeName(f, mod)
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
					if a.fail(dataExists(p)) {
						return false
					}
					continue
				}
				dfv.Set(cloneValue(efv))
			case yangxml.OpDelete:
				if !exists {
					if a.fail(dataMissing(p)) {
						return false
					}
					continue
				}
				dfv.SetZero()
			case yangxml.OpRemove:
				dfv.SetZero()
			}
		case kindLeafList:
			for i := range efv.Len() {
				val := efv.Index(i)
				eop := a.opOf(opKey{ev.Pointer(), f.index, i}, op)
				exists := ofv.IsValid() && indexOf(ofv, val) >= 0
				switch eop {
				case yangxml.OpMerge, yangxml.OpReplace, yangxml.OpCreate:
					if eop == yangxml.OpCreate && exists {
						if a.fail(dataExists(p + "[.=" + quote(keyText(val)) + "]")) {
							return false
						}
						continue
					}
					if indexOf(dfv, val) < 0 {
						dfv.Set(reflect.Append(dfv, val))
					}
				case yangxml.OpDelete, yangxml.OpRemove:
					if eop == yangxml.OpDelete && !exists {
						if a.fail(dataMissing(p + "[.=" + quote(keyText(val)) + "]")) {
							return false
						}
						continue
					}
					if j := indexOf(dfv, val); j >= 0 {
						dfv.Set(reflect.AppendSlice(dfv.Slice(0, j), dfv.Slice(j+1, dfv.Len())))
					}
				}
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
		case kindList:
			for _, k := range sortedKeys(efv) {
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
				if !a.subtree(f.elem, cur, oe, entry, eop, p+f.predicates(k), f.module, set) {
					return false
				}
			}
		}
	}
	return true
}

// subtree applies op to a container or list entry. cur is the node's
// pointer in the working copy (nil when absent), old the original struct
// (invalid when absent), ev the edit's pointer; set stores a new pointer
// (nil to delete) in the working copy.
func (a *applier) subtree(si *structInfo, cur, old, ev reflect.Value, op yangxml.Operation, path, mod string, set func(reflect.Value)) bool {
	exists := old.IsValid()
	switch op {
	case yangxml.OpDelete:
		if !exists {
			return !a.fail(dataMissing(path))
		}
		set(reflect.Zero(ev.Type()))
	case yangxml.OpRemove:
		set(reflect.Zero(ev.Type()))
	case yangxml.OpCreate:
		if exists {
			return !a.fail(dataExists(path))
		}
		n := reflect.New(si.typ)
		set(n)
		return a.node(si, n.Elem(), reflect.Value{}, ev, yangxml.OpCreate, path, mod)
	case yangxml.OpReplace:
		n := reflect.New(si.typ)
		set(n)
		return a.node(si, n.Elem(), old, ev, yangxml.OpReplace, path, mod)
	case yangxml.OpMerge:
		if cur.IsNil() {
			cur = reflect.New(si.typ)
			set(cur)
		}
		return a.node(si, cur.Elem(), old, ev, yangxml.OpMerge, path, mod)
	case opNone:
		if !exists || cur.IsNil() {
			return !a.fail(dataMissing(path))
		}
		return a.node(si, cur.Elem(), old, ev, opNone, path, mod)
	}
	return true
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

func dataExists(path string) *netconf.RPCError {
	return rpcError(typeApplication, "data-exists", path, "the node already exists")
}

func dataMissing(path string) *netconf.RPCError {
	return rpcError(typeApplication, "data-missing", path, "the node does not exist")
}
