package mapping

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxMappingSize bounds a mapping file: a mapping is a few hundred lines.
const maxMappingSize = 1 << 20

// LoadFile reads and checks a mapping file.
func LoadFile(path string) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read mapping", Err: ErrMapping, Cause: err}
	}
	return Parse(path, b)
}

// Parse reads a mapping from YAML. file names it in errors. Every problem
// found is reported (joined), each as an *Error with its line; the checks
// here need no vendor module (see Validate for those).
func Parse(file string, data []byte) (*Mapping, error) {
	if len(data) > maxMappingSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("file is %d bytes, more than %d", len(data), maxMappingSize), Err: ErrMapping}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{File: file, Line: yamlErrLine(err), Msg: "not valid YAML", Err: ErrMapping, Cause: err}
	}
	p := &parser{file: file, budget: 1 << 16}
	m := &Mapping{File: file}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.errorf(&doc, "", "empty mapping file")
		return nil, p.err()
	}
	p.top(doc.Content[0], m)
	if err := p.err(); err != nil {
		return nil, err
	}
	p.check(m)
	if err := p.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// MustParse is Parse for mappings embedded in the binary: a broken
// embedded mapping is a programming error.
func MustParse(file string, data []byte) *Mapping {
	m, err := Parse(file, data)
	if err != nil {
		panic(err)
	}
	return m
}

func yamlErrLine(err error) int {
	// yaml.v3 errors read "yaml: line N: ..."
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		rest := s[i+5:]
		if j := strings.IndexByte(rest, ':'); j > 0 {
			if n, err := strconv.Atoi(rest[:j]); err == nil {
				return n
			}
		}
	}
	return 0
}

type parser struct {
	file   string
	errs   []error
	budget int
}

func (p *parser) errorf(n *yaml.Node, key, format string, args ...any) {
	if len(p.errs) >= 50 {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrMapping})
}

func (p *parser) err() error { return errors.Join(p.errs...) }

// pairs returns the key/value pairs of mapping n, reporting keys not in
// known (nil: any key) and duplicates.
func (p *parser) pairs(n *yaml.Node, key string, known ...string) [][2]*yaml.Node {
	n = p.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil && !isNull(n) {
			p.errorf(n, key, "must be a mapping, not %s", kindName(n))
		}
		return nil
	}
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], p.resolve(n.Content[i+1])
		if p.budget <= 0 {
			p.errorf(k, key, "too many nodes (alias expansion?)")
			return out
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, key, "keys must be plain strings")
			continue
		}
		if seen[k.Value] {
			p.errorf(k, join(key, k.Value), "given twice")
			continue
		}
		seen[k.Value] = true
		if known != nil && !slices.Contains(known, k.Value) {
			p.errorf(k, join(key, k.Value), "unknown key (known: %s)", strings.Join(known, ", "))
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	p.budget--
	return n
}

func (p *parser) str(n *yaml.Node, key string) string {
	// A null written out (Null, ~) is taken as the text written: Junos
	// prints "Null" where a value is absent.
	if n == nil || n.Kind != yaml.ScalarNode || n.Value == "" {
		p.errorf(n, key, "must be a string, not %s", kindName(n))
		return ""
	}
	return n.Value
}

func (p *parser) strs(n *yaml.Node, key string) []string {
	n = p.resolve(n)
	if isNull(n) {
		return []string{}
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, key, "must be a list, not %s", kindName(n))
		return nil
	}
	out := []string{}
	for _, c := range n.Content {
		out = append(out, p.str(p.resolve(c), key))
	}
	return out
}

func (p *parser) kvs(n *yaml.Node, key string) []KV {
	var out []KV
	for _, kv := range p.pairs(n, key) {
		out = append(out, KV{Key: kv[0].Value, Value: p.str(kv[1], join(key, kv[0].Value)), Line: kv[0].Line})
	}
	return out
}

func (p *parser) boolean(n *yaml.Node, key string) bool {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true", "yes", "on":
			return true
		case "false", "no", "off":
			return false
		}
	}
	p.errorf(n, key, "must be true or false, not %s", kindName(n))
	return false
}

