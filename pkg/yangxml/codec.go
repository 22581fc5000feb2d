package yangxml

import (
	"fmt"
	"reflect"

	"github.com/openconfig/ygot/ytypes"
)

// Codec converts between XML and the generated structs of one schema. It is
// immutable after New and safe for concurrent use.
type Codec struct {
	root     *nodePlan
	rootType reflect.Type
	mods     map[string]*Module // by module name
	byNS     map[string]*Module // by namespace URI
}

// New compiles a codec for a ygot-generated schema (the generated package's
// Schema()) and the namespaces of its modules.
func New(schema *ytypes.Schema, modules []Module) (*Codec, error) {
	c := &Codec{mods: map[string]*Module{}, byNS: map[string]*Module{}}
	for i := range modules {
		m := modules[i]
		if m.Name == "" || m.Namespace == "" || m.Prefix == "" {
			return nil, &Error{Err: fmt.Errorf("%w: module %+v needs a name, prefix and namespace", ErrUnsupported, m)}
		}
		if _, dup := c.byNS[m.Namespace]; dup {
			return nil, &Error{Err: fmt.Errorf("%w: namespace %q given twice", ErrNamespace, m.Namespace)}
		}
		c.mods[m.Name] = &m
		c.byNS[m.Namespace] = &m
	}
	if err := c.compileRoot(schema); err != nil {
		return nil, err
	}
	return c, nil
}

// Modules returns the modules the codec knows.
func (c *Codec) Modules() []Module {
	out := make([]Module, 0, len(c.mods))
	for _, m := range c.mods {
		out = append(out, *m)
	}
	return out
}
