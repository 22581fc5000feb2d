package netconf

import (
	"net/url"
	"sort"
	"strings"
)

// Capability URIs (RFC 6241 section 8, RFC 6243, RFC 6242).
const (
	CapBase10           = "urn:ietf:params:netconf:base:1.0"
	CapBase11           = "urn:ietf:params:netconf:base:1.1"
	CapWritableRunning  = "urn:ietf:params:netconf:capability:writable-running:1.0"
	CapCandidate        = "urn:ietf:params:netconf:capability:candidate:1.0"
	CapConfirmedCommit  = "urn:ietf:params:netconf:capability:confirmed-commit:1.0"
	CapConfirmedCommit1 = "urn:ietf:params:netconf:capability:confirmed-commit:1.1"
	CapRollbackOnError  = "urn:ietf:params:netconf:capability:rollback-on-error:1.0"
	CapValidate10       = "urn:ietf:params:netconf:capability:validate:1.0"
	CapValidate11       = "urn:ietf:params:netconf:capability:validate:1.1"
	CapStartup          = "urn:ietf:params:netconf:capability:startup:1.0"
	CapXPath            = "urn:ietf:params:netconf:capability:xpath:1.0"
	CapWithDefaults     = "urn:ietf:params:netconf:capability:with-defaults:1.0"
)

// ModuleCap is a YANG module announced in a capability URI
// (`namespace?module=NAME&revision=DATE&features=a,b&deviations=x`).
type ModuleCap struct {
	Namespace  string
	Name       string
	Revision   string
	Features   []string
	Deviations []string
}

// Capabilities is a parsed set of capability URIs.
type Capabilities struct {
	uris    map[string]string // URI without query -> full URI
	modules map[string]ModuleCap
}

// ParseCapabilities parses the <capability> values of a hello.
func ParseCapabilities(uris []string) *Capabilities {
	c := &Capabilities{uris: map[string]string{}, modules: map[string]ModuleCap{}}
	for _, raw := range uris {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		base, query, _ := strings.Cut(raw, "?")
		c.uris[base] = raw
		if query == "" {
			continue
		}
		q, err := url.ParseQuery(query)
		if err != nil || q.Get("module") == "" {
			continue
		}
		m := ModuleCap{Namespace: base, Name: q.Get("module"), Revision: q.Get("revision")}
		if f := q.Get("features"); f != "" {
			m.Features = strings.Split(f, ",")
		}
		if d := q.Get("deviations"); d != "" {
			m.Deviations = strings.Split(d, ",")
		}
		c.modules[m.Name] = m
	}
	return c
}

// Has reports whether the capability is present (query parameters ignored).
func (c *Capabilities) Has(uri string) bool {
	base, _, _ := strings.Cut(uri, "?")
	_, ok := c.uris[base]
	return ok
}

// Params returns the query parameters of a capability (e.g. with-defaults'
// basic-mode), or nil when absent.
func (c *Capabilities) Params(uri string) url.Values {
	full, ok := c.uris[uri]
	if !ok {
		return nil
	}
	_, q, _ := strings.Cut(full, "?")
	v, _ := url.ParseQuery(q)
	return v
}

// Module returns an announced YANG module by name.
func (c *Capabilities) Module(name string) (ModuleCap, bool) {
	m, ok := c.modules[name]
	return m, ok
}

// Modules lists the announced YANG modules, sorted by name.
func (c *Capabilities) Modules() []ModuleCap {
	out := make([]ModuleCap, 0, len(c.modules))
	for _, m := range c.modules {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// URIs lists every capability, sorted.
func (c *Capabilities) URIs() []string {
	out := make([]string, 0, len(c.uris))
	for _, u := range c.uris {
		out = append(out, u)
	}
	sortStrings(out)
	return out
}

// ConfirmedCommit11 reports :confirmed-commit:1.1 (persist, persist-id,
// cancel-commit).
func (c *Capabilities) ConfirmedCommit11() bool { return c.Has(CapConfirmedCommit1) }

func sortStrings(s []string) { sort.Strings(s) }
