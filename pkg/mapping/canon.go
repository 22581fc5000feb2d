package mapping

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/didyoumean"
)

// kind classifies a YANG type by what a mapping can do with its values.
type kind int

const (
	kOther kind = iota
	kInt
	kIP     // inet:ip-address and its v4/v6 halves
	kPrefix // inet:ip-prefix and halves
	kString
	kEnum
	kBool
	kEmpty
	kBinary
	kDecimal
	kIdentity
)

func (k kind) String() string {
	return [...]string{"unsupported type", "integer", "IP address", "IP prefix", "string", "enumeration", "boolean",
		"empty", "binary", "decimal64", "identityref"}[k]
}

// typeInfo is a resolved YANG type.
type typeInfo struct {
	kind    kind
	name    string // typedef or built-in name
	bits    int    // integers: width
	signed  bool
	family  int      // IP: 4 or 6, 0 for both
	enums   []string // enumeration names
	members []typeInfo
}

func (t typeInfo) String() string {
	switch t.kind {
	case kInt:
		s := fmt.Sprintf("uint%d", t.bits)
		if t.signed {
			s = s[1:]
		}
		if t.name != "" && t.name != s {
			s = t.name + " (" + s + ")"
		}
		return s
	case kEnum:
		return "enumeration {" + strings.Join(t.enums, ", ") + "}"
	case kOther:
		return t.name
	}
	if t.name != "" && t.name != t.kind.String() {
		return t.name + " (" + t.kind.String() + ")"
	}
	return t.kind.String()
}

// typeOf resolves a goyang type.
func typeOf(t *yang.YangType) typeInfo {
	if t == nil {
		return typeInfo{kind: kOther, name: "no type"}
	}
	ti := typeInfo{name: t.Name}
	switch t.Name {
	case "ip-address", "ipv4-address", "ipv6-address", "ip-address-no-zone", "ipv4-address-no-zone", "ipv6-address-no-zone":
		ti.kind = kIP
		ti.family = familyOf(t.Name)
		return ti
	case "ip-prefix", "ipv4-prefix", "ipv6-prefix":
		ti.kind = kPrefix
		ti.family = familyOf(t.Name)
		return ti
	}
	switch t.Kind {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64:
		ti.kind, ti.signed = kInt, true
		ti.bits = map[yang.TypeKind]int{yang.Yint8: 8, yang.Yint16: 16, yang.Yint32: 32, yang.Yint64: 64}[t.Kind]
	case yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		ti.kind = kInt
		ti.bits = map[yang.TypeKind]int{yang.Yuint8: 8, yang.Yuint16: 16, yang.Yuint32: 32, yang.Yuint64: 64}[t.Kind]
	case yang.Ystring:
		ti.kind = kString
	case yang.Yenum:
		ti.kind = kEnum
		if t.Enum != nil {
			ti.enums = t.Enum.Names()
		}
	case yang.Ybool:
		ti.kind = kBool
	case yang.Yempty:
		ti.kind = kEmpty
	case yang.Ybinary:
		ti.kind = kBinary
	case yang.Ydecimal64:
		ti.kind = kDecimal
	case yang.Yidentityref:
		ti.kind = kIdentity
	case yang.Yunion:
		ti.kind = kOther
		ti.name = "union"
		for _, m := range t.Type {
			ti.members = append(ti.members, typeOf(m))
		}
	default:
		ti.kind = kOther
		ti.name = t.Kind.String()
	}
	return ti
}

func familyOf(name string) int {
	switch {
	case strings.HasPrefix(name, "ipv4"):
		return 4
	case strings.HasPrefix(name, "ipv6"):
		return 6
	}
	return 0
}

// canonLeaf is a leaf (or leaf-list) of the canonical session.
type canonLeaf struct {
	path      string // relative to the session: original/source-address
	typ       typeInfo
	leafList  bool
	mandatory bool // mandatory true, outside presence containers
	config    bool
	presence  string // the enclosing presence container, if any
}

type canonSchema struct {
	leaves map[string]*canonLeaf
	paths  []string // sorted
	// containers holds every container path, for unsupported declarations.
	containers map[string]bool
}

const sessionStruct = "SamiFlowState_FlowState_Sessions_Session"

// canon is the sami model's session, loaded once from the generated schema.
var canon = sync.OnceValues(func() (*canonSchema, error) {
	tree, err := flowstate.UnzipSchema()
	if err != nil {
		return nil, err
	}
	s := tree[sessionStruct]
	if s == nil {
		return nil, fmt.Errorf("generated schema has no %s", sessionStruct)
	}
	cs := &canonSchema{leaves: map[string]*canonLeaf{}, containers: map[string]bool{}}
	var walk func(e *yang.Entry, prefix, presence string, config bool)
	walk = func(e *yang.Entry, prefix, presence string, config bool) {
		for name, c := range e.Dir {
			p := name
			if prefix != "" {
				p = prefix + "/" + name
			}
			cfg := config && c.Config != yang.TSFalse
			switch {
			case c.IsList():
				// vendor-parameter: mapped as vendor-parameter/NAME
				cs.containers[p] = true
			case c.IsDir():
				cs.containers[p] = true
				pres := presence
				if _, ok := c.Extra["presence"]; ok {
					pres = p
				}
				walk(c, p, pres, cfg)
			default:
				cs.leaves[p] = &canonLeaf{path: p, typ: typeOf(c.Type), leafList: c.IsLeafList(),
					mandatory: c.Mandatory == yang.TSTrue && presence == "", config: cfg, presence: presence}
			}
		}
	}
	walk(s, "", "", true)
	for p := range cs.leaves {
		cs.paths = append(cs.paths, p)
	}
	sort.Strings(cs.paths)
	return cs, nil
})

