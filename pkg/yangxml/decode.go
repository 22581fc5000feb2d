package yangxml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unsafe"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// XML namespaces of the NETCONF envelopes the decoder unwraps.
const (
	NetconfBaseNS = "urn:ietf:params:xml:ns:netconf:base:1.0"
	nmdaNS        = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
)

// Operation is an edit-config operation attribute (RFC 6241 7.2).
type Operation string

// The edit-config operations.
const (
	OpMerge   Operation = "merge"
	OpReplace Operation = "replace"
	OpCreate  Operation = "create"
	OpDelete  Operation = "delete"
	OpRemove  Operation = "remove"
)

// EditOp is an nc:operation attribute found while decoding, with the data
// path (list keys included) of the node that carried it.
type EditOp struct {
	Path *gpb.Path
	// SchemaPath is the path without keys, "/flow-state/sessions/session".
	SchemaPath string
	Op         Operation
}

// DecodeOption configures a decode.
type DecodeOption func(*decodeOpts)

type decodeOpts struct {
	listPaths   map[string]func(ygot.GoStruct) error
	skipUnknown bool
	configOnly  bool
	ops         func(EditOp) error
	inherited   map[string]string
}

// WithListHandler hands each decoded entry of the list at schemaPath
// (e.g. "/flow-state/sessions/session") to fn instead of storing it in the
// tree, so a reply of any size is decoded in memory bounded by one entry.
// An error from fn stops the decode and is returned wrapped.
func WithListHandler(schemaPath string, fn func(entry ygot.GoStruct) error) DecodeOption {
	return func(o *decodeOpts) {
		if o.listPaths == nil {
			o.listPaths = map[string]func(ygot.GoStruct) error{}
		}
		o.listPaths[normPath(schemaPath)] = fn
	}
}

// SkipUnknownModules ignores top-level elements whose namespace is not one
// of the codec's modules (a <get> without filter returns every module's data).
// Unknown elements inside a known module are still errors.
func SkipUnknownModules() DecodeOption { return func(o *decodeOpts) { o.skipUnknown = true } }

// RejectConfigFalse refuses config false nodes (configuration content, e.g.
// <edit-config>, must not carry state) with ErrInvalidValue and their path.
func RejectConfigFalse() DecodeOption { return func(o *decodeOpts) { o.configOnly = true } }

// WithEditOperations reports every nc:operation attribute (edit-config
// content) to fn, after the node that carries it is decoded.
func WithEditOperations(fn func(EditOp) error) DecodeOption {
	return func(o *decodeOpts) { o.ops = fn }
}

// WithNamespaces gives the namespace declarations in scope from enclosing
// elements (prefix -> URI, "" for the default), for DecodeElement.
func WithNamespaces(ns map[string]string) DecodeOption {
	return func(o *decodeOpts) { o.inherited = ns }
}

// Unmarshal decodes an XML document (a <data> or <config> element, or bare
// top-level data nodes) into root, which must be of the codec's root type.
func (c *Codec) Unmarshal(data []byte, root ygot.GoStruct, opts ...DecodeOption) error {
	return c.decode(xmltok.NewBytes(data), root, buildDecodeOpts(opts))
}

// Decoder decodes one XML document from a stream.
type Decoder struct {
	c  *Codec
	tk *xmltok.Tokenizer
	o  decodeOpts
}

// NewDecoder returns a decoder reading from r. r is read incrementally.
func (c *Codec) NewDecoder(r io.Reader, opts ...DecodeOption) *Decoder {
	return &Decoder{c: c, tk: xmltok.New(r), o: buildDecodeOpts(opts)}
}

