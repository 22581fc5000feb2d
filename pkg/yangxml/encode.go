package yangxml

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/openconfig/ygot/ygot"
)

// EncodeOption configures an encode.
type EncodeOption func(*encodeOpts)

type encodeOpts struct {
	wrapper    string
	configOnly bool
	indent     string
	ops        map[string]Operation
	filter     *Filter // WithFilter (filter.go)
}

// Wrapper encloses the output in a NETCONF <config> or <data> element
// (namespace urn:ietf:params:xml:ns:netconf:base:1.0).
func Wrapper(local string) EncodeOption { return func(o *encodeOpts) { o.wrapper = local } }

// ConfigOnly leaves out config false nodes, as <edit-config> content needs.
func ConfigOnly() EncodeOption { return func(o *encodeOpts) { o.configOnly = true } }

// Indent pretty-prints with the given indent per level.
func Indent(s string) EncodeOption { return func(o *encodeOpts) { o.indent = s } }

// WithOperation puts nc:operation="op" on every node at schemaPath (e.g.
// "/flow-state/sessions/session"). For delete and remove only the list keys
// of such entries are written, which is all the server needs.
func WithOperation(schemaPath string, op Operation) EncodeOption {
	return func(o *encodeOpts) {
		if o.ops == nil {
			o.ops = map[string]Operation{}
		}
		o.ops[normPath(schemaPath)] = op
	}
}

