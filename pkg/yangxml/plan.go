package yangxml

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"github.com/openconfig/ygot/ygot"
	"github.com/openconfig/ygot/ytypes"
)

// Module names a YANG module and its XML namespace. ygot's generated schema
// does not carry namespaces, so the codec is told them.
type Module struct {
	Name      string
	Prefix    string
	Namespace string
}

type nodeKind uint8

const (
	kindLeaf nodeKind = iota
	kindLeafList
	kindContainer
	kindList
)

// nodePlan is the compiled form of one generated struct type: a container,
// a list entry or the fake root.
type nodePlan struct {
	entry  *yang.Entry
	typ    reflect.Type // struct type (not the pointer)
	module *Module      // module of the node itself (nil for the root)
	path   string       // schema path without prefixes, "/flow-state/sessions/session"
	fields []*fieldPlan // encode order: keys in key order, then the rest in struct order
	byName map[string]*fieldPlan
	keys   []*fieldPlan // list keys, in key-statement order
	// enums is the generated ΛEnumTypeMap: schema path -> enum Go types.
	enums map[string][]reflect.Type
	// mandatory: direct children that must be present (Validate).
	mandatory []*fieldPlan
}

// fieldPlan is one child node of a nodePlan, bound to a struct field.
type fieldPlan struct {
	name     string
	module   *Module
	index    int
	kind     nodeKind
	entry    *yang.Entry
	config   bool // effective config: false when this node or an ancestor is config false
	presence bool
	isKey    bool
	path     string
	leaf     *leafCodec // leaf, leaf-list
	child    *nodePlan  // container, list
	// list maps: map[K]*T; K is the key leaf's Go type or a key struct.
	mapType  reflect.Type
	keyIndex []int // for key structs: key struct field index of each child.keys[i]
}

type compiler struct {
	c     *Codec
	enums map[string][]reflect.Type
}

func (c *Codec) compileRoot(schema *ytypes.Schema) error {
	if schema == nil || schema.Root == nil {
		return &Error{Err: fmt.Errorf("%w: nil schema or root", ErrUnsupported)}
	}
	rt := reflect.TypeOf(schema.Root)
	if rt.Kind() != reflect.Ptr || rt.Elem().Kind() != reflect.Struct {
		return &Error{Err: fmt.Errorf("%w: root %T is not a pointer to a struct", ErrUnsupported, schema.Root)}
	}
	entry := schema.RootSchema()
	if entry == nil {
		return &Error{Err: fmt.Errorf("%w: no schema entry for root %T", ErrUnsupported, schema.Root)}
	}
	comp := &compiler{c: c}
	if em, ok := schema.Root.(interface {
		ΛEnumTypeMap() map[string][]reflect.Type
	}); ok {
		comp.enums = em.ΛEnumTypeMap()
	}
	plan, err := comp.node(entry, rt.Elem(), nil, "", true)
	if err != nil {
		return err
	}
	c.root = plan
	c.rootType = rt
	return nil
}

func (comp *compiler) node(entry *yang.Entry, typ reflect.Type, mod *Module, path string, config bool) (*nodePlan, error) {
	p := &nodePlan{entry: entry, typ: typ, module: mod, path: path, byName: map[string]*fieldPlan{}, enums: comp.enums}
	var keyNames []string
	if entry.IsList() && entry.Key != "" {
		keyNames = strings.Fields(entry.Key)
	}
	for i := 0; i < typ.NumField(); i++ {
		sf := typ.Field(i)
		tag, ok := sf.Tag.Lookup("path")
		if !ok {
			continue
		}
		if strings.ContainsAny(tag, "/|") {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: compressed path %q in %s (generate with -compress_paths=false)", ErrUnsupported, tag, typ.Name())}
		}
		modName := sf.Tag.Get("module")
		m := comp.c.mods[modName]
		if m == nil {
			if mod == nil {
				return nil, &Error{Path: path + "/" + tag, Err: fmt.Errorf("%w: module %q of field %s.%s has no namespace registered", ErrNamespace, modName, typ.Name(), sf.Name)}
			}
			m = mod
		}
		ce := findChild(entry, tag)
		if ce == nil {
			return nil, &Error{Path: path + "/" + tag, Err: fmt.Errorf("%w: no schema node for field %s.%s", ErrUnsupported, typ.Name(), sf.Name)}
		}
		f := &fieldPlan{name: tag, module: m, index: i, entry: ce, path: path + "/" + tag}
		f.config = config && ce.Config != yang.TSFalse
		switch {
		case ce.IsLeaf(), ce.IsLeafList():
			f.kind = kindLeaf
			if ce.IsLeafList() {
				f.kind = kindLeafList
			}
			lc, err := comp.leaf(ce, sf.Type, f.kind == kindLeafList, f.path, typ)
			if err != nil {
				return nil, err
			}
			f.leaf = lc
			if ce.Mandatory == yang.TSTrue {
				p.mandatory = append(p.mandatory, f)
			}
		case ce.IsList():
			f.kind = kindList
			if sf.Type.Kind() != reflect.Map || sf.Type.Elem().Kind() != reflect.Ptr {
				return nil, &Error{Path: f.path, Err: fmt.Errorf("%w: list %s is %v, want a map (keyless or ordered lists are not supported)", ErrUnsupported, tag, sf.Type)}
			}
			f.mapType = sf.Type
			child, err := comp.node(ce, sf.Type.Elem().Elem(), m, f.path, f.config)
			if err != nil {
				return nil, err
			}
			f.child = child
			if err := f.bindKeys(); err != nil {
				return nil, err
			}
		case ce.IsDir():
			f.kind = kindContainer
			if sf.Type.Kind() != reflect.Ptr || sf.Type.Elem().Kind() != reflect.Struct {
				return nil, &Error{Path: f.path, Err: fmt.Errorf("%w: container field %s is %v", ErrUnsupported, sf.Name, sf.Type)}
			}
			f.presence = isPresence(ce, sf)
			child, err := comp.node(ce, sf.Type.Elem(), m, f.path, f.config)
			if err != nil {
				return nil, err
			}
			f.child = child
			if !f.presence && hasMandatory(child) {
				p.mandatory = append(p.mandatory, f)
			}
		default:
			return nil, &Error{Path: f.path, Err: fmt.Errorf("%w: schema node kind %v", ErrUnsupported, ce.Kind)}
		}
		if _, dup := p.byName[tag]; dup {
			return nil, &Error{Path: f.path, Err: fmt.Errorf("%w: two fields for node %q (augments with clashing names are not supported)", ErrUnsupported, tag)}
		}
		p.byName[tag] = f
		p.fields = append(p.fields, f)
	}
	// Keys first, in key-statement order (RFC 7950 7.8.5), then the rest in
	// struct order, which ygot keeps deterministic.
	if len(keyNames) > 0 {
		var keys, rest []*fieldPlan
		for _, k := range keyNames {
			f := p.byName[k]
			if f == nil {
				return nil, &Error{Path: path, Err: fmt.Errorf("%w: key leaf %q has no field", ErrUnsupported, k)}
			}
			f.isKey = true
			keys = append(keys, f)
		}
		for _, f := range p.fields {
			if !f.isKey {
				rest = append(rest, f)
			}
		}
		p.keys = keys
		p.fields = append(keys, rest...)
	}
	return p, nil
}

