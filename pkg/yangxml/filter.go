package yangxml

// RFC 6241 section 6 subtree filtering, applied while encoding.
//
// A filter is compiled once against the codec's schema plan (fnode trees
// bound to fieldPlans, content match values already decoded with the leaf's
// codec, list keys already built as map keys) and then evaluated while the
// encoder walks the tree, so <get>/<get-config> with a subtree filter is
// answered without building a filtered copy of the data.
//
// Decisions on points the RFC leaves open (see also ParseSubtreeFilter):
//
//   - Elements that name no schema node, or name one in another namespace
//     (6.2.2), select nothing; they are not errors. A top-level element in a
//     namespace that is no module of the codec selects nothing too: a
//     server answers <get> for all its modules, and other modules' data is
//     simply not ours to return. Filter.Ignored lists such elements.
//   - An element without a namespace (no default xmlns in scope, or
//     xmlns="") matches the schema node of that name in any module, as
//     common servers do; with one module per level this is unambiguous.
//   - Attribute match expressions (6.2.3) are ignored: YANG data carries no
//     XML attributes, and the element is treated as if it had none.
//   - A content match node whose text is not a valid value of the leaf's type
//     (protocol "tcp", a uint8 of 300) can never be true, so its sibling set
//     selects nothing (no error).
//   - A leaf that is absent from the data does not match, even when the
//     filter value equals the schema default (the encoder does not report
//     defaults either).
//   - Content match on a leaf-list is true when any value equals it; only the
//     matching values are returned unless a selection node for the same
//     leaf-list is also a sibling.
//   - Text (other than whitespace) in a container or list element is an error
//     (ErrInvalidValue): content match nodes are leaves. Whitespace-only text
//     in a leaf makes it a selection node.
//   - Keys of every returned list entry are returned, whatever the filter
//     asks for below the entry. Content match nodes that hold are returned
//     (RFC 6241 6.4.7/6.4.8 show them in the output).
//   - Sibling filter elements of the same name are alternatives: the output
//     is the union of what each selects, merged per instance.

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/sami-netops/sami/pkg/xmltok"
)

// Filter is a compiled subtree filter (RFC 6241 section 6). It is immutable
// and safe for concurrent use; compile once per request with
// Codec.ParseSubtreeFilter and pass it to Encode/Marshal with WithFilter.
type Filter struct {
	c       *Codec
	root    *fnode // nil: selects nothing
	ignored []string
}

// Ignored returns the filter elements that select nothing because they name
// no schema node (or one in another namespace), or hold a content match
// value that is not valid for the leaf's type, as "{namespace}path" strings.
// A server may log them; they are not errors.
func (f *Filter) Ignored() []string { return append([]string(nil), f.ignored...) }

// SelectsNothing reports whether the filter can select no data at all
// (the empty filter of RFC 6241 6.4.2, or only ignored elements).
func (f *Filter) SelectsNothing() bool { return f.root == nil }

// WithFilter makes Encode/Marshal emit only what the subtree filter selects.
// An empty filter (<filter type="subtree"/>) selects nothing (RFC 6241
// 6.4.2); a nil *Filter means no filtering. The wrapper element (Wrapper) is
// written even when nothing is selected. NewListEncoder rejects a filter.
func WithFilter(f *Filter) EncodeOption { return func(o *encodeOpts) { o.filter = f } }

// fnode is one element of the filter, bound to the schema node it names.
type fnode struct {
	f     *fieldPlan // nil for the filter root
	sel   bool       // selection node: empty element, selects the whole subtree
	match bool       // content match node: leaf with text
	val   reflect.Value
	ip    bool // val is an inet:ip-address string: compare as addresses

	// For containment nodes (and the root):
	kids        []*fnode // known child nodes, in filter order
	matches     []*fnode // the content match nodes among kids
	groups      []fgroup // kids grouped by schema node, in encode (plan) order
	onlyMatches bool     // every child is a content match node: select the whole instance
	key         reflect.Value
}

type fgroup struct {
	f     *fieldPlan
	nodes []*fnode
}