func buildDecodeOpts(opts []DecodeOption) decodeOpts {
	var o decodeOpts
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Decode reads the document into root.
func (dec *Decoder) Decode(root ygot.GoStruct) error {
	return dec.c.decode(dec.tk, root, dec.o)
}

func (c *Codec) decode(tk *xmltok.Tokenizer, root ygot.GoStruct, o decodeOpts) error {
	st, err := c.newState(tk, root, o)
	if err != nil {
		return err
	}
	for {
		k, err := tk.Next()
		if err == io.EOF {
			return st.errf(ErrMalformed, "no data element in the input")
		}
		if err != nil {
			return st.syntax(err)
		}
		if k == xmltok.StartElement {
			break
		}
		if err := st.outside(k); err != nil {
			return err
		}
	}
	return st.document(true)
}

// DecodeElement decodes the element whose start tag is tk's current token
// (a <data> or <config> wrapper, or a top-level data node) up to its end
// tag, as NETCONF reply readers need. Namespace declarations of enclosing
// elements are passed with WithNamespaces.
func (c *Codec) DecodeElement(tk *xmltok.Tokenizer, root ygot.GoStruct, opts ...DecodeOption) error {
	st, err := c.newState(tk, root, buildDecodeOpts(opts))
	if err != nil {
		return err
	}
	return st.document(false)
}

type binding struct{ prefix, uri string }

type pathElem struct {
	name   string
	module *Module
	keys   []string // "name=value" in key order, once known
	f      *fieldPlan
	op     Operation
}

// state is one decode in progress.
type state struct {
	c     *Codec
	tk    *xmltok.Tokenizer
	o     decodeOpts
	root  reflect.Value
	ns    []binding
	marks []int
	path  []pathElem
	text  []byte
	lists map[*fieldPlan]func(ygot.GoStruct) error
}

func (c *Codec) newState(tk *xmltok.Tokenizer, root ygot.GoStruct, o decodeOpts) (*state, error) {
	rv, err := c.checkRoot(root)
	if err != nil {
		return nil, err
	}
	st := &state{c: c, tk: tk, o: o, root: rv}
	for p, u := range o.inherited {
		st.ns = append(st.ns, binding{p, u})
	}
	if len(o.listPaths) > 0 {
		st.lists = map[*fieldPlan]func(ygot.GoStruct) error{}
		for p, fn := range o.listPaths {
			fs, err := c.lookupPlan(p)
			if err != nil {
				return nil, err
			}
			f := fs[len(fs)-1]
			if f.kind != kindList {
				return nil, &Error{Path: p, Err: fmt.Errorf("%w: list handler for %s, which is not a list", ErrUnsupported, p)}
			}
			st.lists[f] = fn
		}
	}
	return st, nil
}

// document decodes, from the start tag that is the current token, a wrapper
// or a sequence of top-level nodes.
func (st *state) document(toEOF bool) error {
	st.push()
	uri, _ := st.lookupNS(string(st.tk.Prefix()))
	local := st.tk.Local()
	wrapper := (uri == NetconfBaseNS && (string(local) == "data" || string(local) == "config")) ||
		(uri == nmdaNS && string(local) == "data")
	if wrapper {
		if err := st.children(st.c.root, st.root); err != nil {
			return err
		}
		st.pop()
	} else {
		if err := st.child(st.c.root, st.root, uri); err != nil {
			return err
		}
		if !toEOF {
			return nil
		}
		// Further top-level siblings.
		for {
			k, err := st.tk.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return st.syntax(err)
			}
			if k == xmltok.StartElement {
				st.push()
				u, _ := st.lookupNS(string(st.tk.Prefix()))
				if err := st.child(st.c.root, st.root, u); err != nil {
					return err
				}
				continue
			}
			if err := st.outside(k); err != nil {
				return err
			}
		}
	}
	if !toEOF {
		return nil
	}
	for {
		k, err := st.tk.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return st.syntax(err)
		}
		if k == xmltok.StartElement {
			return st.errf(ErrMalformed, "element <%s> after the end of the document", st.tk.Local())
		}
		if err := st.outside(k); err != nil {
			return err
		}
	}
}

// outside accepts what may appear between elements at the top: whitespace
// (and a byte order mark), comments and the XML declaration.
func (st *state) outside(k xmltok.Kind) error {
	switch k {
	case xmltok.CharData:
		if t := bytes.TrimLeft(st.tk.Text(), "\uFEFF"); len(bytes.TrimSpace(t)) != 0 {
			return st.errf(ErrMalformed, "text %q outside of any element", truncate(string(t)))
		}
	case xmltok.Directive:
		return st.errf(ErrMalformed, "DTDs and directives are not accepted")
	}
	return nil
}