// bindKeys checks that the map key type matches the list's keys.
func (f *fieldPlan) bindKeys() error {
	keys := f.child.keys
	if len(keys) == 0 {
		return &Error{Path: f.path, Err: fmt.Errorf("%w: keyless list", ErrUnsupported)}
	}
	kt := f.mapType.Key()
	if len(keys) == 1 {
		if kt != keys[0].leaf.valueType() {
			return &Error{Path: f.path, Err: fmt.Errorf("%w: map key %v for key leaf of type %v", ErrUnsupported, kt, keys[0].leaf.valueType())}
		}
		return nil
	}
	if kt.Kind() != reflect.Struct {
		return &Error{Path: f.path, Err: fmt.Errorf("%w: multi-key list with map key %v", ErrUnsupported, kt)}
	}
	byTag := map[string]int{}
	for i := 0; i < kt.NumField(); i++ {
		byTag[kt.Field(i).Tag.Get("path")] = i
	}
	for _, k := range keys {
		i, ok := byTag[k.name]
		if !ok || kt.Field(i).Type != k.leaf.valueType() {
			return &Error{Path: f.path, Err: fmt.Errorf("%w: key struct %v lacks field for key %q", ErrUnsupported, kt, k.name)}
		}
		f.keyIndex = append(f.keyIndex, i)
	}
	return nil
}

// findChild finds a data node child by name, looking through choice and case
// nodes, which ygot flattens away.
func findChild(e *yang.Entry, name string) *yang.Entry {
	if c, ok := e.Dir[name]; ok && !c.IsChoice() && !c.IsCase() {
		return c
	}
	names := make([]string, 0, len(e.Dir))
	for n := range e.Dir {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := e.Dir[n]
		if c.IsChoice() || c.IsCase() {
			if f := findChild(c, name); f != nil {
				return f
			}
		}
	}
	return nil
}

func isPresence(e *yang.Entry, sf reflect.StructField) bool {
	if util.IsYangPresence(sf) {
		return true
	}
	if c, ok := e.Node.(*yang.Container); ok && c != nil && c.Presence != nil {
		return true
	}
	return false
}

func hasMandatory(p *nodePlan) bool { return len(p.mandatory) > 0 }

// rootGoStruct asserts that v is a generated struct pointer of the codec's root type.
func (c *Codec) checkRoot(root ygot.GoStruct) (reflect.Value, error) {
	v := reflect.ValueOf(root)
	if root == nil || v.Type() != c.rootType || v.IsNil() {
		return reflect.Value{}, &Error{Err: fmt.Errorf("%w: root is %T, the codec was built for %v", ErrUnsupported, root, c.rootType)}
	}
	return v.Elem(), nil
}

// lookupPlan resolves a schema path ("/flow-state/sessions/session", module
// prefixes optional) to the fields leading to it.
func (c *Codec) lookupPlan(path string) ([]*fieldPlan, error) {
	var out []*fieldPlan
	p := c.root
	for _, el := range strings.Split(strings.Trim(path, "/"), "/") {
		if i := strings.IndexByte(el, ':'); i >= 0 {
			el = el[i+1:]
		}
		if p == nil {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: %q is below a leaf", ErrUnknownElement, el)}
		}
		f := p.byName[el]
		if f == nil {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: no schema node %q", ErrUnknownElement, el)}
		}
		out = append(out, f)
		p = f.child
	}
	return out, nil
}