// ParseSubtreeFilter compiles the content of a <filter type="subtree">
// element (its children as XML bytes; the <filter> element itself is also
// accepted and unwrapped) with the namespace declarations in scope at the
// filter (prefix -> URI, "" for the default namespace).
//
// Errors: malformed XML, undeclared prefixes, DTDs and non-whitespace text
// outside the filter elements are ErrMalformed; child elements inside a leaf
// element are ErrMalformed; text in a container or list element is
// ErrInvalidValue. Elements that name no schema node (including top-level
// elements of unknown namespaces) are not errors: they select nothing, per
// RFC 6241 6.2, and are listed by Filter.Ignored. An empty filter compiles
// to a Filter that selects nothing.
func (c *Codec) ParseSubtreeFilter(filter []byte, ns map[string]string) (*Filter, error) {
	st := &state{c: c, tk: xmltok.NewBytes(filter)}
	for p, u := range ns {
		st.ns = append(st.ns, binding{p, u})
	}
	fp := &filterParser{st: st, flt: &Filter{c: c}}
	root := &fnode{}
	seen, unwrapped, dead := false, false, false
	for {
		k, err := st.tk.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, st.syntax(err)
		}
		if k != xmltok.StartElement {
			if err := st.outside(k); err != nil {
				return nil, err
			}
			continue
		}
		if unwrapped {
			return nil, st.errf(ErrMalformed, "element <%s> after the <filter> element", st.tk.Local())
		}
		st.push()
		uri, ok := st.lookupNS(string(st.tk.Prefix()))
		if !ok {
			return nil, st.errf(ErrMalformed, "prefix %q of <%s> is not declared", st.tk.Prefix(), st.tk.Local())
		}
		if !seen && uri == NetconfBaseNS && string(st.tk.Local()) == "filter" {
			// The <filter> element itself: its children are the filter.
			seen, unwrapped = true, true
			d, err := fp.children(c.root, root)
			if err != nil {
				return nil, err
			}
			dead = dead || d
			st.pop()
			continue
		}
		seen = true
		n, err := fp.element(c.root)
		if err != nil {
			return nil, err
		}
		if n == nil {
			dead = true
		} else {
			root.kids = append(root.kids, n)
		}
	}
	if len(root.kids) > 0 {
		if fp.compile(root, c.root, dead) {
			fp.flt.root = root
		}
	}
	return fp.flt, nil
}

type filterParser struct {
	st  *state
	flt *Filter
}

// element compiles the element whose start tag is the current token (already
// pushed on the namespace stack), a child of the struct described by p, up
// to its end tag. It returns nil when the element selects nothing.
func (fp *filterParser) element(p *nodePlan) (*fnode, error) {
	st := fp.st
	defer st.pop()
	local := string(st.tk.Local())
	uri, ok := st.lookupNS(string(st.tk.Prefix()))
	if !ok {
		return nil, st.errf(ErrMalformed, "prefix %q of <%s> is not declared", st.tk.Prefix(), local)
	}
	f := p.byName[local]
	if f == nil || (uri != "" && uri != f.module.Namespace) {
		fp.ignore(uri, local, "")
		return nil, st.skip()
	}
	st.path = append(st.path, pathElem{name: f.name, module: f.module, f: f})
	defer func() { st.path = st.path[:len(st.path)-1] }()
	n := &fnode{f: f}
	if f.child == nil {
		text, err := fp.st.readText(f.name)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(text)) == 0 {
			n.sel = true
			return n, nil
		}
		n.match = true
		val, err := f.leaf.decode(string(text), st)
		if err != nil {
			fp.ignore(f.module.Namespace, "", fmt.Sprintf(" = %q (%v)", truncate(string(text)), err))
			n.val = reflect.Value{} // never matches; the parent drops the sibling set
			return n, nil
		}
		n.val = val
		if ipFastPath(leafType(f)) != nil && val.Kind() == reflect.String {
			n.ip = true
		}
		return n, nil
	}
	dead, err := fp.children(f.child, n)
	if err != nil {
		return nil, err
	}
	if len(n.kids) == 0 {
		if dead {
			return nil, nil // containment whose children all select nothing
		}
		n.sel = true
		return n, nil
	}
	if !fp.compile(n, f.child, dead) {
		return nil, nil
	}
	return n, nil
}

