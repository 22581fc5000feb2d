package yangxml

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/openconfig/ygot/ygot"
)

// ValidateOption configures Validate.
type ValidateOption func(*validateOpts)

type validateOpts struct {
	configOnly bool
	skipTypes  bool
	ygot       bool
}

// ConfigData validates a configuration datastore: config false nodes are
// not considered (they may not even be present).
func ConfigData() ValidateOption { return func(o *validateOpts) { o.configOnly = true } }

// SkipTypeChecks leaves out the value checks (patterns, ranges, enums,
// list keys) when the tree came from this codec's decoder, which already
// checked every value, and only the structural checks are needed.
func SkipTypeChecks() ValidateOption { return func(o *validateOpts) { o.skipTypes = true } }

// WithYgotValidation also runs ygot's own Validate (leafrefs included).
// It is thorough but slow on large lists (a leafref walk of the whole tree
// took 12 s for 20k sessions without a single leafref in the model), so the
// default is the codec's own value checks.
func WithYgotValidation() ValidateOption { return func(o *validateOpts) { o.ygot = true } }

// Validate checks a complete tree: every mandatory node present (ygot does
// not check mandatory), every value valid for its type, every list entry
// stored under its own key. All problems are returned, joined; each is an
// *Error with the node's data path.
func (c *Codec) Validate(root ygot.GoStruct, opts ...ValidateOption) error {
	rv, err := c.checkRoot(root)
	if err != nil {
		return err
	}
	var o validateOpts
	for _, f := range opts {
		f(&o)
	}
	var errs []error
	c.mandatory(c.root, rv, "", nil, o, &errs)
	if o.ygot {
		if v, ok := root.(ygot.ValidatedGoStruct); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, &Error{Err: fmt.Errorf("%w: %v", ErrInvalidValue, err)})
			}
		}
	}
	return errors.Join(errs...)
}

// checkLeaf verifies a value against its type the way the decoder would:
// format it and parse the text back (range, length, pattern, enum).
func checkLeaf(f *fieldPlan, v reflect.Value, path string, errs *[]error) {
	text, _, err := f.leaf.encode(v)
	if err == nil && !f.leaf.goType.Implements(reflect.TypeFor[ygot.GoEnum]()) {
		_, err = f.leaf.decode(text, fixedNS{})
	}
	if err != nil {
		*errs = append(*errs, &Error{Path: path, Err: err})
	}
}

// fixedNS resolves no prefixes: encoded identityrefs are checked by encode.
type fixedNS struct{}

func (fixedNS) lookupNS(string) (string, bool) { return "", false }

func (c *Codec) mandatory(p *nodePlan, v reflect.Value, path string, cur *Module, o validateOpts, errs *[]error) {
	for _, f := range p.mandatory {
		if o.configOnly && !f.config {
			continue
		}
		if v.Field(f.index).IsZero() {
			*errs = append(*errs, &Error{Path: path + "/" + elemName(f, cur), Err: fmt.Errorf("%w: <%s> is mandatory", ErrMissingMandatory, f.name)})
		}
	}
	for _, f := range p.fields {
		if o.configOnly && !f.config {
			continue
		}
		fv := v.Field(f.index)
		switch f.kind {
		case kindLeaf:
			if !o.skipTypes && !fv.IsZero() {
				if f.leaf.ptr {
					fv = fv.Elem()
				}
				checkLeaf(f, fv, path+"/"+elemName(f, cur), errs)
			}
		case kindLeafList:
			if !o.skipTypes {
				for i := range fv.Len() {
					checkLeaf(f, fv.Index(i), path+"/"+elemName(f, cur), errs)
				}
			}
		case kindContainer:
			if !fv.IsNil() {
				c.mandatory(f.child, fv.Elem(), path+"/"+elemName(f, cur), f.module, o, errs)
			}
		case kindList:
			keys := fv.MapKeys()
			sortKeys(keys)
			for _, k := range keys {
				e := fv.MapIndex(k).Elem()
				ep := path + "/" + elemName(f, cur) + keyPredicates(f, e)
				if !o.skipTypes && !keyMatches(f, k, e) {
					*errs = append(*errs, &Error{Path: ep, Err: fmt.Errorf("%w: list entry stored under key %v, its key leaves say otherwise", ErrInvalidValue, k.Interface())})
				}
				c.mandatory(f.child, e, ep, f.module, o, errs)
			}
		}
	}
}

// keyMatches checks that a list entry's key leaves equal its map key.
func keyMatches(f *fieldPlan, key, entry reflect.Value) bool {
	val := func(k *fieldPlan) reflect.Value {
		kv := entry.Field(k.index)
		if k.leaf.ptr {
			if kv.IsNil() {
				return reflect.Value{}
			}
			return kv.Elem()
		}
		return kv
	}
	if len(f.child.keys) == 1 {
		v := val(f.child.keys[0])
		return v.IsValid() && v.Equal(key)
	}
	for i, k := range f.child.keys {
		v := val(k)
		if !v.IsValid() || !v.Equal(key.Field(f.keyIndex[i])) {
			return false
		}
	}
	return true
}

func elemName(f *fieldPlan, cur *Module) string {
	if f.module != cur {
		return f.module.Name + ":" + f.name
	}
	return f.name
}

func keyPredicates(f *fieldPlan, entry reflect.Value) string {
	var b strings.Builder
	for _, k := range f.child.keys {
		kv := entry.Field(k.index)
		if kv.IsZero() {
			continue
		}
		if k.leaf.ptr {
			kv = kv.Elem()
		}
		text, _, err := k.leaf.encode(kv)
		if err != nil {
			text = fmt.Sprint(kv.Interface())
		}
		fmt.Fprintf(&b, "[%s=%s]", k.name, quoteXPath(text))
	}
	return b.String()
}
