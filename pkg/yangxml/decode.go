package yangxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"
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
	return c.NewDecoder(bytes.NewReader(data), opts...).Decode(root)
}

// Decoder decodes one XML document from a stream.
type Decoder struct {
	c  *Codec
	xd *xml.Decoder
	o  decodeOpts
}

// NewDecoder returns a decoder reading from r. r is read incrementally.
func (c *Codec) NewDecoder(r io.Reader, opts ...DecodeOption) *Decoder {
	xd := xml.NewDecoder(r)
	return &Decoder{c: c, xd: xd, o: buildDecodeOpts(opts)}
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
	st, err := dec.c.newState(dec.xd, root, dec.o)
	if err != nil {
		return err
	}
	var start xml.StartElement
	for {
		tok, err := dec.xd.RawToken()
		if err == io.EOF {
			return st.errf(ErrMalformed, "no data element in the input")
		}
		if err != nil {
			return st.syntax(err)
		}
		if s, ok := tok.(xml.StartElement); ok {
			start = s
			break
		}
		if err := st.outside(tok); err != nil {
			return err
		}
	}
	return st.document(start, true)
}

// DecodeElement decodes the element that starts with start from xd, which
// the caller has been reading with RawToken (as NETCONF message readers do).
// start is a <data> or <config> wrapper or a top-level data node. Namespace
// declarations of enclosing elements are passed with WithNamespaces.
func (c *Codec) DecodeElement(xd *xml.Decoder, start xml.StartElement, root ygot.GoStruct, opts ...DecodeOption) error {
	st, err := c.newState(xd, root, buildDecodeOpts(opts))
	if err != nil {
		return err
	}
	return st.document(start, false)
}

type binding struct{ prefix, uri string }

type pathElem struct {
	name   string
	module *Module
	keys   []string // "name=value" in key order, once known
	f      *fieldPlan
	op     Operation
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

// state is one decode in progress.
type state struct {
	c     *Codec
	xd    *xml.Decoder
	o     decodeOpts
	root  reflect.Value
	ns    []binding
	marks []int
	path  []pathElem
	text  []byte
	lists map[*fieldPlan]func(ygot.GoStruct) error
}

func (c *Codec) newState(xd *xml.Decoder, root ygot.GoStruct, o decodeOpts) (*state, error) {
	rv, err := c.checkRoot(root)
	if err != nil {
		return nil, err
	}
	st := &state{c: c, xd: xd, o: o, root: rv}
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

// document decodes a wrapper or a sequence of top-level nodes starting at start.
func (st *state) document(start xml.StartElement, toEOF bool) error {
	st.push(start)
	uri, _ := st.lookupNS(start.Name.Space)
	wrapper := (uri == NetconfBaseNS && (start.Name.Local == "data" || start.Name.Local == "config")) ||
		(uri == nmdaNS && start.Name.Local == "data")
	if wrapper {
		if err := st.children(st.c.root, st.root, start); err != nil {
			return err
		}
		st.pop()
	} else {
		if err := st.child(st.c.root, st.root, start, uri); err != nil {
			return err
		}
		if !toEOF {
			return nil
		}
		// Further top-level siblings.
		for {
			tok, err := st.xd.RawToken()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return st.syntax(err)
			}
			if s, ok := tok.(xml.StartElement); ok {
				st.push(s)
				u, _ := st.lookupNS(s.Name.Space)
				if err := st.child(st.c.root, st.root, s, u); err != nil {
					return err
				}
				continue
			}
			if err := st.outside(tok); err != nil {
				return err
			}
		}
	}
	if !toEOF {
		return nil
	}
	for {
		tok, err := st.xd.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return st.syntax(err)
		}
		if s, ok := tok.(xml.StartElement); ok {
			return st.errf(ErrMalformed, "element <%s> after the end of the document", s.Name.Local)
		}
		if err := st.outside(tok); err != nil {
			return err
		}
	}
}

// outside accepts what may appear between elements at the top: whitespace,
// comments and the XML declaration.
func (st *state) outside(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.CharData:
		if len(bytes.TrimSpace(t)) != 0 {
			return st.errf(ErrMalformed, "text %q outside of any element", truncate(string(t)))
		}
	case xml.Directive:
		return st.errf(ErrMalformed, "DTDs and directives are not accepted")
	case xml.EndElement:
		return st.errf(ErrMalformed, "unexpected </%s>", t.Name.Local)
	}
	return nil
}

// children decodes the child elements of the node that start opened, into
// the struct v described by p, until start's end element.
func (st *state) children(p *nodePlan, v reflect.Value, start xml.StartElement) error {
	for {
		tok, err := st.xd.RawToken()
		if err != nil {
			return st.syntax(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			st.push(t)
			uri, _ := st.lookupNS(t.Name.Space)
			if err := st.child(p, v, t, uri); err != nil {
				return err
			}
		case xml.EndElement:
			if t.Name != start.Name {
				return st.errf(ErrMalformed, "</%s> closes <%s>", qname(t.Name), qname(start.Name))
			}
			return nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return st.errf(ErrMalformed, "text %q inside <%s>, which is not a leaf", truncate(string(t)), start.Name.Local)
			}
		case xml.Directive:
			return st.errf(ErrMalformed, "DTDs and directives are not accepted")
		}
	}
}