// children compiles the child elements of the current element into n.kids,
// up to its end tag. dead reports children that select nothing.
func (fp *filterParser) children(p *nodePlan, n *fnode) (dead bool, err error) {
	st := fp.st
	for {
		k, err := st.tk.Next()
		if err != nil {
			return false, st.syntax(err)
		}
		switch k {
		case xmltok.StartElement:
			st.push()
			kid, err := fp.element(p)
			if err != nil {
				return false, err
			}
			if kid == nil {
				dead = true
			} else {
				n.kids = append(n.kids, kid)
			}
		case xmltok.EndElement:
			return dead, nil
		case xmltok.CharData:
			if len(bytes.TrimSpace(st.tk.Text())) != 0 {
				if n.f == nil {
					return false, st.errf(ErrMalformed, "text %q inside <filter>", truncate(string(st.tk.Text())))
				}
				return false, st.errf(ErrInvalidValue, "text %q in a filter element that is not a leaf (content match nodes are leaves)", truncate(string(st.tk.Text())))
			}
		case xmltok.Directive:
			return false, st.errf(ErrMalformed, "DTDs and directives are not accepted")
		}
	}
}

func (fp *filterParser) ignore(uri, local, note string) {
	var b strings.Builder
	b.WriteString("{" + uri + "}")
	for _, e := range fp.st.path {
		b.WriteString("/" + e.name)
	}
	if local != "" {
		b.WriteString("/" + local)
	}
	b.WriteString(note)
	fp.flt.ignored = append(fp.flt.ignored, b.String())
}

// compile finishes a containment node (or the root) whose kids are known:
// content matches, grouping by schema node, the list key for map lookups.
// It returns false when the node can never select anything (a content match
// value that is not valid for its leaf).
func (fp *filterParser) compile(n *fnode, p *nodePlan, dead bool) bool {
	n.onlyMatches = !dead
	for _, k := range n.kids {
		if k.match {
			if !k.val.IsValid() {
				return false
			}
			n.matches = append(n.matches, k)
		} else {
			n.onlyMatches = false
		}
	}
	for _, f := range p.fields {
		var g []*fnode
		for _, k := range n.kids {
			if k.f == f {
				g = append(g, k)
			}
		}
		if g != nil {
			n.groups = append(n.groups, fgroup{f: f, nodes: g})
		}
	}
	if n.f != nil && n.f.kind == kindList {
		n.key = listKey(n.f, n.matches)
	}
	return true
}

// listKey builds the map key of the entry a list filter node names when it
// has exactly one content match for every key leaf; otherwise invalid.
func listKey(f *fieldPlan, matches []*fnode) reflect.Value {
	vals := make([]reflect.Value, len(f.child.keys))
	for i, k := range f.child.keys {
		for _, m := range matches {
			if m.f != k {
				continue
			}
			if vals[i].IsValid() {
				return reflect.Value{} // two matches on one key: leave it to the scan
			}
			vals[i] = m.val
		}
		if !vals[i].IsValid() || vals[i].Type() != k.leaf.valueType() {
			return reflect.Value{}
		}
	}
	if len(vals) == 1 {
		return vals[0]
	}
	ks := reflect.New(f.mapType.Key()).Elem()
	for i := range vals {
		ks.Field(f.keyIndex[i]).Set(vals[i])
	}
	return ks
}

func leafType(f *fieldPlan) *yang.YangType {
	if f.entry == nil {
		return nil
	}
	return f.entry.Type
}

// fenc evaluates a filter while encoding. Start tags of containers and list
// entries (with the entry's keys) are written lazily (pending) so that a
// containment node that selects nothing below it leaves nothing behind: an
// instance is in the output only when something in or below it is selected.
type fenc struct {
	*encoder
	pending []pendingOpen
	written int // pending[:written] have their start tags written
}

type pendingOpen struct {
	f     *fieldPlan
	mod   *Module
	depth int
	entry reflect.Value // list entry: its keys are written with the start tag
}

// encodeFiltered is the Encode hook: it writes the top-level nodes of rv
// that flt selects.
func (e *encoder) encodeFiltered(flt *Filter, rv reflect.Value, depth int) error {
	if flt.c != e.c {
		return &Error{Err: fmt.Errorf("%w: filter was compiled for another codec", ErrUnsupported)}
	}
	if flt.root == nil {
		return nil
	}
	fe := &fenc{encoder: e}
	whole, apply := fe.evaluate([]*fnode{flt.root}, rv)
	if whole {
		return e.node(e.c.root, rv, nil, depth)
	}
	if len(apply) == 0 {
		return nil
	}
	return fe.children(e.c.root, rv, apply, nil, depth, false)
}

