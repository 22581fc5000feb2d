package mapping

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/yangschema"
)

// Modules are vendor YANG modules loaded with goyang, shared by the
// validation of several mappings.
type Modules struct {
	set  *yangschema.Set
	byNm map[string]yangschema.Module
	Took time.Duration
}

// LoadModules loads the named modules (names or files) from the search
// path dirs. Failures wrap ErrModules.
func LoadModules(ctx context.Context, names []string, dirs []string) (*Modules, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: --yang-path %s is not a readable directory", ErrModules, d)
		}
	}
	set, err := yangschema.Load(names, dirs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (search path: %s)", ErrModules, err, strings.Join(dirs, ", "))
	}
	mods := &Modules{set: set, byNm: map[string]yangschema.Module{}}
	for _, m := range set.Modules() {
		mods.byNm[m.Name] = m
	}
	mods.Took = time.Since(start)
	return mods, nil
}

// ModuleNames lists the modules the mappings need, without duplicates.
func ModuleNames(ms ...*Mapping) []string {
	var out []string
	for _, m := range ms {
		for _, mod := range m.Vendor.Modules {
			if !slices.Contains(out, mod.Name) {
				out = append(out, mod.Name)
			}
		}
	}
	return out
}

// Check is one validation check of a mapping: passed when Err is nil.
type Check struct {
	// Name identifies the check: "module junos-es-rpc-security",
	// "read.list", "fields.original/source-address", "sample FILE", ...
	Name string
	File string
	Line int
	Path string // the vendor path concerned
	Err  error
	// Sessions is, for a sample, how many sessions it converted into.
	Sessions int
}

// Passed reports whether the check passed.
func (c Check) Passed() bool { return c.Err == nil }

// Result is the outcome of validating one mapping.
type Result struct {
	Mapping string
	File    string
	Checks  []Check
	Took    time.Duration
}

// Failed lists the failed checks.
func (r *Result) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Err != nil {
			out = append(out, c)
		}
	}
	return out
}

// Err joins the failures (each wraps ErrMapping), or nil.
func (r *Result) Err() error {
	var errs []error
	for _, c := range r.Failed() {
		errs = append(errs, c.Err)
	}
	return errors.Join(errs...)
}

// ValidateOption configures Validate.
type ValidateOption func(*validateOpts)

type validateOpts struct {
	samples []string
}

// WithSamples converts each file (XML or JSON vendor data) with the
// mapping and checks the sessions against the canonical model.
func WithSamples(files ...string) ValidateOption {
	return func(o *validateOpts) { o.samples = append(o.samples, files...) }
}

// Validate checks m against the vendor modules: module revisions and
// namespace, the list path, its keys, the RPC and its input, the wings,
// every mapped vendor path (exists, is a leaf, type compatible with the
// canonical leaf, enum transforms total), that every mandatory canonical
// leaf is mapped or declared unsupported, the write paths, and samples.
// Problems are checks in the report; the error is only for a cancelled ctx.
func Validate(ctx context.Context, m *Mapping, mods *Modules, opts ...ValidateOption) (*Result, error) {
	var o validateOpts
	for _, opt := range opts {
		opt(&o)
	}
	start := time.Now()
	v := &validator{m: m, mods: mods, r: &Result{Mapping: m.Name, File: m.File}}
	v.run()
	for _, s := range o.samples {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v.sample(ctx, s)
	}
	v.r.Took = time.Since(start)
	return v.r, ctx.Err()
}

type validator struct {
	m     *Mapping
	mods  *Modules
	r     *Result
	entry *yang.Entry // the list entry, once resolved
	wing  *yang.Entry
}

func (v *validator) pass(name string, line int, path string) {
	v.r.Checks = append(v.r.Checks, Check{Name: name, File: v.m.File, Line: line, Path: path})
}

func (v *validator) fail(name string, line int, path, format string, args ...any) {
	err := &Error{File: v.m.File, Line: line, Key: name, Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrMapping}
	v.r.Checks = append(v.r.Checks, Check{Name: name, File: v.m.File, Line: line, Path: path, Err: err})
}