// children decodes the child elements of the element just entered into the
// struct v described by p, up to and including that element's end tag.
func (st *state) children(p *nodePlan, v reflect.Value) error {
	for {
		k, err := st.tk.Next()
		if err != nil {
			return st.syntax(err)
		}
		switch k {
		case xmltok.StartElement:
			st.push()
			uri, _ := st.lookupNS(string(st.tk.Prefix()))
			if err := st.child(p, v, uri); err != nil {
				return err
			}
		case xmltok.EndElement:
			return nil // the tokenizer checks that end tags match
		case xmltok.CharData:
			if len(bytes.TrimSpace(st.tk.Text())) != 0 {
				return st.errf(ErrMalformed, "text %q inside a node that is not a leaf", truncate(string(st.tk.Text())))
			}
		case xmltok.Directive:
			return st.errf(ErrMalformed, "DTDs and directives are not accepted")
		}
	}
}

// child decodes the element whose start tag is the current token (already
// pushed on the namespace stack), a child of the struct v, and pops it.
func (st *state) child(p *nodePlan, v reflect.Value, uri string) error {
	defer st.pop()
	local := st.tk.Local()
	f := p.byName[string(local)]
	if f == nil || (p == st.c.root && st.c.byNS[uri] == nil) {
		if p == st.c.root && st.o.skipUnknown && st.c.byNS[uri] == nil {
			return st.skip()
		}
		name := string(local)
		st.path = append(st.path, pathElem{name: name})
		if uri == "" {
			return st.errf(ErrUnknownElement, "<%s> (no namespace) is not in the schema", name)
		}
		return st.errf(ErrUnknownElement, "<%s> in namespace %q is not in the schema", name, uri)
	}
	st.path = append(st.path, pathElem{name: f.name, module: f.module, f: f})
	defer func() { st.path = st.path[:len(st.path)-1] }()
	if uri != f.module.Namespace {
		if uri == "" {
			return st.errf(ErrNamespace, "<%s> has no namespace, want %q", f.name, f.module.Namespace)
		}
		return st.errf(ErrNamespace, "<%s> is in namespace %q, want %q", f.name, uri, f.module.Namespace)
	}
	if st.o.configOnly && !f.config {
		return st.errf(ErrInvalidValue, "<%s> is config false: state cannot be written as configuration", f.name)
	}
	if err := st.attrs(); err != nil {
		return err
	}
	fv := v.Field(f.index)
	switch f.kind {
	case kindLeaf, kindLeafList:
		raw, err := st.readText(f.name)
		if err != nil {
			return err
		}
		var text string
		if f.leaf.transient && !f.isKey {
			text = unsafe.String(unsafe.SliceData(raw), len(raw)) // not kept by decode
		} else {
			text = string(raw)
		}
		val, err := f.leaf.decode(text, st)
		if err != nil {
			return st.wrap(err)
		}
		if f.kind == kindLeafList {
			for i := 0; i < fv.Len() && i < 256; i++ {
				if f.config && fv.Index(i).Equal(val) {
					return st.errf(ErrDuplicate, "leaf-list value %q given twice", truncate(text))
				}
			}
			fv.Set(reflect.Append(fv, val))
		} else {
			if !fv.IsZero() {
				return st.errf(ErrDuplicate, "leaf <%s> given twice", f.name)
			}
			if f.leaf.ptr {
				pv := reflect.New(f.leaf.goType)
				pv.Elem().Set(val)
				fv.Set(pv)
			} else {
				fv.Set(val)
			}
			if f.isKey && len(st.path) >= 2 {
				st.path[len(st.path)-2].addKey(f.name, text)
			}
		}
	case kindContainer:
		if !fv.IsNil() {
			return st.errf(ErrDuplicate, "container <%s> given twice", f.name)
		}
		fv.Set(reflect.New(f.child.typ))
		if err := st.children(f.child, fv.Elem()); err != nil {
			return err
		}
	case kindList:
		entry := reflect.New(f.child.typ)
		if err := st.children(f.child, entry.Elem()); err != nil {
			return err
		}
		key, err := st.listKey(f, entry.Elem())
		if err != nil {
			return err
		}
		if fn := st.lists[f]; fn != nil {
			if err := st.emitOp(); err != nil {
				return err
			}
			if err := fn(entry.Interface().(ygot.GoStruct)); err != nil {
				return &Error{Path: st.pathString(), Err: err}
			}
			return nil
		}
		if fv.IsNil() {
			fv.Set(reflect.MakeMap(f.mapType))
		}
		if fv.MapIndex(key).IsValid() {
			return st.errf(ErrDuplicate, "list entry given twice")
		}
		fv.SetMapIndex(key, entry)
	}
	return st.emitOp()
}