// flushPending writes the start tags (and list keys) still pending, because
// something below them is about to be written.
func (fe *fenc) flushPending() error {
	for ; fe.written < len(fe.pending); fe.written++ {
		p := fe.pending[fe.written]
		fe.open(p.f, p.mod, p.depth, fe.o.ops[p.f.path], nil)
		fe.w.WriteByte('>')
		if !p.entry.IsValid() {
			continue
		}
		saved := fe.path
		fe.path = fe.path[:fe.written+len(fe.path)-len(fe.pending)+1]
		for _, k := range p.f.child.keys {
			if err := fe.field(k, p.entry.Field(k.index), p.f.module, p.depth+1); err != nil {
				return err
			}
		}
		fe.path = saved
	}
	return nil
}

func (fe *fenc) push(f *fieldPlan, mod *Module, depth int, entry reflect.Value) {
	fe.pending = append(fe.pending, pendingOpen{f, mod, depth, entry})
	fe.path = append(fe.path, "/"+f.name)
}

func (fe *fenc) pop() {
	n := len(fe.pending) - 1
	p := fe.pending[n]
	if fe.written > n {
		fe.written = n
		fe.newline(p.depth)
		fe.w.WriteString("</" + p.f.name + ">")
	}
	fe.pending = fe.pending[:n]
	fe.path = fe.path[:len(fe.path)-1]
}

// evaluate applies the filter nodes ns (all naming the schema node of the
// instance v) to v: whole when one of them selects all of v, otherwise the
// nodes whose content matches hold.
func (fe *fenc) evaluate(ns []*fnode, v reflect.Value) (whole bool, apply []*fnode) {
	if len(ns) == 1 {
		n := ns[0]
		if n.sel {
			return true, nil
		}
		if !fe.holds(n, v) {
			return false, nil
		}
		return n.onlyMatches, ns
	}
	for _, n := range ns {
		if n.sel {
			return true, nil
		}
		if !fe.holds(n, v) {
			continue
		}
		if n.onlyMatches {
			return true, nil
		}
		apply = append(apply, n)
	}
	return false, apply
}

// holds reports whether all content match children of n hold on struct v.
func (fe *fenc) holds(n *fnode, v reflect.Value) bool {
	for _, m := range n.matches {
		if fe.o.configOnly && !m.f.config {
			return false
		}
		fv := v.Field(m.f.index)
		if m.f.kind == kindLeafList {
			found := false
			for i := 0; i < fv.Len() && !found; i++ {
				found = m.equal(fv.Index(i))
			}
			if !found {
				return false
			}
			continue
		}
		if fv.IsZero() {
			return false
		}
		if m.f.leaf.ptr {
			fv = fv.Elem()
		}
		if !m.equal(fv) {
			return false
		}
	}
	return true
}

// children writes the fields of struct v (plan p) that the applying filter
// nodes ns select; list entries (entry) always get their keys.
func (fe *fenc) children(p *nodePlan, v reflect.Value, ns []*fnode, mod *Module, depth int, entry bool) error {
	groups := ns[0].groups
	if len(ns) > 1 {
		groups = mergeGroups(p, ns)
	}
	gi := 0
	for _, f := range p.fields {
		var g []*fnode
		if gi < len(groups) && groups[gi].f == f {
			g = groups[gi].nodes
			gi++
		}
		if fe.o.configOnly && !f.config {
			continue
		}
		if g == nil {
			continue
		}
		fv := v.Field(f.index)
		if entry && f.isKey {
			// Written with the entry's start tag; a selected or matched
			// key is enough for the entry to be in the output.
			if err := fe.flushPending(); err != nil {
				return err
			}
			continue
		}
		if err := fe.filtered(f, fv, g, mod, depth); err != nil {
			return err
		}
	}
	return nil
}

func mergeGroups(p *nodePlan, ns []*fnode) []fgroup {
	by := map[*fieldPlan][]*fnode{}
	for _, n := range ns {
		for _, g := range n.groups {
			by[g.f] = append(by[g.f], g.nodes...)
		}
	}
	out := make([]fgroup, 0, len(by))
	for _, f := range p.fields {
		if g, ok := by[f]; ok {
			out = append(out, fgroup{f, g})
		}
	}
	return out
}