// child decodes one element (already pushed on the namespace stack) that is a
// child of the struct v, and pops it.
func (st *state) child(p *nodePlan, v reflect.Value, t xml.StartElement, uri string) error {
	defer st.pop()
	f := p.byName[t.Name.Local]
	if f == nil || (p == st.c.root && st.c.byNS[uri] == nil) {
		if p == st.c.root && st.o.skipUnknown && st.c.byNS[uri] == nil {
			return st.skip(t)
		}
		st.path = append(st.path, pathElem{name: t.Name.Local})
		if uri == "" {
			return st.errf(ErrUnknownElement, "<%s> (no namespace) is not in the schema", t.Name.Local)
		}
		return st.errf(ErrUnknownElement, "<%s> in namespace %q is not in the schema", t.Name.Local, uri)
	}
	st.path = append(st.path, pathElem{name: f.name, module: f.module, f: f})
	defer func() { st.path = st.path[:len(st.path)-1] }()
	if uri != f.module.Namespace {
		if uri == "" {
			return st.errf(ErrNamespace, "<%s> has no namespace, want %q", t.Name.Local, f.module.Namespace)
		}
		return st.errf(ErrNamespace, "<%s> is in namespace %q, want %q", t.Name.Local, uri, f.module.Namespace)
	}
	if err := st.attrs(t); err != nil {
		return err
	}
	fv := v.Field(f.index)
	switch f.kind {
	case kindLeaf, kindLeafList:
		text, err := st.readText(t)
		if err != nil {
			return err
		}
		val, err := f.leaf.decode(text, st)
		if err != nil {
			return st.wrap(err)
		}
		if f.kind == kindLeafList {
			for i := 0; i < fv.Len() && i < 256; i++ {
				if reflect.DeepEqual(fv.Index(i).Interface(), val.Interface()) && f.config {
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
		if err := st.children(f.child, fv.Elem(), t); err != nil {
			return err
		}
	case kindList:
		entry := reflect.New(f.child.typ)
		if err := st.children(f.child, entry.Elem(), t); err != nil {
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

// attrs handles the attributes of a data node: nc:operation is recorded,
// namespace declarations were already pushed, others are ignored.
func (st *state) attrs(t xml.StartElement) error {
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") || a.Name.Space == "" {
			continue
		}
		uri, _ := st.lookupNS(a.Name.Space)
		if uri != NetconfBaseNS || a.Name.Local != "operation" {
			continue
		}
		switch op := Operation(a.Value); op {
		case OpMerge, OpReplace, OpCreate, OpDelete, OpRemove:
			st.path[len(st.path)-1].op = op
		default:
			return st.errf(ErrInvalidValue, "operation %q is not one of merge, replace, create, delete, remove", a.Value)
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

// readText reads the character data of a leaf up to its end element.
func (st *state) readText(start xml.StartElement) (string, error) {
	st.text = st.text[:0]
	for {
		tok, err := st.xd.RawToken()
		if err != nil {
			return "", st.syntax(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			st.text = append(st.text, t...)
		case xml.EndElement:
			if t.Name != start.Name {
				return "", st.errf(ErrMalformed, "</%s> closes <%s>", qname(t.Name), qname(start.Name))
			}
			return string(st.text), nil
		case xml.StartElement:
			return "", st.errf(ErrMalformed, "element <%s> inside leaf <%s>", t.Name.Local, start.Name.Local)
		case xml.Directive:
			return "", st.errf(ErrMalformed, "DTDs and directives are not accepted")
		}
	}
}

// skip consumes the subtree of an element already pushed.
func (st *state) skip(start xml.StartElement) error {
	depth := 1
	for depth > 0 {
		tok, err := st.xd.RawToken()
		if err != nil {
			return st.syntax(err)
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.Directive:
			return st.errf(ErrMalformed, "DTDs and directives are not accepted")
		}
	}
	return nil
}

func (st *state) push(t xml.StartElement) {
	st.marks = append(st.marks, len(st.ns))
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns":
			st.ns = append(st.ns, binding{a.Name.Local, a.Value})
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			st.ns = append(st.ns, binding{"", a.Value})
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
	line, col := st.xd.InputPos()
	return &Error{Path: st.pathString(), Line: line, Column: col, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

func (st *state) wrap(err error) error {
	line, col := st.xd.InputPos()
	return &Error{Path: st.pathString(), Line: line, Column: col, Err: err}
}

func (st *state) syntax(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	var se *xml.SyntaxError
	line, col := st.xd.InputPos()
	if errors.As(err, &se) {
		line = se.Line
	}
	return &Error{Path: st.pathString(), Line: line, Column: col, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
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