// The canonical leaves a mapping never maps: the id is derived from the
// zone and the original tuple.
const idLeaf = "id"

// keyLeaves are needed to build a session's id for port protocols: a
// mapping maps them or says why not.
var keyLeaves = []string{"original/source-port", "original/destination-port"}

// vendorParamPrefix is the target prefix for vendor parameters.
const vendorParamPrefix = "vendor-parameter/"

// leaf returns the canonical leaf for a field target; vendor-parameter
// targets are strings.
func (cs *canonSchema) leaf(target string) (*canonLeaf, bool) {
	if name, ok := strings.CutPrefix(target, vendorParamPrefix); ok && name != "" && !strings.Contains(name, "/") {
		return &canonLeaf{path: target, typ: typeInfo{kind: kString, name: "string"}, config: true}, true
	}
	l, ok := cs.leaves[target]
	return l, ok
}

// exists reports whether p is a canonical leaf or container.
func (cs *canonSchema) exists(p string) bool {
	_, ok := cs.leaves[p]
	return ok || cs.containers[p]
}

// suggest returns the known name closest to s, for "did you mean".
func suggest(s string, known []string) string { return didyoumean.Closest(s, known, 3) }

// check runs the load-time checks that need only the canonical model.
func (p *parser) check(m *Mapping) {
	cs, err := canon()
	if err != nil {
		p.errs = append(p.errs, &Error{File: p.file, Msg: "canonical schema", Err: ErrMapping, Cause: err})
		return
	}
	if m.Identity {
		if len(m.Fields) > 0 {
			p.errorf(nil, "fields", "identity mappings have no fields")
		}
		for _, path := range cs.paths {
			if path == idLeaf {
				continue
			}
			f := &Field{Target: path, Path: path, Line: m.Line, PathLine: m.Line}
			if !cs.leaves[path].config {
				f.Direction = "read" // counters: read, never written
			}
			m.Fields = append(m.Fields, f)
		}
	}
	if m.Access == ReadWrite && m.Write == nil {
		p.errs = append(p.errs, &Error{File: p.file, Line: m.Line, Key: "write", Msg: "a read-write mapping needs a write section", Err: ErrMapping})
	}
	if m.Access == ReadOnly && m.Write != nil {
		p.errs = append(p.errs, &Error{File: p.file, Line: m.Write.Line, Key: "write", Msg: "a read-only mapping has no write section", Err: ErrMapping})
	}
	seen := map[string]*Field{}
	for _, f := range m.Fields {
		key := "fields." + f.Target
		if f.Target == idLeaf {
			p.add(f.Line, key, "", "the id is derived from zone-id and the original tuple; it is never mapped")
			continue
		}
		cl, ok := cs.leaf(f.Target)
		if !ok {
			msg := "no such leaf in the sami session model"
			if s := suggest(f.Target, cs.paths); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			p.add(f.Line, key, "", msg)
			continue
		}
		if f.Reads() {
			if prev := seen[f.Target]; prev != nil {
				p.add(f.Line, key, "", fmt.Sprintf("mapped twice (also at line %d); give one direction: write", prev.Line))
			}
			seen[f.Target] = f
		}
		if f.Wing != "" && m.Read.Wings == nil {
			p.add(f.Line, key, f.Path, "wing given but read.wings is not declared")
		}
		if u := m.UnsupportedFor(f.Target); u != nil && f.Reads() {
			p.add(f.Line, key, "", fmt.Sprintf("mapped, but declared unsupported at line %d", u.Line))
		}
		if f.Units != "" && cl.typ.kind != kInt {
			p.add(f.Line, key, "", "units apply to integer leaves only")
		}
		for _, e := range f.Enum {
			if _, err := f.canonical(e.Value, cl, true); err != nil {
				p.add(e.Line, key+".enum."+e.Key, "", fmt.Sprintf("maps to %q, which is not a valid %s: %v", e.Value, cl.typ, err))
			}
		}
		if f.IsConst {
			if _, err := f.canonical(f.Const, cl, false); err != nil {
				p.add(f.Line, key+".const", "", fmt.Sprintf("%q is not a valid %s: %v", f.Const, cl.typ, err))
			}
		}
	}
	for _, u := range m.Unsupported {
		if u.Path == idLeaf || !cs.exists(u.Path) {
			msg := "no such leaf or container in the sami session model"
			var all []string
			all = append(all, cs.paths...)
			for c := range cs.containers {
				all = append(all, c)
			}
			slices.Sort(all)
			if s := suggest(u.Path, all); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			p.add(u.Line, "unsupported."+u.Path, "", msg)
		}
		if strings.TrimSpace(u.Reason) == "" {
			p.add(u.Line, "unsupported."+u.Path, "", "say why the vendor cannot express it")
		}
	}
	if w := m.Read.Wings; w != nil && w.Original == w.Reply {
		p.add(w.Line, "read.wings", "", "original and reply select the same wing")
	}
}

func (p *parser) add(line int, key, path, msg string) {
	if len(p.errs) >= 50 {
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Path: path, Msg: msg, Err: ErrMapping})
}