// filtered writes field f (value fv) as the filter nodes g, all naming f,
// select it.
func (fe *fenc) filtered(f *fieldPlan, fv reflect.Value, g []*fnode, mod *Module, depth int) error {
	switch f.kind {
	case kindLeaf:
		// Every node in g is a selection node or a content match that held.
		if fv.IsZero() {
			return nil
		}
		if err := fe.flushPending(); err != nil {
			return err
		}
		return fe.field(f, fv, mod, depth)
	case kindLeafList:
		if fv.Len() == 0 {
			return nil
		}
		for _, n := range g {
			if n.sel {
				if err := fe.flushPending(); err != nil {
					return err
				}
				return fe.field(f, fv, mod, depth)
			}
		}
		for i := 0; i < fv.Len(); i++ {
			for _, n := range g {
				if n.equal(fv.Index(i)) {
					if err := fe.flushPending(); err != nil {
						return err
					}
					if err := fe.leaf(f, mod, fv.Index(i), depth); err != nil {
						return err
					}
					break
				}
			}
		}
	case kindContainer:
		if fv.IsNil() {
			return nil
		}
		whole, apply := fe.evaluate(g, fv.Elem())
		if whole {
			if !f.presence && fe.empty(f.child, fv.Elem()) {
				return nil
			}
			if err := fe.flushPending(); err != nil {
				return err
			}
			return fe.field(f, fv, mod, depth)
		}
		if len(apply) == 0 {
			return nil
		}
		fe.push(f, mod, depth, reflect.Value{})
		if err := fe.children(f.child, fv.Elem(), apply, f.module, depth+1, false); err != nil {
			return err
		}
		fe.pop()
	case kindList:
		if fv.Len() == 0 {
			return nil
		}
		byKey := true
		for _, n := range g {
			byKey = byKey && !n.sel && n.key.IsValid()
		}
		if byKey {
			return fe.lookup(f, fv, g, mod, depth)
		}
		keys := fv.MapKeys()
		sortKeys(keys)
		for _, k := range keys {
			if err := fe.listEntry(f, fv.MapIndex(k).Elem(), g, mod, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

// lookup is the fast path for list filter nodes that all name their entry
// by every key: map lookups instead of a scan of the list.
func (fe *fenc) lookup(f *fieldPlan, fv reflect.Value, g []*fnode, mod *Module, depth int) error {
	if len(g) == 1 {
		ev := fv.MapIndex(g[0].key)
		if !ev.IsValid() {
			return nil
		}
		return fe.listEntry(f, ev.Elem(), g, mod, depth)
	}
	var keys []reflect.Value
	byKey := map[any][]*fnode{}
	for _, n := range g {
		k := n.key.Interface()
		if _, ok := byKey[k]; !ok {
			keys = append(keys, n.key)
		}
		byKey[k] = append(byKey[k], n)
	}
	sortKeys(keys)
	for _, k := range keys {
		ev := fv.MapIndex(k)
		if !ev.IsValid() {
			continue
		}
		if err := fe.listEntry(f, ev.Elem(), byKey[k.Interface()], mod, depth); err != nil {
			return err
		}
	}
	return nil
}

// listEntry writes one list entry (struct v) as the filter nodes g select
// it: the entry is in the output, with its keys, when something in it is.
func (fe *fenc) listEntry(f *fieldPlan, v reflect.Value, g []*fnode, mod *Module, depth int) error {
	whole, apply := fe.evaluate(g, v)
	if whole {
		if err := fe.flushPending(); err != nil {
			return err
		}
		return fe.entry(f, v, mod, depth)
	}
	if len(apply) == 0 {
		return nil
	}
	fe.push(f, mod, depth, v)
	for _, k := range f.child.keys {
		if v.Field(k.index).IsZero() {
			return &Error{Path: strings.Join(fe.path, ""), Err: fmt.Errorf("%w: list entry without key leaf <%s>", ErrMissingKey, k.name)}
		}
	}
	if err := fe.children(f.child, v, apply, f.module, depth+1, true); err != nil {
		return err
	}
	fe.pop()
	return nil
}

// equal compares a data value with the content match value by Go value, so
// "06" and "6" both match uint8 6 and identityrefs compare resolved.
func (n *fnode) equal(v reflect.Value) bool {
	if !n.match {
		return false
	}
	if valuesEqual(v, n.val) {
		return true
	}
	if n.ip && v.Kind() == reflect.String {
		a, err1 := netip.ParseAddr(v.String())
		b, err2 := netip.ParseAddr(n.val.String())
		return err1 == nil && err2 == nil && a == b
	}
	return false
}

func valuesEqual(a, b reflect.Value) bool {
	if a.Kind() == reflect.Interface {
		if a.IsNil() {
			return false
		}
		a = a.Elem()
	}
	if b.Kind() == reflect.Interface {
		if b.IsNil() {
			return false
		}
		b = b.Elem()
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			return bytes.Equal(a.Bytes(), b.Bytes())
		}
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