func (p *parser) uint(n *yaml.Node, key string) uint64 {
	v, err := strconv.ParseUint(p.str(n, key), 10, 64)
	if err != nil || v == 0 {
		p.errorf(n, key, "must be a positive integer, not %s", kindName(n))
	}
	return v
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func (p *parser) top(n *yaml.Node, m *Mapping) {
	var fields, unsupported *yaml.Node
	for _, kv := range p.pairs(n, "", "mapping", "description", "access", "vendor", "read", "write", "identity", "fields", "derive", "unsupported") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "mapping":
			m.Name, m.Line = p.str(v, "mapping"), k.Line
		case "description":
			m.Description = p.str(v, "description")
		case "access":
			m.Access = Access(p.str(v, "access"))
			if m.Access != ReadOnly && m.Access != ReadWrite {
				p.errorf(v, "access", "must be read-only or read-write, not %q", m.Access)
			}
		case "vendor":
			p.vendor(v, m)
			m.Vendor.Line = k.Line
		case "read":
			p.read(v, m)
			m.Read.Line = k.Line
		case "write":
			m.Write = p.write(v)
			m.Write.Line = k.Line
		case "identity":
			m.Identity = p.boolean(v, "identity")
		case "fields":
			fields = v
		case "derive":
			for i, d := range p.strs(v, "derive") {
				if !slices.Contains(derivations, Derivation(d)) {
					p.errorf(v.Content[i], "derive", "unknown derivation %q (known: %s, %s)", d, DeriveNATFromTuples, DeriveReplyFromNAT)
				}
				m.Derive = append(m.Derive, Derivation(d))
			}
		case "unsupported":
			unsupported = v
		}
	}
	if fields != nil {
		for _, kv := range p.pairs(fields, "fields") {
			m.Fields = append(m.Fields, p.field(kv[0], kv[1]))
		}
	}
	if unsupported != nil {
		for _, kv := range p.pairs(unsupported, "unsupported") {
			m.Unsupported = append(m.Unsupported, &Unsupported{Path: kv[0].Value, Reason: p.str(kv[1], join("unsupported", kv[0].Value)), Line: kv[0].Line})
		}
	}
	if m.Name == "" {
		p.errorf(n, "mapping", "missing: every mapping file starts with mapping: NAME")
	}
	if m.Access == "" {
		p.errorf(n, "access", "missing: read-only or read-write")
	}
	if m.Vendor.Name == "" {
		m.Vendor.Name = m.Name
	}
}

func (p *parser) vendor(n *yaml.Node, m *Mapping) {
	v := &m.Vendor
	for _, kv := range p.pairs(n, "vendor", "name", "modules", "namespace", "device-namespaces") {
		k, val := kv[0], kv[1]
		switch k.Value {
		case "name":
			v.Name = p.str(val, "vendor.name")
		case "namespace":
			v.Namespace, v.NamespaceLine = p.str(val, "vendor.namespace"), val.Line
		case "device-namespaces":
			v.DeviceNamespaces = p.strs(val, "vendor.device-namespaces")
		case "modules":
			if val.Kind != yaml.SequenceNode {
				p.errorf(val, "vendor.modules", "must be a list of {name, revision}")
				continue
			}
			for _, c := range val.Content {
				c = p.resolve(c)
				mod := Module{Line: c.Line}
				for _, kv := range p.pairs(c, "vendor.modules", "name", "revision") {
					if kv[0].Value == "name" {
						mod.Name = p.str(kv[1], "vendor.modules.name")
					} else {
						mod.Revision = p.str(kv[1], "vendor.modules.revision")
					}
				}
				if mod.Name == "" {
					p.errorf(c, "vendor.modules", "a module needs a name")
				}
				v.Modules = append(v.Modules, mod)
			}
		}
	}
	if len(v.Modules) == 0 {
		p.errorf(n, "vendor.modules", "missing: the vendor modules the mapping is written for")
	}
	if v.Namespace == "" {
		p.errorf(n, "vendor.namespace", "missing: the XML namespace of the module that holds the list")
	}
}

func (p *parser) read(n *yaml.Node, m *Mapping) {
	r := &m.Read
	r.Keys = nil
	keysGiven := false
	for _, kv := range p.pairs(n, "read", "rpc", "input", "list", "keys", "wrappers", "wings") {
		k, v := kv[0], kv[1]
		switch k.Value {
		case "rpc":
			r.RPC = p.str(v, "read.rpc")
		case "input":
			r.Input, r.InputLine = p.kvs(v, "read.input"), k.Line
		case "list":
			r.List, r.ListLine = p.str(v, "read.list"), v.Line
			if !strings.HasPrefix(r.List, "/") {
				p.errorf(v, "read.list", "must be an absolute schema path (/module:top/.../list), not %q", r.List)
			}
		case "keys":
			r.Keys, r.KeysLine, keysGiven = p.strs(v, "read.keys"), k.Line, true
		case "wrappers":
			r.Wrappers = p.strs(v, "read.wrappers")
		case "wings":
			w := &Wings{Line: k.Line}
			for _, kv := range p.pairs(v, "read.wings", "list", "selector", "original", "reply") {
				s := p.str(kv[1], "read.wings."+kv[0].Value)
				switch kv[0].Value {
				case "list":
					w.List = s
				case "selector":
					w.Selector = s
				case "original":
					w.Original = s
				case "reply":
					w.Reply = s
				}
			}
			if w.List == "" || w.Selector == "" || w.Original == "" || w.Reply == "" {
				p.errorf(k, "read.wings", "needs list, selector, original and reply")
			}
			r.Wings = w
		}
	}
	if r.List == "" {
		p.errorf(n, "read.list", "missing: the schema path of the session list")
	}
	if !keysGiven {
		p.errorf(n, "read.keys", "missing: the list keys the mapping assumes ([] for a keyless list)")
	}
}