func (v *validator) run() {
	m := v.m
	ok := true
	for _, mod := range m.Vendor.Modules {
		name := "module " + mod.Name
		got, found := v.mods.byNm[mod.Name]
		switch {
		case !found:
			v.fail(name, mod.Line, "", "module not loaded (is it on the --yang-path?)")
			ok = false
		case mod.Revision != "" && got.Revision != mod.Revision:
			v.fail(name, mod.Line, "", "mapping written for revision %s, the loaded module is revision %s", mod.Revision, got.Revision)
		default:
			v.pass(name, mod.Line, "")
		}
	}
	if !ok {
		return
	}
	listMod := m.listModule()
	if !slices.ContainsFunc(m.Vendor.Modules, func(x Module) bool { return x.Name == listMod }) {
		v.fail("read.list", m.Read.ListLine, m.Read.List, "module %q of the list is not among vendor.modules", listMod)
		return
	}
	if got := v.mods.byNm[listMod].Namespace; got != m.Vendor.Namespace {
		v.fail("vendor.namespace", m.Vendor.NamespaceLine, "", "%q is not the namespace of module %s (%q)", m.Vendor.Namespace, listMod, got)
	} else {
		v.pass("vendor.namespace", m.Vendor.NamespaceLine, "")
	}
	for _, g := range m.Vendor.DeviceNamespaces {
		if _, err := pathMatch(g); err != nil {
			v.fail("vendor.device-namespaces", m.Vendor.Line, "", "bad glob %q: %v", g, err)
		}
	}
	v.list(listMod)
	if v.entry == nil {
		return
	}
	v.fields()
	v.mandatory()
	if m.Write != nil {
		v.write(listMod)
	}
}

// list resolves read.list (and the RPC), checks it is a list keyed as assumed.
func (v *validator) list(listMod string) {
	m := v.m
	root, err := v.mods.set.Entry(listMod)
	if err != nil {
		v.fail("read.list", m.Read.ListLine, m.Read.List, "%v", err)
		return
	}
	steps := schemaSteps(m.Read.List)
	if m.Read.RPC != "" {
		if len(steps) < 2 || steps[0] != m.Read.RPC || steps[1] != "output" {
			v.fail("read.rpc", m.Read.Line, m.Read.List, "the list must be under the RPC's output: /%s:%s/output/...", listMod, m.Read.RPC)
			return
		}
		rpc := root.Dir[m.Read.RPC]
		if rpc == nil || rpc.RPC == nil {
			v.fail("read.rpc", m.Read.Line, "/"+listMod+":"+m.Read.RPC, "module %s has no RPC %s%s", listMod, m.Read.RPC, didYouMean(m.Read.RPC, root))
			return
		}
		v.pass("read.rpc", m.Read.Line, "/"+listMod+":"+m.Read.RPC)
		v.input(rpc)
	}
	e, bad := resolve(root, steps)
	if e == nil {
		parent, _ := resolve(root, steps[:bad])
		v.fail("read.list", m.Read.ListLine, m.Read.List, "no node %q under /%s%s", steps[bad], strings.Join(steps[:bad], "/"), didYouMean(steps[bad], parent))
		return
	}
	if !e.IsList() {
		v.fail("read.list", m.Read.ListLine, m.Read.List, "is a %s, not a list", entryKind(e))
		return
	}
	v.pass("read.list", m.Read.ListLine, m.Read.List)
	v.entry = e
	keys := strings.Fields(e.Key)
	if !slices.Equal(keys, m.Read.Keys) {
		v.fail("read.keys", m.Read.KeysLine, m.Read.List, "the list is keyed by [%s], the mapping assumes [%s]", strings.Join(keys, " "), strings.Join(m.Read.Keys, " "))
	} else {
		v.pass("read.keys", m.Read.KeysLine, m.Read.List)
	}
	if w := m.Read.Wings; w != nil {
		we := child(e, w.List)
		switch {
		case we == nil:
			v.fail("read.wings", w.Line, m.Read.List+"/"+w.List, "no such node%s", didYouMean(w.List, e))
		case !we.IsList():
			v.fail("read.wings", w.Line, m.Read.List+"/"+w.List, "is a %s, not a list", entryKind(we))
		default:
			sel := child(we, w.Selector)
			if sel == nil || !sel.IsLeaf() {
				v.fail("read.wings", w.Line, m.Read.List+"/"+w.List+"/"+w.Selector, "no selector leaf%s", didYouMean(w.Selector, we))
				return
			}
			if t := typeOf(sel.Type); t.kind == kEnum {
				for _, x := range []string{w.Original, w.Reply} {
					if !slices.Contains(t.enums, x) {
						v.fail("read.wings", w.Line, m.Read.List+"/"+w.List+"/"+w.Selector, "%q is not a value of %s", x, t)
						return
					}
				}
			}
			v.wing = we
			v.pass("read.wings", w.Line, m.Read.List+"/"+w.List)
		}
	}
}

