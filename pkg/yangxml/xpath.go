package yangxml

import "strings"

// XPath turns a data path as this package reports it (module names at
// module boundaries: /sami-flow-state:flow-state/sessions/session[id='x'])
// into an XPath with a prefix on every step and the namespace declarations
// those prefixes need, as NETCONF's <error-path> requires (RFC 6241 4.3).
// Steps of modules the codec does not know are left as they are.
func (c *Codec) XPath(path string) (string, map[string]string) {
	ns := map[string]string{}
	var b strings.Builder
	var cur *Module
	for _, step := range splitPath(path) {
		name, preds := step, ""
		if i := strings.IndexByte(step, '['); i >= 0 {
			name, preds = step[:i], step[i:]
		}
		if mod, local, ok := strings.Cut(name, ":"); ok {
			cur = c.mods[mod]
			if cur == nil {
				b.WriteString("/" + step)
				continue
			}
			name = local
		}
		if cur == nil {
			b.WriteString("/" + step)
			continue
		}
		ns[cur.Prefix] = cur.Namespace
		b.WriteString("/" + cur.Prefix + ":" + name + prefixPredicates(preds, cur.Prefix))
	}
	return b.String(), ns
}

// splitPath splits at '/' outside of quoted predicate values.
func splitPath(p string) []string {
	var out []string
	var quote byte
	start := -1
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '/':
			if start >= 0 {
				out = append(out, p[start:i])
			}
			start = i + 1
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 && start < len(p) {
		out = append(out, p[start:])
	}
	return out
}

// prefixPredicates prefixes the key names of [k='v'] predicates.
func prefixPredicates(preds, prefix string) string {
	if preds == "" {
		return ""
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(preds); i++ {
		ch := preds[i]
		b.WriteByte(ch)
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '[':
			b.WriteString(prefix + ":")
		}
	}
	return b.String()
}