// Marshal encodes root as XML.
func (c *Codec) Marshal(root ygot.GoStruct, opts ...EncodeOption) ([]byte, error) {
	var b bytes.Buffer
	if err := c.Encode(&b, root, opts...); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Encode writes root as XML to w: the wrapper element if one was asked for,
// then every non-empty top-level node.
func (c *Codec) Encode(w io.Writer, root ygot.GoStruct, opts ...EncodeOption) error {
	rv, err := c.checkRoot(root)
	if err != nil {
		return err
	}
	e := c.newEncoder(w, opts)
	depth := e.openWrapper()
	if e.o.filter != nil { // subtree filter hook, see filter.go
		err = e.encodeFiltered(e.o.filter, rv, depth)
	} else {
		err = e.node(c.root, rv, nil, depth)
	}
	if err != nil {
		return err
	}
	e.closeWrapper()
	return e.flush()
}

type encoder struct {
	c       *Codec
	w       *bufio.Writer
	o       encodeOpts
	ncBound bool // xmlns:nc declared on the wrapper
	path    []string
	err     error
}

func (c *Codec) newEncoder(w io.Writer, opts []EncodeOption) *encoder {
	e := &encoder{c: c, w: bufio.NewWriterSize(w, 64<<10)}
	for _, f := range opts {
		f(&e.o)
	}
	return e
}

func (e *encoder) openWrapper() int {
	if e.o.wrapper == "" {
		return 0
	}
	e.w.WriteString("<" + e.o.wrapper + ` xmlns="` + NetconfBaseNS + `"`)
	if len(e.o.ops) > 0 {
		e.w.WriteString(` xmlns:nc="` + NetconfBaseNS + `"`)
		e.ncBound = true
	}
	e.w.WriteByte('>')
	return 1
}

func (e *encoder) closeWrapper() {
	if e.o.wrapper == "" {
		return
	}
	e.newline(0)
	e.w.WriteString("</" + e.o.wrapper + ">")
}

func (e *encoder) flush() error {
	if e.err != nil {
		return e.err
	}
	if e.o.indent != "" {
		e.w.WriteByte('\n')
	}
	return e.w.Flush()
}

func (e *encoder) newline(depth int) {
	if e.o.indent == "" {
		return
	}
	e.w.WriteByte('\n')
	for range depth {
		e.w.WriteString(e.o.indent)
	}
}

// open writes a start tag; nsDecl adds xmlns when the module changes.
func (e *encoder) open(f *fieldPlan, parent *Module, depth int, op Operation, extra *Module) {
	e.newline(depth)
	e.w.WriteByte('<')
	e.w.WriteString(f.name)
	if f.module != parent {
		e.w.WriteString(` xmlns="`)
		escape(e.w, f.module.Namespace)
		e.w.WriteByte('"')
	}
	if extra != nil {
		e.w.WriteString(` xmlns:` + extra.Prefix + `="`)
		escape(e.w, extra.Namespace)
		e.w.WriteByte('"')
	}
	if op != "" {
		if !e.ncBound {
			e.w.WriteString(` xmlns:nc="` + NetconfBaseNS + `"`)
		}
		e.w.WriteString(` nc:operation="` + string(op) + `"`)
	}
}

func (e *encoder) leaf(f *fieldPlan, parent *Module, v reflect.Value, depth int) error {
	text, decl, err := f.leaf.encode(v)
	if err != nil {
		return &Error{Path: strings.Join(e.path, "") + "/" + f.name, Err: err}
	}
	e.open(f, parent, depth, e.o.ops[f.path], decl)
	if text == "" {
		e.w.WriteString("/>")
		return nil
	}
	e.w.WriteByte('>')
	escape(e.w, text)
	e.w.WriteString("</" + f.name + ">")
	return nil
}

// node writes the children of struct v.
func (e *encoder) node(p *nodePlan, v reflect.Value, mod *Module, depth int) error {
	for _, f := range p.fields {
		if e.o.configOnly && !f.config {
			continue
		}
		if err := e.field(f, v.Field(f.index), mod, depth); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) field(f *fieldPlan, fv reflect.Value, mod *Module, depth int) error {
	switch f.kind {
	case kindLeaf:
		if fv.IsZero() {
			return nil
		}
		if f.leaf.ptr {
			fv = fv.Elem()
		}
		return e.leaf(f, mod, fv, depth)
	case kindLeafList:
		for i := 0; i < fv.Len(); i++ {
			if err := e.leaf(f, mod, fv.Index(i), depth); err != nil {
				return err
			}
		}
	case kindContainer:
		if fv.IsNil() || (!f.presence && e.empty(f.child, fv.Elem())) {
			return nil
		}
		e.open(f, mod, depth, e.o.ops[f.path], nil)
		e.w.WriteByte('>')
		e.path = append(e.path, "/"+f.name)
		if err := e.node(f.child, fv.Elem(), f.module, depth+1); err != nil {
			return err
		}
		e.path = e.path[:len(e.path)-1]
		e.newline(depth)
		e.w.WriteString("</" + f.name + ">")
	case kindList:
		if fv.Len() == 0 {
			return nil
		}
		keys := fv.MapKeys()
		sortKeys(keys)
		for _, k := range keys {
			if err := e.entry(f, fv.MapIndex(k).Elem(), mod, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// entry writes one list entry: keys first, in key order.
func (e *encoder) entry(f *fieldPlan, v reflect.Value, mod *Module, depth int) error {
	op := e.o.ops[f.path]
	e.open(f, mod, depth, op, nil)
	e.w.WriteByte('>')
	e.path = append(e.path, "/"+f.name)
	fields := f.child.fields
	if op == OpDelete || op == OpRemove {
		fields = f.child.keys
	}
	for _, cf := range fields {
		if e.o.configOnly && !cf.config {
			continue
		}
		if cf.isKey && v.Field(cf.index).IsZero() {
			return &Error{Path: strings.Join(e.path, ""), Err: fmt.Errorf("%w: list entry without key leaf <%s>", ErrMissingKey, cf.name)}
		}
		if err := e.field(cf, v.Field(cf.index), f.module, depth+1); err != nil {
			return err
		}
	}
	e.path = e.path[:len(e.path)-1]
	e.newline(depth)
	e.w.WriteString("</" + f.name + ">")
	return nil
}

// empty reports whether struct v has nothing to encode.
func (e *encoder) empty(p *nodePlan, v reflect.Value) bool {
	for _, f := range p.fields {
		if e.o.configOnly && !f.config {
			continue
		}
		fv := v.Field(f.index)
		switch f.kind {
		case kindLeaf:
			if !fv.IsZero() {
				return false
			}
		case kindLeafList, kindList:
			if fv.Len() > 0 {
				return false
			}
		case kindContainer:
			if !fv.IsNil() && (f.presence || !e.empty(f.child, fv.Elem())) {
				return false
			}
		}
	}
	return true
}

// sortKeys orders map keys deterministically: numbers numerically, strings
// lexically, key structs field by field.
func sortKeys(keys []reflect.Value) {
	if len(keys) > 0 && keys[0].Kind() == reflect.String {
		ss := make([]string, len(keys))
		idx := make(map[string]reflect.Value, len(keys))
		for i, k := range keys {
			ss[i] = k.String()
			idx[ss[i]] = k
		}
		sort.Strings(ss)
		for i, s := range ss {
			keys[i] = idx[s]
		}
		return
	}
	sort.Slice(keys, func(i, j int) bool { return lessValue(keys[i], keys[j]) })
}

func lessValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() < b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() < b.Uint()
	case reflect.String:
		return a.String() < b.String()
	case reflect.Bool:
		return !a.Bool() && b.Bool()
	case reflect.Float64, reflect.Float32:
		return a.Float() < b.Float()
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if lessValue(a.Field(i), b.Field(i)) {
				return true
			}
			if lessValue(b.Field(i), a.Field(i)) {
				return false
			}
		}
		return false
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() && !b.IsNil()
		}
		if a.Elem().Type() != b.Elem().Type() {
			return a.Elem().Type().String() < b.Elem().Type().String()
		}
		return lessValue(a.Elem(), b.Elem())
	}
	return fmt.Sprint(a.Interface()) < fmt.Sprint(b.Interface())
}

// escape writes s with the XML special characters escaped; the common case
// of nothing to escape is a plain write.
func escape(w *bufio.Writer, s string) {
	if !strings.ContainsAny(s, "<>&'\"\r\n\t") {
		w.WriteString(s)
		return
	}
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&apos;"
		case '"':
			esc = "&quot;"
		case '\r':
			esc = "&#xD;"
		case '\n':
			esc = "&#xA;"
		case '\t':
			esc = "&#x9;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(esc)
		last = i + 1
	}
	w.WriteString(s[last:])
}

// ListEncoder writes the entries of one list one at a time (e.g. 100k
// sessions into an <edit-config>) without building the whole tree.
type ListEncoder struct {
	e      *encoder
	fields []*fieldPlan
	list   *fieldPlan
	depth  int
	closed bool
}

// NewListEncoder opens the wrapper and the containers above the list at
// schemaPath; Encode then writes entries and Close closes everything.
// The list must sit below containers only (no enclosing list).
func (c *Codec) NewListEncoder(w io.Writer, schemaPath string, opts ...EncodeOption) (*ListEncoder, error) {
	fs, err := c.lookupPlan(schemaPath)
	if err != nil {
		return nil, err
	}
	list := fs[len(fs)-1]
	if list.kind != kindList {
		return nil, &Error{Path: schemaPath, Err: fmt.Errorf("%w: %s is not a list", ErrUnsupported, schemaPath)}
	}
	for _, f := range fs[:len(fs)-1] {
		if f.kind != kindContainer {
			return nil, &Error{Path: schemaPath, Err: fmt.Errorf("%w: %s is below list %s", ErrUnsupported, schemaPath, f.name)}
		}
	}
	e := c.newEncoder(w, opts)
	if e.o.filter != nil { // subtree filter hook, see filter.go
		return nil, &Error{Path: schemaPath, Err: fmt.Errorf("%w: a list encoder does not apply subtree filters", ErrUnsupported)}
	}
	le := &ListEncoder{e: e, fields: fs[:len(fs)-1], list: list}
	le.depth = e.openWrapper()
	var mod *Module
	for _, f := range le.fields {
		e.open(f, mod, le.depth, e.o.ops[f.path], nil)
		e.w.WriteByte('>')
		e.path = append(e.path, "/"+f.name)
		mod = f.module
		le.depth++
	}
	return le, nil
}

// Encode writes one list entry, which must be of the list's generated type.
func (le *ListEncoder) Encode(entry ygot.GoStruct) error {
	v := reflect.ValueOf(entry)
	if le.closed || v.Kind() != reflect.Ptr || v.IsNil() || v.Elem().Type() != le.list.child.typ {
		return &Error{Path: le.list.path, Err: fmt.Errorf("%w: entry %T for list of %v (or encoder closed)", ErrUnsupported, entry, le.list.child.typ)}
	}
	var mod *Module
	if n := len(le.fields); n > 0 {
		mod = le.fields[n-1].module
	}
	return le.e.entry(le.list, v.Elem(), mod, le.depth)
}

// Flush writes the entries encoded so far to the underlying writer; the
// enclosing elements stay open. A caller that must not send a half-written
// entry after a failed Encode (a request that cannot be taken back) flushes
// after every successful one into a buffer it can cut.
func (le *ListEncoder) Flush() error { return le.e.w.Flush() }

// Close closes the enclosing elements and flushes.
func (le *ListEncoder) Close() error {
	if le.closed {
		return nil
	}
	le.closed = true
	for i := len(le.fields) - 1; i >= 0; i-- {
		le.depth--
		le.e.newline(le.depth)
		le.e.w.WriteString("</" + le.fields[i].name + ">")
	}
	le.e.closeWrapper()
	return le.e.flush()
}