func (v *validator) input(rpc *yang.Entry) {
	in := rpc.RPC.Input
	for _, kv := range v.m.Read.Input {
		name := "read.input." + kv.Key
		var leaf *yang.Entry
		if in != nil {
			leaf = child(in, kv.Key)
		}
		if leaf == nil || !leaf.IsLeaf() {
			v.fail(name, kv.Line, "", "the RPC has no input leaf %s%s", kv.Key, didYouMean(kv.Key, in))
			continue
		}
		if t := typeOf(leaf.Type); t.kind == kEnum && !slices.Contains(t.enums, kv.Value) {
			v.fail(name, kv.Line, "", "%q is not a value of %s", kv.Value, t)
			continue
		}
		v.pass(name, kv.Line, "")
	}
}

// fields checks every mapped vendor path.
func (v *validator) fields() {
	cs, _ := canon()
	for _, f := range v.m.Fields {
		name := "fields." + f.Target
		if f.IsConst {
			v.pass(name, f.Line, "")
			continue
		}
		base, basePath := v.entry, v.m.Read.List
		if f.Wing != "" {
			if v.wing == nil {
				v.fail(name, f.Line, f.Path, "wing %s used but read.wings is not valid", f.Wing)
				continue
			}
			base, basePath = v.wing, v.m.Read.List+"/"+v.m.Read.Wings.List
		}
		full := basePath + "/" + f.Path
		steps := strings.Split(f.Path, "/")
		e := base
		for i, s := range steps {
			c := child(e, s)
			if c == nil {
				under := strings.TrimPrefix(strings.TrimSuffix(basePath+"/"+strings.Join(steps[:i], "/"), "/"), "/")
				v.fail(name, f.PathLine, full, "no node %q under %s%s", s, under, didYouMean(s, e))
				e = nil
				break
			}
			if c.IsList() && i < len(steps)-1 {
				v.fail(name, f.PathLine, full, "crosses list %s: a field reads one leaf per entry", s)
				e = nil
				break
			}
			e = c
		}
		if e == nil {
			continue
		}
		if !e.IsLeaf() && !e.IsLeafList() {
			v.fail(name, f.PathLine, full, "is a %s, not a leaf", entryKind(e))
			continue
		}
		cl, _ := cs.leaf(f.Target)
		if e.IsLeafList() && !cl.leafList {
			v.fail(name, f.PathLine, full, "is a leaf-list; the canonical %s is a single leaf", f.Target)
			continue
		}
		vt := typeOf(e.Type)
		if err := compatible(f, vt, cl); err != nil {
			line := f.PathLine
			if len(f.Enum) > 0 && f.EnumLine > 0 {
				line = f.EnumLine
			}
			v.fail(name, line, full, "%v", err)
			continue
		}
		if f.Writes() && v.m.Writable() && e.ReadOnly() {
			v.fail(name, f.PathLine, full, "is config false: it cannot be written (give direction: read)")
			continue
		}
		v.pass(name, f.PathLine, full)
	}
}

