package gnmiserver

import (
	"slices"
	"strings"

	gpb "github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/util"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// isModelOrigin reports whether origin names one of the served models (and
// can be dropped: the tree has a single namespace of top-level nodes).
func (s *Server) isModelOrigin(origin string) bool {
	if origin == "" {
		return true
	}
	for _, m := range s.models {
		if m.GetName() == origin {
			return true
		}
	}
	return false
}

// resolve joins prefix and path into one path from the root without target
// or origin, strips module prefixes from element names, and checks it
// against the schema. It returns the schema entry of the last element (the
// root entry for an empty path). Elements named "*" or "..." stop the schema
// check (entry is nil then). Errors are gRPC statuses: NotFound for another
// target, InvalidArgument for paths outside the schema.
func (s *Server) resolve(prefix, p *gpb.Path) (*gpb.Path, *yang.Entry, error) {
	if t := prefix.GetTarget(); t != "" && t != s.target {
		return nil, nil, status.Errorf(codes.NotFound, "unknown target %q (this is %q)", t, s.target)
	}
	if p.GetTarget() != "" {
		return nil, nil, status.Errorf(codes.InvalidArgument, "target is only allowed in the prefix")
	}
	for _, o := range []string{prefix.GetOrigin(), p.GetOrigin()} {
		if !s.isModelOrigin(o) {
			return nil, nil, status.Errorf(codes.InvalidArgument, "unsupported origin %q", o)
		}
	}
	//lint:ignore SA1019 the deprecated element field is detected only to reject it
	if len(prefix.GetElement()) > 0 && len(prefix.GetElem()) == 0 || len(p.GetElement()) > 0 && len(p.GetElem()) == 0 {
		return nil, nil, status.Errorf(codes.InvalidArgument, "path uses the deprecated element field; use elem")
	}
	out := &gpb.Path{}
	for _, e := range slices.Concat(prefix.GetElem(), p.GetElem()) {
		ne := proto.Clone(e).(*gpb.PathElem)
		if i := strings.IndexByte(ne.Name, ':'); i >= 0 {
			if !s.isModelOrigin(ne.Name[:i]) || i == 0 {
				return nil, nil, status.Errorf(codes.InvalidArgument, "unknown module in path element %q", ne.Name)
			}
			ne.Name = ne.Name[i+1:]
		}
		out.Elem = append(out.Elem, ne)
	}
	entry := s.schema.RootSchema()
	for i, e := range out.Elem {
		if e.Name == "*" || e.Name == "..." {
			return out, nil, nil
		}
		if e.Name == "" {
			return nil, nil, status.Errorf(codes.InvalidArgument, "empty element name at position %d", i)
		}
		child := findChild(entry, e.Name)
		if child == nil {
			return nil, nil, status.Errorf(codes.InvalidArgument, "path %s: no schema node %q under %q", pathString(out), e.Name, entry.Path())
		}
		if len(e.Key) > 0 {
			if !child.IsList() {
				return nil, nil, status.Errorf(codes.InvalidArgument, "path %s: %q is not a list but has keys", pathString(out), e.Name)
			}
			keys := strings.Fields(child.Key)
			for k := range e.Key {
				if !slices.Contains(keys, k) {
					return nil, nil, status.Errorf(codes.InvalidArgument, "path %s: %q is not a key of list %q (keys: %s)", pathString(out), k, e.Name, child.Key)
				}
			}
		}
		entry = child
	}
	return out, entry, nil
}

// findChild finds the data node name under e, looking through choice and
// case nodes.
func findChild(e *yang.Entry, name string) *yang.Entry {
	if e == nil {
		return nil
	}
	if c, ok := e.Dir[name]; ok && !c.IsChoice() && !c.IsCase() {
		return c
	}
	for _, c := range e.Dir {
		if c.IsChoice() || c.IsCase() {
			if f := findChild(c, name); f != nil {
				return f
			}
		}
	}
	return nil
}

// pathString renders p like /a/b[k=v] for messages.
func pathString(p *gpb.Path) string {
	var b strings.Builder
	for _, e := range p.GetElem() {
		b.WriteByte('/')
		b.WriteString(e.GetName())
		keys := make([]string, 0, len(e.GetKey()))
		for k := range e.GetKey() {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b.WriteString("[" + k + "=" + e.GetKey()[k] + "]")
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// isConfig reports whether e is configuration (config true, inherited).
func isConfig(e *yang.Entry) bool { return util.IsConfig(e) }

// filterJSON keeps, in the RFC 7951 object m of schema node e, the nodes
// that are configuration (wantConfig) or state (!wantConfig). State keeps
// the keys of the list entries it keeps. Empty containers are dropped except
// presence-like ones that were empty to start with under CONFIG.
func filterJSON(m map[string]any, e *yang.Entry, wantConfig bool) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		name := k
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		c := findChild(e, name)
		if c == nil {
			continue
		}
		switch {
		case c.IsList():
			arr, _ := v.([]any)
			var kept []any
			for _, el := range arr {
				em, ok := el.(map[string]any)
				if !ok {
					continue
				}
				if f := filterListEntry(em, c, wantConfig); f != nil {
					kept = append(kept, f)
				}
			}
			if len(kept) > 0 {
				out[k] = kept
			}
		case c.IsContainer():
			sub, ok := v.(map[string]any)
			if !ok {
				continue
			}
			f := filterJSON(sub, c, wantConfig)
			if len(f) > 0 || (wantConfig && len(sub) == 0 && isConfig(c)) {
				out[k] = f
			}
		default:
			if isConfig(c) == wantConfig {
				out[k] = v
			}
		}
	}
	return out
}

// filterListEntry filters one list entry of list e; nil means drop it.
func filterListEntry(m map[string]any, e *yang.Entry, wantConfig bool) map[string]any {
	f := filterJSON(m, e, wantConfig)
	if len(f) == 0 {
		return nil
	}
	if !wantConfig {
		for _, key := range strings.Fields(e.Key) {
			for k, v := range m {
				if k == key || strings.HasSuffix(k, ":"+key) {
					f[k] = v
				}
			}
		}
	}
	return f
}
