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
	skipYgot   bool
}

// ConfigData validates a configuration datastore: config false nodes are
// not considered (they may not even be present).
func ConfigData() ValidateOption { return func(o *validateOpts) { o.configOnly = true } }

// SkipTypeChecks leaves out ygot's value validation (patterns, ranges,
// leafrefs) when the tree came from this codec's decoder, which already
// checked every value, and only the structural checks are needed.
func SkipTypeChecks() ValidateOption { return func(o *validateOpts) { o.skipYgot = true } }

// Validate checks a complete tree: every mandatory leaf present (ygot does
// not check mandatory), then ygot's own validation of values. All problems
// are returned, joined; each is an *Error with the node's data path.
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
	if !o.skipYgot {
		if v, ok := root.(ygot.ValidatedGoStruct); ok {
			if err := v.Validate(); err != nil {
				errs = append(errs, &Error{Err: fmt.Errorf("%w: %v", ErrInvalidValue, err)})
			}
		}
	}
	return errors.Join(errs...)
}

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
		if (o.configOnly && !f.config) || f.child == nil {
			continue
		}
		fv := v.Field(f.index)
		switch f.kind {
		case kindContainer:
			if !fv.IsNil() {
				c.mandatory(f.child, fv.Elem(), path+"/"+elemName(f, cur), f.module, o, errs)
			}
		case kindList:
			keys := fv.MapKeys()
			sortKeys(keys)
			for _, k := range keys {
				e := fv.MapIndex(k).Elem()
				c.mandatory(f.child, e, path+"/"+elemName(f, cur)+keyPredicates(f, e), f.module, o, errs)
			}
		}
	}
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