// compatible says whether vendor type vt can feed canonical leaf cl with
// f's transform, and why not.
func compatible(f *Field, vt typeInfo, cl *canonLeaf) error {
	ct := cl.typ
	if len(f.Enum) > 0 {
		switch vt.kind {
		case kEnum:
			var missing, extra []string
			keys := map[string]bool{}
			for _, e := range f.Enum {
				keys[e.Key] = true
				if !slices.Contains(vt.enums, e.Key) {
					extra = append(extra, e.Key)
				}
			}
			for _, n := range vt.enums {
				if !keys[n] {
					missing = append(missing, n)
				}
			}
			if len(extra) > 0 {
				return fmt.Errorf("enum maps %s, which the vendor %s does not have", strings.Join(extra, ", "), vt)
			}
			if len(missing) > 0 && f.Otherwise == "" {
				return fmt.Errorf("enum transform is not total: vendor values %s are not covered (map them, or say otherwise: keep, number or error)", strings.Join(missing, ", "))
			}
		case kString, kInt, kOther:
			if f.Otherwise == "" {
				return fmt.Errorf("the vendor type is %s, so the enum map cannot cover it: say otherwise: keep, number or error", vt)
			}
		default:
			return fmt.Errorf("an enum map cannot read a vendor %s", vt)
		}
		return nil
	}
	if vt.kind == kOther && vt.name == "union" {
		var errs []string
		for _, m := range vt.members {
			if err := compatible(f, m, cl); err == nil {
				return nil
			} else {
				errs = append(errs, err.Error())
			}
		}
		return fmt.Errorf("no member of the vendor union fits: %s", strings.Join(errs, "; "))
	}
	switch ct.kind {
	case kInt:
		switch vt.kind {
		case kInt:
			if fits(vt, ct) || f.Narrow {
				return nil
			}
			return fmt.Errorf("vendor %s does not fit the canonical %s (say narrow: true to refuse larger values per entry)", vt, ct)
		case kString:
			if f.Number != "" {
				return nil
			}
			return fmt.Errorf("vendor %s is not a number: say number: decimal (or hex-or-decimal) to parse it", vt)
		case kEnum:
			return fmt.Errorf("vendor %s needs an enum map to become the canonical %s", vt, ct)
		}
	case kIP:
		switch vt.kind {
		case kIP:
			if ct.family != 0 && vt.family != ct.family {
				return fmt.Errorf("vendor %s is not the canonical %s", vt, ct)
			}
			return nil
		case kPrefix:
			if f.HostPrefix {
				return nil
			}
			return fmt.Errorf("vendor %s is a prefix: say host-prefix: true to read a one-host prefix as an address", vt)
		case kString:
			return nil // checked per entry
		}
	case kString:
		switch vt.kind {
		case kString, kInt, kEnum, kIP, kPrefix, kBool, kDecimal, kIdentity:
			return nil
		}
	case kEnum:
		if vt.kind == kEnum {
			var missing []string
			for _, n := range vt.enums {
				if !slices.Contains(ct.enums, n) {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("vendor values %s are not values of the canonical %s: add an enum map", strings.Join(missing, ", "), ct)
			}
			return nil
		}
		return fmt.Errorf("vendor %s needs an enum map to become the canonical %s", vt, ct)
	case kBool:
		if vt.kind == kBool {
			return nil
		}
	case kBinary:
		if vt.kind == kBinary || vt.kind == kString {
			return nil
		}
	case kOther:
		if ct.name == "union" {
			return nil
		}
	}
	return fmt.Errorf("vendor %s is not compatible with the canonical %s", vt, ct)
}

// fits reports whether every value of integer type a is a value of b.
func fits(a, b typeInfo) bool {
	switch {
	case a.signed == b.signed:
		return a.bits <= b.bits
	case !a.signed && b.signed:
		return a.bits < b.bits
	}
	return false
}

// mandatory checks that every mandatory canonical leaf (and the ports the
// session id needs) is mapped, derived or declared unsupported.
func (v *validator) mandatory() {
	cs, _ := canon()
	var need []string
	for _, p := range cs.paths {
		if cs.leaves[p].mandatory && p != idLeaf {
			need = append(need, p)
		}
	}
	need = append(need, keyLeaves...)
	for _, p := range need {
		name := "mandatory " + p
		switch {
		case v.m.Field(p) != nil:
			v.pass(name, v.m.Field(p).Line, "")
		case p == "address-family":
			v.pass(name, v.m.Line, "") // derived from the original source address
		case v.m.UnsupportedFor(p) != nil:
			v.pass(name, v.m.UnsupportedFor(p).Line, "")
		default:
			v.fail(name, v.m.Line, "", "the canonical %s is not mapped: map it or declare it under unsupported with a reason", p)
		}
	}
}

// write checks the edit-config list, its keys and the parent keys.
func (v *validator) write(listMod string) {
	w := v.m.Write
	root, _ := v.mods.set.Entry(listMod)
	steps := schemaSteps(w.EditConfig)
	e, bad := resolve(root, steps)
	if e == nil {
		v.fail("write.edit-config", w.Line, w.EditConfig, "no node %q", steps[bad])
		return
	}
	if !e.IsList() || e.ReadOnly() {
		v.fail("write.edit-config", w.Line, w.EditConfig, "must be a config true list")
		return
	}
	v.pass("write.edit-config", w.Line, w.EditConfig)
	for _, k := range strings.Fields(e.Key) {
		if !slices.ContainsFunc(w.Keys, func(kv KV) bool { return kv.Key == k }) {
			v.fail("write.keys", w.Line, w.EditConfig+"/"+k, "no way given to make key %s", k)
		}
	}
	for _, kv := range w.Keys {
		if kv.Value != "id-hash32" {
			if _, ok := (func() (*canonLeaf, bool) { cs, _ := canon(); return cs.leaf(kv.Value) })(); !ok {
				v.fail("write.keys."+kv.Key, kv.Line, w.EditConfig+"/"+kv.Key, "%q is neither a canonical leaf nor id-hash32", kv.Value)
			}
		}
	}
	// enclosing lists need their keys
	cur := root
	for i, s := range steps[:len(steps)-1] {
		cur = child(cur, s)
		if cur == nil || !cur.IsList() {
			continue
		}
		for _, k := range strings.Fields(cur.Key) {
			if !slices.ContainsFunc(w.ParentKeys, func(kv KV) bool { return kv.Key == s+"/"+k }) {
				v.fail("write.parent-keys", w.Line, "/"+strings.Join(steps[:i+1], "/"), "enclosing list %s needs a value for key %s (parent-keys: {%s/%s: ...})", s, k, s, k)
			}
		}
	}
}

// sample converts a file and checks every session.
func (v *validator) sample(ctx context.Context, file string) {
	name := "sample " + file
	f, err := os.Open(file)
	if err != nil {
		v.r.Checks = append(v.r.Checks, Check{Name: name, File: file, Err: &Error{File: file, Msg: "cannot read sample", Err: ErrMapping, Cause: err}})
		return
	}
	defer f.Close()
	c, err := NewConverter(v.m)
	if err != nil {
		v.r.Checks = append(v.r.Checks, Check{Name: name, File: file, Err: err})
		return
	}
	n := 0
	err = c.Convert(ctx, f, func(*flow.Session) error { n++; return nil })
	if err == nil && n == 0 {
		err = fmt.Errorf("no session found: is read.list (%s) where the sample holds its entries?", v.m.Read.List)
	}
	if err != nil {
		err = &Error{File: v.m.File, Key: name, Msg: "does not convert", Err: ErrMapping, Cause: err}
	}
	v.r.Checks = append(v.r.Checks, Check{Name: name, File: file, Err: err, Sessions: n})
}

// child finds a data node below e, looking through choice and case.
func child(e *yang.Entry, name string) *yang.Entry {
	if e == nil {
		return nil
	}
	if c := e.Dir[name]; c != nil && !c.IsChoice() && !c.IsCase() {
		return c
	}
	for _, c := range e.Dir {
		if c.IsChoice() || c.IsCase() {
			if d := child(c, name); d != nil {
				return d
			}
		}
	}
	return nil
}

// resolve follows schema steps from a module entry (an RPC's input and
// output included); on failure it returns nil and the failing step.
func resolve(root *yang.Entry, steps []string) (*yang.Entry, int) {
	e := root
	for i, s := range steps {
		var next *yang.Entry
		if e.RPC != nil {
			switch s {
			case "input":
				next = e.RPC.Input
			case "output":
				next = e.RPC.Output
			}
		} else {
			next = child(e, s)
		}
		if next == nil {
			return nil, i
		}
		e = next
	}
	return e, len(steps)
}

func entryKind(e *yang.Entry) string {
	switch {
	case e.IsList():
		return "list"
	case e.IsLeafList():
		return "leaf-list"
	case e.IsLeaf():
		return "leaf"
	case e.RPC != nil:
		return "rpc"
	}
	return "container"
}

func didYouMean(name string, e *yang.Entry) string {
	if e == nil {
		return ""
	}
	var names []string
	var collect func(*yang.Entry)
	collect = func(x *yang.Entry) {
		for n, c := range x.Dir {
			if c.IsChoice() || c.IsCase() {
				collect(c)
				continue
			}
			names = append(names, n)
		}
	}
	collect(e)
	slices.Sort(names)
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf(" (did you mean %s?)", s)
	}
	return ""
}

// pathMatch checks a namespace glob's syntax.
func pathMatch(g string) (bool, error) { return path.Match(g, "") }