// listKey builds the map key of a decoded list entry.
func (st *state) listKey(f *fieldPlan, entry reflect.Value) (reflect.Value, error) {
	keys := f.child.keys
	get := func(k *fieldPlan) (reflect.Value, bool) {
		kv := entry.Field(k.index)
		if kv.IsZero() {
			return reflect.Value{}, false
		}
		if k.leaf.ptr {
			return kv.Elem(), true
		}
		return kv, true
	}
	if len(keys) == 1 {
		kv, ok := get(keys[0])
		if !ok {
			return reflect.Value{}, st.errf(ErrMissingKey, "list entry without key leaf <%s>", keys[0].name)
		}
		return kv, nil
	}
	ks := reflect.New(f.mapType.Key()).Elem()
	for i, k := range keys {
		kv, ok := get(k)
		if !ok {
			return reflect.Value{}, st.errf(ErrMissingKey, "list entry without key leaf <%s>", k.name)
		}
		ks.Field(f.keyIndex[i]).Set(kv)
	}
	return ks, nil
}

// attrs handles the attributes of the current start tag: nc:operation is
// recorded, namespace declarations were already pushed, others are ignored.
func (st *state) attrs() error {
	for i := range st.tk.NumAttr() {
		prefix, local, value := st.tk.Attr(i)
		if len(prefix) == 0 || string(prefix) == "xmlns" || string(local) != "operation" {
			continue
		}
		if uri, _ := st.lookupNS(string(prefix)); uri != NetconfBaseNS {
			continue
		}
		switch op := Operation(value); op {
		case OpMerge, OpReplace, OpCreate, OpDelete, OpRemove:
			st.path[len(st.path)-1].op = op
		default:
			return st.errf(ErrInvalidValue, "operation %q is not one of merge, replace, create, delete, remove", value)
		}
	}
	return nil
}

func (st *state) emitOp() error {
	top := &st.path[len(st.path)-1]
	if top.op == "" || st.o.ops == nil {
		return nil
	}
	op := EditOp{Path: st.gnmiPath(), Op: top.op}
	var sp strings.Builder
	for _, e := range st.path {
		sp.WriteString("/" + e.name)
	}
	op.SchemaPath = sp.String()
	top.op = ""
	if err := st.o.ops(op); err != nil {
		return &Error{Path: st.pathString(), Err: err}
	}
	return nil
}

func (st *state) gnmiPath() *gpb.Path {
	p := &gpb.Path{}
	for _, e := range st.path {
		pe := &gpb.PathElem{Name: e.name}
		if len(e.keys) > 0 {
			pe.Key = map[string]string{}
			for _, kv := range e.keys {
				k, v, _ := strings.Cut(kv, "=")
				pe.Key[k] = v
			}
		}
		p.Elem = append(p.Elem, pe)
	}
	return p
}

