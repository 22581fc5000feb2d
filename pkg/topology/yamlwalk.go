package topology

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sami-netops/sami/pkg/didyoumean"
	"go.yaml.in/yaml/v3"
)

// walker reads a yaml.Node tree field by field, so every error names the
// file line and the field path (yaml.v3's KnownFields errors name Go types
// instead, and stop at the first problem).
type walker struct {
	file   string
	errs   []*FieldError
	budget int // node visits left: aliases must not expand without bound
	// suggested are the fields an unknown key was taken for ("did you
	// mean"): their absence is not reported again as missing.
	suggested map[string]bool
}

const (
	maxErrors    = 50
	maxNodeVisit = 1 << 20
)

func (w *walker) errorf(n *yaml.Node, field string, sentinel error, format string, args ...any) {
	if len(w.errs) >= maxErrors {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	w.errs = append(w.errs, &FieldError{File: w.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...), Err: sentinel})
}

// resolve follows an alias and charges the visit budget.
func (w *walker) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	w.budget--
	return n
}

func (w *walker) exhausted() bool { return w.budget <= 0 }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// field is one value of a mapping, with the key node for its line.
type field struct {
	key, val *yaml.Node
}

// fields reads mapping n (at path) and returns its values by key. Keys not
// in known are errors, with a suggestion when one is close. It returns nil
// when n is not a mapping (reported).
func (w *walker) fields(n *yaml.Node, path string, known ...string) map[string]field {
	n = w.resolve(n)
	out := map[string]field{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		w.errorf(n, path, nil, "expected a mapping, got %s", kindName(n))
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := w.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.errorf(k, path, nil, "a key must be a name, got %s", kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			w.errorf(k, path, nil, "merge keys (<<) are not supported; use defaults or repeat the fields")
			continue
		}
		if !slices.Contains(known, k.Value) {
			msg := fmt.Sprintf("unknown field %q", k.Value)
			if s := suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
				if w.suggested == nil {
					w.suggested = map[string]bool{}
				}
				w.suggested[join(path, s)] = true
			}
			w.errorf(k, path, nil, "%s", msg)
			continue
		}
		if prev, dup := out[k.Value]; dup {
			w.errorf(k, join(path, k.Value), nil, "given twice (first on line %d)", prev.key.Line)
			continue
		}
		out[k.Value] = field{key: k, val: v}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// str reads a scalar string field ("" when absent or null).
func (w *walker) str(m map[string]field, key, path string) string {
	f, ok := m[key]
	if !ok {
		return ""
	}
	v := w.resolve(f.val)
	if isNull(v) {
		return ""
	}
	if v.Kind != yaml.ScalarNode {
		w.errorf(v, join(path, key), nil, "expected a string, got %s", kindName(v))
		return ""
	}
	return strings.TrimSpace(v.Value)
}

// missing reports a required field that is absent or null (a field given
// with the wrong type is reported by its reader, a misspelt one by fields).
func (w *walker) missing(m map[string]field, key string, n *yaml.Node, path string, extra string) {
	p := join(path, key)
	if f, ok := m[key]; (ok && !isNull(w.resolve(f.val))) || w.suggested[p] {
		return
	}
	w.errorf(n, p, nil, "missing%s", extra)
}

// line is the line of a field's value, or of fallback when absent.
func line(m map[string]field, key string, fallback *yaml.Node) *yaml.Node {
	if f, ok := m[key]; ok {
		return f.val
	}
	return fallback
}

func (w *walker) boolean(m map[string]field, key, path string) bool {
	f, ok := m[key]
	if !ok {
		return false
	}
	v := w.resolve(f.val)
	if isNull(v) {
		return false
	}
	var b bool
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&b) != nil {
		w.errorf(v, join(path, key), nil, "expected true or false, got %s", kindName(v))
		return false
	}
	return b
}

