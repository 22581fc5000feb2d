// Package yangschema loads YANG modules with goyang and answers the questions
// the codecs and the mapping validator ask of them: which modules exist, their
// namespaces, prefixes and revisions.
package yangschema

import (
	"errors"
	"fmt"
	"sort"

	"github.com/openconfig/goyang/pkg/yang"
)

// ErrLoad is returned (wrapped) when modules cannot be found or parsed.
var ErrLoad = errors.New("yangschema: cannot load modules")

// Module describes one YANG module.
type Module struct {
	Name      string
	Prefix    string
	Namespace string
	Revision  string
}

// Set is a set of parsed modules.
type Set struct {
	ms *yang.Modules
}

// Load parses the given module files (or names) using the search path.
func Load(files []string, path []string) (*Set, error) {
	ms := yang.NewModules()
	for _, p := range path {
		ms.AddPath(p)
	}
	for _, f := range files {
		if err := ms.Read(f); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrLoad, f, err)
		}
	}
	if errs := ms.Process(); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrLoad, errors.Join(errs...))
	}
	return &Set{ms: ms}, nil
}

// Modules lists every loaded module (not submodules), sorted by name.
func (s *Set) Modules() []Module {
	var out []Module
	seen := map[string]bool{}
	for _, m := range s.ms.Modules {
		if seen[m.Name] {
			continue
		}
		seen[m.Name] = true
		mod := Module{Name: m.Name}
		if m.Prefix != nil {
			mod.Prefix = m.Prefix.Name
		}
		if m.Namespace != nil {
			mod.Namespace = m.Namespace.Name
		}
		if r := m.Current(); r != "" {
			mod.Revision = r
		}
		out = append(out, mod)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Entry returns the schema tree of a loaded module.
func (s *Set) Entry(module string) (*yang.Entry, error) {
	m, err := s.ms.GetModule(module)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLoad, err)
	}
	return m, nil
}