func (p *parser) write(n *yaml.Node) *Write {
	w := &Write{}
	for _, kv := range p.pairs(n, "write", "edit-config", "parent-keys", "keys") {
		switch kv[0].Value {
		case "edit-config":
			w.EditConfig = p.str(kv[1], "write.edit-config")
		case "parent-keys":
			w.ParentKeys = p.kvs(kv[1], "write.parent-keys")
		case "keys":
			w.Keys = p.kvs(kv[1], "write.keys")
		}
	}
	if w.EditConfig == "" {
		p.errorf(n, "write.edit-config", "missing: the schema path of the list to write")
	}
	return w
}

func (p *parser) field(k, v *yaml.Node) *Field {
	key := "fields." + k.Value
	f := &Field{Target: k.Value, Line: k.Line, PathLine: k.Line}
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		f.Path, f.PathLine = v.Value, v.Line // short form: target: vendor/path
		return f
	}
	for _, kv := range p.pairs(v, key, "path", "wing", "const", "number", "enum", "otherwise", "host-prefix",
		"narrow", "multiply", "divide", "units", "default", "absent", "direction") {
		kk, val := kv[0], kv[1]
		sub := join(key, kk.Value)
		switch kk.Value {
		case "path":
			f.Path, f.PathLine = p.str(val, sub), val.Line
		case "wing":
			f.Wing = p.str(val, sub)
			if f.Wing != "original" && f.Wing != "reply" {
				p.errorf(val, sub, "must be original or reply, not %q", f.Wing)
			}
		case "const":
			f.Const, f.IsConst = p.str(val, sub), true
		case "number":
			f.Number = p.str(val, sub)
			if f.Number != "decimal" && f.Number != "hex-or-decimal" {
				p.errorf(val, sub, "must be decimal or hex-or-decimal, not %q", f.Number)
			}
		case "enum":
			f.Enum, f.EnumLine = p.kvs(val, sub), kk.Line
		case "otherwise":
			f.Otherwise = p.str(val, sub)
			if f.Otherwise != "error" && f.Otherwise != "keep" && f.Otherwise != "number" {
				p.errorf(val, sub, "must be error, keep or number, not %q", f.Otherwise)
			}
		case "host-prefix":
			f.HostPrefix = p.boolean(val, sub)
		case "narrow":
			f.Narrow = p.boolean(val, sub)
		case "multiply":
			f.Multiply = p.uint(val, sub)
		case "divide":
			f.Divide = p.uint(val, sub)
		case "units":
			f.Units = p.str(val, sub)
			if _, ok := unitSeconds[f.Units]; !ok {
				p.errorf(val, sub, "unknown unit %q (known: ms, s, min, h; the canonical timers are in seconds)", f.Units)
			}
		case "default":
			f.Default, f.HasDefault = p.str(val, sub), true
		case "absent":
			f.Absent = p.strs(val, sub)
		case "direction":
			f.Direction = p.str(val, sub)
			if f.Direction != "read" && f.Direction != "write" && f.Direction != "both" {
				p.errorf(val, sub, "must be read, write or both, not %q", f.Direction)
			}
		}
	}
	switch {
	case f.IsConst && f.Path != "":
		p.errorf(k, key, "has both path and const: choose one")
	case !f.IsConst && f.Path == "":
		p.errorf(k, key, "needs a vendor path (or a const)")
	}
	if f.Otherwise != "" && len(f.Enum) == 0 {
		p.errorf(k, key, "otherwise without enum")
	}
	if f.Multiply != 0 && f.Divide != 0 {
		p.errorf(k, key, "has both multiply and divide")
	}
	if f.Units != "" && (f.Multiply != 0 || f.Divide != 0) {
		p.errorf(k, key, "has both units and multiply/divide")
	}
	return f
}

// unitSeconds converts vendor time units to the canonical seconds.
var unitSeconds = map[string][2]uint64{"ms": {1, 1000}, "s": {1, 1}, "min": {60, 1}, "h": {3600, 1}}