func (w *walker) duration(m map[string]field, key, path string) time.Duration {
	s := w.str(m, key, path)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		w.errorf(m[key].val, join(path, key), nil, "%q is not a positive duration (e.g. 30s)", s)
		return 0
	}
	return d
}

// strList reads a list of strings; a single string is a list of one.
func (w *walker) strList(m map[string]field, key, path string) ([]string, []*yaml.Node) {
	f, ok := m[key]
	if !ok {
		return nil, nil
	}
	v := w.resolve(f.val)
	switch {
	case isNull(v):
		return nil, nil
	case v.Kind == yaml.ScalarNode:
		return []string{strings.TrimSpace(v.Value)}, []*yaml.Node{v}
	case v.Kind != yaml.SequenceNode:
		w.errorf(v, join(path, key), nil, "expected a list of names, got %s", kindName(v))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for i, item := range v.Content {
		item = w.resolve(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			w.errorf(item, fmt.Sprintf("%s[%d]", join(path, key), i), nil, "expected a string, got %s", kindName(item))
			continue
		}
		out = append(out, strings.TrimSpace(item.Value))
		nodes = append(nodes, item)
	}
	return out, nodes
}

// strMap reads a mapping of scalars (driver options).
func (w *walker) strMap(m map[string]field, key, path string) map[string]string {
	f, ok := m[key]
	if !ok {
		return nil
	}
	v := w.resolve(f.val)
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		w.errorf(v, join(path, key), nil, "expected a mapping of names to values, got %s", kindName(v))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := w.resolve(v.Content[i]), w.resolve(v.Content[i+1])
		p := join(path, key)
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			w.errorf(k, p, nil, "an option name must be a non-empty string, got %s", kindName(k))
			continue
		}
		if _, dup := out[k.Value]; dup {
			w.errorf(k, join(p, k.Value), nil, "given twice")
			continue
		}
		if val.Kind != yaml.ScalarNode {
			w.errorf(val, join(p, k.Value), nil, "expected a value, got %s", kindName(val))
			continue
		}
		out[k.Value] = val.Value
	}
	return out
}

// seq reads a list of items; each gets its path ("devices[2]").
func (w *walker) seq(m map[string]field, key string) ([]*yaml.Node, []string) {
	f, ok := m[key]
	if !ok {
		return nil, nil
	}
	v := w.resolve(f.val)
	if isNull(v) {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		w.errorf(v, key, nil, "expected a list, got %s", kindName(v))
		return nil, nil
	}
	paths := make([]string, len(v.Content))
	items := make([]*yaml.Node, len(v.Content))
	for i, item := range v.Content {
		paths[i] = fmt.Sprintf("%s[%d]", key, i)
		items[i] = w.resolve(item)
	}
	return items, paths
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`)

// ValidName reports whether s can name a device, location or domain
// (letters, digits, '.', '_', '-'; starting with a letter or digit; at
// most 253), and why not.
func ValidName(s string) error {
	if why := checkName(s); why != "" {
		return errors.New(why)
	}
	return nil
}

// checkName reports why s is not a usable device, location or domain name.
func checkName(s string) string {
	if s == "" {
		return "missing"
	}
	if !nameRe.MatchString(s) {
		return fmt.Sprintf("%q is not a name (letters, digits, '.', '_', '-'; starting with a letter or digit; at most 253)", s)
	}
	return ""
}

// checkAddress reports why s is not host:port.
func checkAddress(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (%v)", s, addrErr(err))
	}
	if host == "" {
		return fmt.Sprintf("%q has no host", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Sprintf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return ""
}

func addrErr(err error) string {
	if ae, ok := err.(*net.AddrError); ok {
		return ae.Err
	}
	return err.Error()
}

// suggest returns the known name closest to s, if it is close enough to be
// a typo.
func suggest(s string, known []string) string { return didyoumean.Closest(s, known, 2) }

func sortErrors(errs []*FieldError) {
	slices.SortStableFunc(errs, func(a, b *FieldError) int { return cmp.Compare(a.Line, b.Line) })
}
