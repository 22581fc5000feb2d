package mapping

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/pkg/flow"
)

// IDHash32 is the "id-hash32" key generator: the first 32 bits of SHA-256
// of the session id, 0 moved to 1 (as plugins/ietfnat.IndexFor(id, 0)).
func IDHash32(id string) uint32 {
	h := sha256.Sum256([]byte(id))
	if i := binary.BigEndian.Uint32(h[:4]); i != 0 {
		return i
	}
	return 1
}

// wnode is a vendor element being written.
type wnode struct {
	name string
	text string
	leaf bool
	kids []*wnode
}

func (n *wnode) at(path string) *wnode {
	cur := n
	for _, s := range strings.Split(path, "/") {
		i := slices.IndexFunc(cur.kids, func(k *wnode) bool { return k.name == s })
		if i < 0 {
			cur.kids = append(cur.kids, &wnode{name: s})
			i = len(cur.kids) - 1
		}
		cur = cur.kids[i]
	}
	return cur
}

// Encode writes sessions as the vendor's XML through a read-write mapping:
// the containers from the module's top node down to write.edit-config
// (enclosing lists with their parent-keys), then one entry per session,
// its keys first (RFC 7950 7.8.5). The output is <edit-config> content
// (without the <config> wrapper) and <get> data alike.
func (m *Mapping) Encode(w io.Writer, sessions iter.Seq[*flow.Session]) error {
	if !m.Writable() {
		return fmt.Errorf("mapping %s: %w", m.Name, ErrReadOnly)
	}
	bw := bufio.NewWriter(w)
	steps := schemaSteps(m.Write.EditConfig)
	ns := m.Vendor.Namespace
	for i, s := range steps[:len(steps)-1] {
		if i == 0 {
			fmt.Fprintf(bw, `<%s xmlns="%s">`, s, xmlEscape(ns))
		} else {
			fmt.Fprintf(bw, "<%s>", s)
		}
		for _, kv := range m.Write.ParentKeys {
			if list, key, ok := strings.Cut(kv.Key, "/"); ok && list == s {
				fmt.Fprintf(bw, "<%s>%s</%s>", key, xmlEscape(kv.Value), key)
			}
		}
	}
	entry := steps[len(steps)-1]
	for s := range sessions {
		n, err := m.entryNode(s)
		if err != nil {
			return err
		}
		n.name = entry
		if len(steps) == 1 {
			writeNode(bw, n, ns)
		} else {
			writeNode(bw, n, "")
		}
	}
	for i := len(steps) - 2; i >= 0; i-- {
		fmt.Fprintf(bw, "</%s>", steps[i])
	}
	return bw.Flush()
}

// entryNode builds one vendor entry from a session.
func (m *Mapping) entryNode(s *flow.Session) (*wnode, error) {
	id := s.GetId()
	if id == "" {
		return nil, fmt.Errorf("mapping %s: %w: session without id", m.Name, ErrConvert)
	}
	tree, err := ygot.ConstructIETFJSON(s, nil)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: session %s: %w", m.Name, id, err)
	}
	root := &wnode{}
	var keys []string
	for _, kv := range m.Write.Keys {
		keys = append(keys, kv.Key)
		var text string
		if kv.Value == "id-hash32" {
			text = strconv.FormatUint(uint64(IDHash32(id)), 10)
		} else if v, ok := lookup(tree, kv.Value); ok {
			text = fmt.Sprint(v)
		} else {
			return nil, fmt.Errorf("mapping %s: session %s: key %s: %s is not set", m.Name, id, kv.Key, kv.Value)
		}
		k := root.at(kv.Key)
		k.text, k.leaf = text, true
	}
	written := map[string]bool{}
	for _, f := range m.Fields {
		if !f.Writes() || written[f.Path] || slices.Contains(keys, f.Path) {
			continue
		}
		v, ok := lookup(tree, f.Target)
		if !ok {
			continue
		}
		text, err := f.vendorText(v)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: session %s: %s -> %s: %w", m.Name, id, f.Target, f.Path, err)
		}
		written[f.Path] = true
		n := root.at(f.Path)
		n.text, n.leaf = text, true
	}
	// keys first, in key order; the rest as the mapping lists them
	slices.SortStableFunc(root.kids, func(a, b *wnode) int {
		ia, ib := slices.Index(keys, a.name), slices.Index(keys, b.name)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return 0
	})
	return root, nil
}

// lookup finds a canonical value in an RFC 7951 JSON tree of a session.
func lookup(tree map[string]any, target string) (any, bool) {
	if name, ok := strings.CutPrefix(target, vendorParamPrefix); ok {
		list, _ := tree["vendor-parameter"].([]any)
		for _, e := range list {
			if p, ok := e.(map[string]any); ok && p["name"] == name {
				v, ok := p["value"]
				return v, ok
			}
		}
		return nil, false
	}
	var cur any = tree
	for _, s := range strings.Split(target, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[s]; !ok {
			if cur, ok = m["sami-flow-state:"+s]; !ok {
				return nil, false
			}
		}
	}
	if l, ok := cur.([]any); ok { // leaf-list: the first value
		if len(l) == 0 {
			return nil, false
		}
		cur = l[0]
	}
	return cur, true
}

// vendorText is the inverse of value: a canonical value as vendor text.
func (f *Field) vendorText(v any) (string, error) {
	text := fmt.Sprint(v)
	if len(f.Enum) > 0 {
		for _, e := range f.Enum {
			if e.Value == text {
				return e.Key, nil
			}
		}
		if f.Otherwise == "keep" || f.Otherwise == "number" {
			return text, nil
		}
		return "", fmt.Errorf("no vendor value for %q in the enum map", text)
	}
	if f.HostPrefix {
		a, err := netip.ParseAddr(text)
		if err != nil {
			return "", err
		}
		return netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	if f.Multiply > 1 || f.Divide > 1 || (f.Units != "" && f.Units != "s") {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(f.unscale(n), 10), nil
	}
	return text, nil
}

func writeNode(w *bufio.Writer, n *wnode, ns string) {
	w.WriteByte('<')
	w.WriteString(n.name)
	if ns != "" {
		fmt.Fprintf(w, ` xmlns="%s"`, xmlEscape(ns))
	}
	w.WriteByte('>')
	if n.leaf {
		w.WriteString(xmlEscape(n.text))
	}
	for _, k := range n.kids {
		writeNode(w, k, "")
	}
	w.WriteString("</")
	w.WriteString(n.name)
	w.WriteByte('>')
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