// readText reads the character data of a leaf up to its end tag. The
// result is valid until the next readText.
func (st *state) readText(name string) ([]byte, error) {
	st.text = st.text[:0]
	for {
		k, err := st.tk.Next()
		if err != nil {
			return nil, st.syntax(err)
		}
		switch k {
		case xmltok.CharData:
			st.text = append(st.text, st.tk.Text()...)
		case xmltok.EndElement:
			return st.text, nil
		case xmltok.StartElement:
			return nil, st.errf(ErrMalformed, "element <%s> inside leaf <%s>", st.tk.Local(), name)
		case xmltok.Directive:
			return nil, st.errf(ErrMalformed, "DTDs and directives are not accepted")
		}
	}
}

// skip consumes the subtree of the current start tag (already pushed).
func (st *state) skip() error {
	depth := 1
	for depth > 0 {
		k, err := st.tk.Next()
		if err != nil {
			return st.syntax(err)
		}
		switch k {
		case xmltok.StartElement:
			depth++
		case xmltok.EndElement:
			depth--
		case xmltok.Directive:
			return st.errf(ErrMalformed, "DTDs and directives are not accepted")
		}
	}
	return nil
}

// push records the namespace declarations of the current start tag.
func (st *state) push() {
	st.marks = append(st.marks, len(st.ns))
	for i := range st.tk.NumAttr() {
		prefix, local, value := st.tk.Attr(i)
		switch {
		case string(prefix) == "xmlns":
			st.ns = append(st.ns, binding{string(local), string(value)})
		case len(prefix) == 0 && string(local) == "xmlns":
			st.ns = append(st.ns, binding{"", string(value)})
		}
	}
}

func (st *state) pop() {
	n := len(st.marks) - 1
	st.ns = st.ns[:st.marks[n]]
	st.marks = st.marks[:n]
}

func (st *state) lookupNS(prefix string) (string, bool) {
	for i := len(st.ns) - 1; i >= 0; i-- {
		if st.ns[i].prefix == prefix {
			return st.ns[i].uri, true
		}
	}
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	return "", prefix == ""
}

// pathString renders the data path for error messages, with the module
// prefix at module boundaries and list keys as predicates.
func (st *state) pathString() string {
	var b strings.Builder
	var cur *Module
	for _, e := range st.path {
		b.WriteByte('/')
		if e.module != nil && e.module != cur {
			b.WriteString(e.module.Name + ":")
			cur = e.module
		}
		b.WriteString(e.name)
		for _, kv := range e.keys {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&b, "[%s=%s]", k, quoteXPath(v))
		}
	}
	return b.String()
}

func (st *state) errf(sentinel error, format string, args ...any) error {
	line, col := st.tk.InputPos()
	return &Error{Path: st.pathString(), Line: line, Column: col, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

func (st *state) wrap(err error) error {
	line, col := st.tk.InputPos()
	return &Error{Path: st.pathString(), Line: line, Column: col, Err: err}
}

func (st *state) syntax(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	line, col := st.tk.InputPos()
	var se *xmltok.SyntaxError
	if errors.As(err, &se) {
		line, col = se.Line, se.Column
		err = errors.New(se.Msg)
	}
	return &Error{Path: st.pathString(), Line: line, Column: col, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
}

func quoteXPath(v string) string {
	if !strings.Contains(v, "'") {
		return "'" + v + "'"
	}
	return `"` + v + `"`
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func normPath(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, el := range parts {
		if j := strings.IndexByte(el, ':'); j >= 0 {
			parts[i] = el[j+1:]
		}
	}
	return "/" + strings.Join(parts, "/")
}

// addKey records a key value, keeping the key-statement order whatever the
// order of the elements in the document.
func (e *pathElem) addKey(name, value string) {
	kv := name + "=" + value
	order := e.f.child.keys
	pos := func(n string) int {
		for i, k := range order {
			if k.name == n {
				return i
			}
		}
		return len(order)
	}
	i := len(e.keys)
	for i > 0 {
		prev, _, _ := strings.Cut(e.keys[i-1], "=")
		if pos(prev) <= pos(name) {
			break
		}
		i--
	}
	e.keys = append(e.keys, "")
	copy(e.keys[i+1:], e.keys[i:])
	e.keys[i] = kv
}
