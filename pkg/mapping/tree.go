package mapping

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Node is one vendor element: a list entry captured from the input (so
// memory is bounded by one entry), or a JSON object member.
type Node struct {
	Name  string // local name
	Space string // XML namespace, or "module:NAME" for JSON
	Text  string
	Line  int
	Kids  []*Node
}

// child returns the first child named name.
func (n *Node) child(name string) *Node {
	for _, k := range n.Kids {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// find follows a relative path of child names.
func (n *Node) find(p string) *Node {
	for _, step := range strings.Split(p, "/") {
		if n = n.child(step); n == nil {
			return nil
		}
	}
	return n
}

// Limits on what one entry may hold: a hostile or broken device must not
// make the converter build an unbounded tree.
const (
	maxEntryNodes = 1 << 14
	maxDepth      = 64
)

// envelope elements looked through at the top of a document.
var envelope = []string{"rpc-reply", "data", "output"}

// matcher finds list entries in a document by their element path.
type matcher struct {
	m    *Mapping
	path []string // data path of the list
	wrap []string
}

func newMatcher(m *Mapping) *matcher {
	return &matcher{m: m, path: m.dataPath(), wrap: m.Read.Wrappers}
}

// accepts reports whether the top element of the data is in an accepted
// namespace: the module's, a device namespace (glob), or in JSON one of
// the mapping's modules.
func (mt *matcher) accepts(space string) bool {
	if mod, ok := strings.CutPrefix(space, "module:"); ok {
		return mod == "" || slices.ContainsFunc(mt.m.Vendor.Modules, func(x Module) bool { return x.Name == mod })
	}
	if space == mt.m.Vendor.Namespace {
		return true
	}
	for _, g := range mt.m.Vendor.DeviceNamespaces {
		if ok, _ := path.Match(g, space); ok {
			return true
		}
	}
	return false
}

func (mt *matcher) nsError(name, space string, line int) error {
	want := append([]string{mt.m.Vendor.Namespace}, mt.m.Vendor.DeviceNamespaces...)
	where := ""
	if line > 0 {
		where = fmt.Sprintf(" (input line %d)", line)
	}
	return fmt.Errorf("%w: <%s> is in namespace %q%s; mapping %s accepts %s (vendor.namespace, vendor.device-namespaces at line %d)",
		ErrNamespace, name, space, where, mt.m.Name, strings.Join(want, ", "), mt.m.Vendor.NamespaceLine)
}

// streamXML hands every list entry of the document to fn.
func (mt *matcher) streamXML(ctx context.Context, r io.Reader, fn func(*Node) error) error {
	dec := xml.NewDecoder(r)
	var stack []string // logical path (envelope and wrappers left out)
	var kinds []int    // per open element: 0 logical, 1 looked through
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		tok, err := dec.Token()
		if err == io.EOF {
			if len(kinds) > 0 {
				return fmt.Errorf("%w: unexpected end of input", ErrConvert)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrConvert, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(kinds) >= maxDepth {
				return fmt.Errorf("%w: elements nested deeper than %d", ErrConvert, maxDepth)
			}
			if (len(stack) == 0 && slices.Contains(envelope, name)) || slices.Contains(mt.wrap, name) {
				kinds = append(kinds, 1)
				continue
			}
			depth := len(stack)
			if depth >= len(mt.path) || mt.path[depth] != name {
				if err := dec.Skip(); err != nil {
					return fmt.Errorf("%w: %v", ErrConvert, err)
				}
				continue
			}
			if depth == 0 && !mt.accepts(t.Name.Space) {
				line, _ := dec.InputPos()
				return mt.nsError(name, t.Name.Space, line)
			}
			if depth == len(mt.path)-1 {
				line, _ := dec.InputPos()
				n, err := capture(dec, t, line)
				if err != nil {
					return err
				}
				if err := fn(n); err != nil {
					return err
				}
				continue
			}
			stack = append(stack, name)
			kinds = append(kinds, 0)
		case xml.EndElement:
			if len(kinds) == 0 {
				return fmt.Errorf("%w: unexpected </%s>", ErrConvert, t.Name.Local)
			}
			if kinds[len(kinds)-1] == 0 {
				stack = stack[:len(stack)-1]
			}
			kinds = kinds[:len(kinds)-1]
		}
	}
}

// capture reads the element started by start into a Node tree.
func capture(dec *xml.Decoder, start xml.StartElement, line int) (*Node, error) {
	root := &Node{Name: start.Name.Local, Space: start.Name.Space, Line: line}
	stack := []*Node{root}
	text := [][]byte{nil} // text of each open element
	count := 1
	for {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w: in <%s> at input line %d: %v", ErrConvert, root.Name, line, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if count++; count > maxEntryNodes || len(stack) >= maxDepth {
				return nil, fmt.Errorf("%w: entry <%s> at input line %d is too large", ErrConvert, root.Name, line)
			}
			l, _ := dec.InputPos()
			n := &Node{Name: t.Name.Local, Space: t.Name.Space, Line: l}
			top := stack[len(stack)-1]
			top.Kids = append(top.Kids, n)
			stack = append(stack, n)
			text = append(text, nil)
		case xml.CharData:
			tb := &text[len(text)-1]
			if len(*tb)+len(t) > 1<<16 {
				return nil, fmt.Errorf("%w: text in <%s> at input line %d is too long", ErrConvert, stack[len(stack)-1].Name, line)
			}
			*tb = append(*tb, t...)
		case xml.EndElement:
			n := stack[len(stack)-1]
			if len(n.Kids) == 0 {
				n.Text = string(text[len(text)-1])
			}
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
			if len(stack) == 0 {
				return root, nil
			}
		}
	}
}

// maxJSON bounds a JSON document (samples; devices are read in XML).
const maxJSON = 64 << 20

// streamJSON hands every list entry of an RFC 7951 JSON document (or a
// Junos JSON reply, where leaves are [{"data": "..."}]) to fn.
func (mt *matcher) streamJSON(ctx context.Context, r io.Reader, fn func(*Node) error) error {
	b, err := io.ReadAll(io.LimitReader(r, maxJSON+1))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConvert, err)
	}
	if len(b) > maxJSON {
		return fmt.Errorf("%w: JSON document larger than %d bytes", ErrConvert, maxJSON)
	}
	var v any
	jd := json.NewDecoder(bytes.NewReader(b))
	jd.UseNumber()
	if err := jd.Decode(&v); err != nil {
		return fmt.Errorf("%w: %v", ErrConvert, err)
	}
	budget := maxEntryNodes * 64
	roots, err := jsonNodes("", v, "", 0, &budget)
	if err != nil {
		return err
	}
	var walk func(n *Node, depth int) error
	walk = func(n *Node, depth int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if (depth == 0 && slices.Contains(envelope, n.Name)) || slices.Contains(mt.wrap, n.Name) || n.Name == "" {
			for _, k := range n.Kids {
				if err := walk(k, depth); err != nil {
					return err
				}
			}
			return nil
		}
		if depth >= len(mt.path) || mt.path[depth] != n.Name {
			return nil
		}
		// Junos JSON names no module at all: only a named one is checked
		if depth == 0 && n.Space != "" && !mt.accepts(n.Space) {
			return mt.nsError(n.Name, n.Space, 0)
		}
		if depth == len(mt.path)-1 {
			return fn(n)
		}
		for _, k := range n.Kids {
			if err := walk(k, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range roots {
		if err := walk(n, 0); err != nil {
			return err
		}
	}
	return nil
}

var errJSONBudget = errors.New("JSON document has too many nodes")

// jsonNodes turns a JSON member into nodes: an array gives one node per
// element; "mod:name" keys put the module in Space (inherited below).
func jsonNodes(key string, v any, space string, depth int, budget *int) ([]*Node, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("%w: %w", ErrConvert, errJSONBudget)
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: JSON nested deeper than %d", ErrConvert, maxDepth)
	}
	name := key
	if i := strings.IndexByte(key, ':'); i >= 0 {
		space, name = "module:"+key[:i], key[i+1:]
	}
	if name == "attributes" || strings.HasPrefix(name, "@") {
		return nil, nil // Junos attributes, RFC 7951 metadata
	}
	switch x := v.(type) {
	case []any:
		if text, ok := junosLeaf(x); ok {
			return []*Node{{Name: name, Space: space, Text: text}}, nil
		}
		var out []*Node
		for _, e := range x {
			ns, err := jsonNodes(key, e, space, depth+1, budget)
			if err != nil {
				return nil, err
			}
			out = append(out, ns...)
		}
		return out, nil
	case map[string]any:
		n := &Node{Name: name, Space: space}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			kids, err := jsonNodes(k, x[k], space, depth+1, budget)
			if err != nil {
				return nil, err
			}
			n.Kids = append(n.Kids, kids...)
		}
		return []*Node{n}, nil
	case string:
		return []*Node{{Name: name, Space: space, Text: x}}, nil
	case json.Number:
		return []*Node{{Name: name, Space: space, Text: x.String()}}, nil
	case bool:
		return []*Node{{Name: name, Space: space, Text: fmt.Sprint(x)}}, nil
	case nil:
		return []*Node{{Name: name, Space: space}}, nil // [null]: empty leaf
	}
	return nil, fmt.Errorf("%w: unexpected JSON value for %s", ErrConvert, key)
}

// junosLeaf recognises Junos JSON leaves: [{"data": "value", ...}].
func junosLeaf(x []any) (string, bool) {
	if len(x) != 1 {
		return "", false
	}
	o, ok := x[0].(map[string]any)
	if !ok {
		return "", false
	}
	d, ok := o["data"]
	if !ok {
		return "", false
	}
	for k := range o {
		if k != "data" && k != "attributes" {
			return "", false
		}
	}
	s, ok := d.(string)
	return s, ok
}
