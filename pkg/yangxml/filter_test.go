package yangxml_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	fs "github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// udp4Session is an IPv4 UDP flow in zone 0 (protocol 17 like udp6Session,
// which is in zone 3).
func udp4Session() *session {
	return &session{
		Id:            ygot.String("0/17/10.0.0.7/5000/192.0.2.53/53"),
		AddressFamily: fs.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(17),
		ZoneId:        ygot.Uint16(0),
		Original: &fs.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.0.0.7"), DestinationAddress: ygot.String("192.0.2.53"),
			SourcePort: ygot.Uint16(5000), DestinationPort: ygot.Uint16(53),
		},
		Status: []fs.E_SamiFlowState_FlowState_Sessions_Session_Status{fs.SamiFlowState_FlowState_Sessions_Session_Status_seen_reply},
	}
}

// filterDevice: two TCP sessions with SNAT, an FTP data (TCP) flow, UDP in
// zones 0 and 3, ICMP, SCTP with vendor parameters, and capabilities.
func filterDevice() *device {
	d := deviceWith(sampleSession(1), sampleSession(2), ftpData(), udp4Session(), udp6Session(), icmpSession(), sctpSession())
	d.FlowState.Capabilities = capabilities().FlowState.Capabilities
	return d
}

const (
	idTCP1 = "0/6/10.0.0.10/10001/192.0.2.80/443"
	idTCP2 = "0/6/10.0.0.10/10002/192.0.2.80/443"
	idFTP  = "0/6/10.0.0.10/20/192.0.2.21/40001"
	idUDP4 = "0/17/10.0.0.7/5000/192.0.2.53/53"
	idUDP6 = "3/17/2001:db8::1/5353/2001:db8:1::53/53"
	idICMP = "0/1/192.0.2.1/4711/192.0.2.2/8.0"
	idSCTP = "0/132/10.1.0.1/2905/10.2.0.1/2905"
)

func fs0(inner string) string { return `<flow-state xmlns="` + testNS + `">` + inner + `</flow-state>` }

func sess0(inner string) string { return fs0(`<sessions>` + inner + `</sessions>`) }

type filterCase struct {
	name   string
	filter string
	ns     map[string]string
	opts   []yangxml.EncodeOption
	// ids: the session ids the output must hold (nil: no sessions).
	ids []string
	// caps: the output has a capabilities container.
	caps bool
	// complete: only whole subtrees are selected, so the output is a
	// valid datastore (yanglint -t data); otherwise it is checked as a
	// <get> reply (yanglint -t get), which has no mandatory-node checks.
	complete bool
	ignored  int // len(Filter.Ignored())
}

func filterCases() []filterCase {
	allIDs := []string{idICMP, idSCTP, idFTP, idTCP1, idTCP2, idUDP4, idUDP6}
	sort.Strings(allIDs)
	return []filterCase{
		// RFC 6241 6.4.1: select the entire subtree.
		{name: "select-everything", filter: fs0(""), ids: allIDs, caps: true, complete: true},
		// 6.4.2: an empty filter selects nothing.
		{name: "empty-filter", filter: "", complete: true},
		{name: "empty-filter-element", filter: `<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" type="subtree"/>`, complete: true},
		{name: "whole-sessions", filter: fs0(`<sessions/>`), ids: allIDs, complete: true},
		// 6.4.3/6.4.4: containment and selection nodes.
		{name: "containment-selection", filter: fs0(`<capabilities><vendor/><max-sessions/><features/></capabilities>`), caps: true},
		// 6.4.5: one entry by its key: the whole entry.
		{name: "content-match-key", filter: sess0(`<session><id>` + idUDP6 + `</id></session>`), ids: []string{idUDP6}, complete: true},
		{name: "content-match-key-absent", filter: sess0(`<session><id>0/6/1.1.1.1/1/2.2.2.2/2</id></session>`)},
		// Content match on a non-key leaf selects several entries.
		{name: "content-match-protocol", filter: sess0(`<session><protocol>17</protocol></session>`), ids: []string{idUDP4, idUDP6}, complete: true},
		// Values compare as values of the leaf's type: "06" is 6.
		{name: "content-match-canonical", filter: sess0(`<session><protocol>06</protocol></session>`), ids: []string{idFTP, idTCP1, idTCP2}, complete: true},
		// Several content matches are a conjunction.
		{name: "content-match-protocol-zone", filter: sess0(`<session><protocol>17</protocol><zone-id>3</zone-id></session>`), ids: []string{idUDP6}, complete: true},
		// 6.4.7: content match plus selection nodes: only those, with keys.
		{name: "content-match-selection", filter: sess0(`<session><protocol>6</protocol><tcp><state/></tcp></session>`), ids: []string{idFTP, idTCP1, idTCP2}},
		{name: "key-selection-nested", filter: sess0(`<session><id>` + idTCP1 + `</id><nat><source><external-src-address/></source></nat><timers/></session>`), ids: []string{idTCP1}},
		// A containment node below the entry with only content matches
		// selects its whole container, and the entry gets its keys.
		{name: "nested-content-match", filter: sess0(`<session><original><destination-port>53</destination-port></original></session>`), ids: []string{idUDP4, idUDP6}},
		// 6.4.8: several entries by key (alternatives are ORed).
		{name: "two-entries-by-key", filter: sess0(`<session><id>` + idSCTP + `</id></session><session><id>` + idICMP + `</id></session>`), ids: []string{idICMP, idSCTP}, complete: true},
		// Alternatives selecting different parts of one entry are merged.
		{name: "alternatives-merge", filter: sess0(`<session><id>` + idTCP2 + `</id><tcp/></session><session><id>` + idTCP2 + `</id><nat/></session>`), ids: []string{idTCP2}},
		{name: "alternatives-key-and-scan", filter: sess0(`<session><id>` + idICMP + `</id></session><session><protocol>132</protocol></session>`), ids: []string{idICMP, idSCTP}, complete: true},
		// A list with two keys, looked up by both.
		{name: "multi-key-list", filter: sess0(`<session><id>` + idSCTP + `</id><vendor-parameter><vendor>acme</vendor><name>fpc</name></vendor-parameter></session>`), ids: []string{idSCTP}},
		{name: "multi-key-partial", filter: sess0(`<session><vendor-parameter><name>ha-group</name><value/></vendor-parameter></session>`), ids: []string{idSCTP}},
		// Leaf-list content match: only the matching values.
		{name: "leaf-list-match", filter: sess0(`<session><status>assured</status></session>`), ids: []string{idTCP1, idTCP2}, complete: true},
		{name: "leaf-list-match-with-selection", filter: sess0(`<session><status>seen-reply</status><status/><protocol/></session>`), ids: []string{idTCP1, idTCP2, idUDP4}},
		// Identityref content match, prefix resolved through the filter's namespaces.
		{name: "identityref-match", filter: fs0(`<capabilities xmlns:f="` + testNS + `"><features>f:zones</features><vendor/></capabilities>`), caps: true},
		{name: "identityref-other-prefix", filter: `<x:flow-state xmlns:x="` + testNS + `"><x:capabilities><x:features>x:nat</x:features></x:capabilities></x:flow-state>`, caps: true, complete: true},
		{name: "union-match", filter: fs0(`<capabilities><max-sessions>unlimited</max-sessions></capabilities>`), caps: true, complete: true},
		{name: "union-no-match", filter: fs0(`<capabilities><max-sessions>0100</max-sessions></capabilities>`)},
		{name: "identityref-no-match", filter: fs0(`<capabilities xmlns:f="` + testNS + `"><features>f:labels</features></capabilities>`)},
		// IP addresses compare as addresses.
		{name: "ip-address-match", filter: sess0(`<session><original><source-address>2001:DB8:0::1</source-address></original></session>`), ids: []string{idUDP6}},
		// The content match restricts only its own container: the protocol
		// selection node selects it in every entry.
		{name: "nested-match-and-selection", filter: sess0(`<session><original><source-address>2001:DB8:0::1</source-address></original><protocol/></session>`), ids: allIDs},
		// Prefixes declared outside the filter (on <filter> or <rpc>).
		{name: "inherited-namespaces", filter: `<sfs:flow-state><sfs:sessions><sfs:session><sfs:id>` + idICMP + `</sfs:id></sfs:session></sfs:sessions></sfs:flow-state>`, ns: map[string]string{"sfs": testNS}, ids: []string{idICMP}, complete: true},
		{name: "inherited-default-namespace", filter: `<flow-state><capabilities/></flow-state>`, ns: map[string]string{"": testNS}, caps: true, complete: true},
		// No namespace at all: the name matches in any module.
		{name: "no-namespace-wildcard", filter: `<flow-state><sessions><session><id>` + idICMP + `</id></session></sessions></flow-state>`, ids: []string{idICMP}, complete: true},
		{name: "filter-element-unwrapped", filter: `<nc:filter xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" type="subtree">` + fs0(`<capabilities/>`) + `</nc:filter>`, caps: true, complete: true},
		// 6.2.2: namespace selection.
		{name: "namespace-mismatch", filter: `<flow-state xmlns="urn:example:other"/>`, ignored: 1},
		{name: "namespace-mismatch-nested", filter: fs0(`<sessions xmlns="urn:example:other"/>`), ignored: 1},
		{name: "other-module", filter: `<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces"><interface/></interfaces>` + fs0(`<capabilities/>`), caps: true, complete: true, ignored: 1},
		// Unknown elements select nothing.
		{name: "unknown-element", filter: fs0(`<colour/>`), ignored: 1},
		{name: "unknown-element-sibling", filter: sess0(`<session><id>` + idICMP + `</id><colour/></session>`), ids: []string{idICMP}, ignored: 1},
		// A content match value that is not a value of the leaf's type matches nothing.
		{name: "invalid-match-value", filter: sess0(`<session><protocol>tcp</protocol></session>`), ignored: 1},
		// Attribute match expressions are ignored.
		{name: "attribute-ignored", filter: sess0(`<session xmlns:ex="urn:example" ex:kind="x"><id>` + idICMP + `</id></session>`), ids: []string{idICMP}, complete: true},
		// ConfigOnly (<get-config>): config false nodes neither match nor show.
		{name: "config-only", filter: sess0(`<session><id>` + idTCP1 + `</id></session>`), opts: []yangxml.EncodeOption{yangxml.ConfigOnly()}, ids: []string{idTCP1}, complete: true},
		{name: "config-only-state-match", filter: sess0(`<session><counters><original><packets>1099511627776</packets></original></counters></session>`), opts: []yangxml.EncodeOption{yangxml.ConfigOnly()}},
		{name: "state-match", filter: sess0(`<session><counters><original><packets>1099511627776</packets></original></counters></session>`), ids: []string{idTCP1, idTCP2}},
	}
}

func filterGolden(name string) string { return filepath.Join("testdata", "filter", name+".xml") }

// TestSubtreeFilter: each filter's output equals its golden file, holds
// exactly the expected sessions, and decodes back.
func TestSubtreeFilter(t *testing.T) {
	c := newCodec(t)
	for _, tc := range filterCases() {
		t.Run(tc.name, func(t *testing.T) {
			flt, err := c.ParseSubtreeFilter([]byte(tc.filter), tc.ns)
			if err != nil {
				t.Fatalf("ParseSubtreeFilter: %v", err)
			}
			if got := len(flt.Ignored()); got != tc.ignored {
				t.Errorf("Ignored() = %q, want %d entries", flt.Ignored(), tc.ignored)
			}
			opts := append([]yangxml.EncodeOption{yangxml.Wrapper("data"), yangxml.Indent("  "), yangxml.WithFilter(flt)}, tc.opts...)
			got, err := c.Marshal(filterDevice(), opts...)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if *update {
				if err := os.MkdirAll(filepath.Dir(filterGolden(tc.name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filterGolden(tc.name), got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(filterGolden(tc.name))
			if err != nil {
				t.Fatalf("%v (run go test -update to create)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", filterGolden(tc.name), diff)
			}
			dec := &device{}
			if err := c.Unmarshal(got, dec); err != nil {
				t.Fatalf("filtered output does not decode: %v\n%s", err, got)
			}
			var ids []string
			if ss := dec.GetFlowState().GetSessions(); ss != nil {
				for id := range ss.Session {
					ids = append(ids, id)
				}
			}
			sort.Strings(ids)
			wantIDs := append([]string(nil), tc.ids...)
			sort.Strings(wantIDs)
			if diff := cmp.Diff(wantIDs, ids); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
			if gotCaps := dec.GetFlowState().GetCapabilities() != nil; gotCaps != tc.caps {
				t.Errorf("capabilities present = %v, want %v", gotCaps, tc.caps)
			}
		})
	}
}

// TestSubtreeFilterSemantics checks properties independent of the golden
// files: select-all equals no filter, whole-entry matches equal the
// unfiltered entry, keys are always there, and nothing empty is written.
func TestSubtreeFilterSemantics(t *testing.T) {
	c := newCodec(t)
	d := filterDevice()
	marshal := func(t *testing.T, filter string, opts ...yangxml.EncodeOption) string {
		t.Helper()
		flt, err := c.ParseSubtreeFilter([]byte(filter), nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.Marshal(d, append(opts, yangxml.WithFilter(flt))...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	plain := func(t *testing.T, d *device, opts ...yangxml.EncodeOption) string {
		t.Helper()
		out, err := c.Marshal(d, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	t.Run("select-all equals unfiltered", func(t *testing.T) {
		if diff := cmp.Diff(plain(t, d), marshal(t, fs0(""))); diff != "" {
			t.Error(diff)
		}
		if diff := cmp.Diff(plain(t, d, yangxml.ConfigOnly()), marshal(t, fs0(""), yangxml.ConfigOnly())); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("nil filter is no filter", func(t *testing.T) {
		out, err := c.Marshal(d, yangxml.WithFilter(nil))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(plain(t, d), string(out)); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("key match equals the unfiltered entry", func(t *testing.T) {
		want := plain(t, deviceWith(sctpSession()))
		if diff := cmp.Diff(want, marshal(t, sess0(`<session><id>`+idSCTP+`</id></session>`))); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("keys and content matches only", func(t *testing.T) {
		got := marshal(t, sess0(`<session><protocol>1</protocol><timers><remaining/></timers></session>`))
		want := sess0(`<session><id>` + idICMP + `</id><protocol>1</protocol><timers><remaining>30</remaining></timers></session>`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("nothing selected below, no instance", func(t *testing.T) {
		// Only the UDP6 session has DNAT: the other entries match (no
		// content matches) but select nothing, so they are left out.
		got := marshal(t, sess0(`<session><nat><destination/></nat></session>`))
		want := sess0(`<session><id>` + idUDP6 + `</id><nat><destination><external-dst-address>2001:db8:1::53</external-dst-address><external-dst-port>53</external-dst-port><internal-dst-address>fd00::53</internal-dst-address><internal-dst-port>5300</internal-dst-port></destination></nat></session>`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
		if got := marshal(t, sess0(`<session><alg><master/></alg></session>`)); got != sess0(`<session><id>`+idFTP+`</id><alg><master>0/6/10.0.0.10/40000/192.0.2.21/21</master></alg></session>`) {
			t.Errorf("got %s", got)
		}
		// Selecting the key alone lists every entry's key.
		if got := marshal(t, sess0(`<session><id/></session>`)); strings.Count(got, "<session>") != 7 || strings.Contains(got, "<protocol>") {
			t.Errorf("got %s", got)
		}
		if got := marshal(t, fs0(`<capabilities><colour/></capabilities>`)); got != "" {
			t.Errorf("got %q, want nothing", got)
		}
		if got := marshal(t, fs0(`<capabilities><vendor>other</vendor></capabilities>`)); got != "" {
			t.Errorf("got %q, want nothing", got)
		}
	})
	t.Run("empty filter with wrapper", func(t *testing.T) {
		got := marshal(t, "  ", yangxml.Wrapper("data"))
		if want := `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"></data>`; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("filter from another codec", func(t *testing.T) {
		flt, err := newCodec(t).ParseSubtreeFilter([]byte(fs0("")), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Marshal(d, yangxml.WithFilter(flt)); !errors.Is(err, yangxml.ErrUnsupported) {
			t.Errorf("got %v, want ErrUnsupported", err)
		}
	})
	t.Run("list encoder rejects filters", func(t *testing.T) {
		flt, _ := c.ParseSubtreeFilter(nil, nil)
		if _, err := c.NewListEncoder(&bytes.Buffer{}, "/flow-state/sessions/session", yangxml.WithFilter(flt)); !errors.Is(err, yangxml.ErrUnsupported) {
			t.Errorf("got %v, want ErrUnsupported", err)
		}
	})
}

func TestSubtreeFilterErrors(t *testing.T) {
	c := newCodec(t)
	tests := []struct {
		name, filter string
		want         error
		msg          string
	}{
		{"unclosed", `<flow-state xmlns="` + testNS + `"><sessions>`, yangxml.ErrMalformed, "EOF"},
		{"mismatched end", `<flow-state xmlns="` + testNS + `"></sessions>`, yangxml.ErrMalformed, "closed by"},
		{"undeclared prefix", `<x:flow-state/>`, yangxml.ErrMalformed, "not declared"},
		{"undeclared nested prefix", fs0(`<y:sessions/>`), yangxml.ErrMalformed, "not declared"},
		{"top-level text", `hello`, yangxml.ErrMalformed, "outside"},
		{"doctype", `<!DOCTYPE x><flow-state/>`, yangxml.ErrMalformed, "DTD"},
		{"element in leaf", sess0(`<session><id><x/></id></session>`), yangxml.ErrMalformed, "inside leaf"},
		{"text in container", fs0(`<sessions>all</sessions>`), yangxml.ErrInvalidValue, "not a leaf"},
		{"text in filter", `<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">x</filter>`, yangxml.ErrMalformed, "inside <filter>"},
		{"after filter", `<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>` + fs0(""), yangxml.ErrMalformed, "after the <filter>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ParseSubtreeFilter([]byte(tc.filter), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ye *yangxml.Error
			if !errors.As(err, &ye) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q: want an *Error containing %q", err, tc.msg)
			}
		})
	}
}

// TestInteropYanglintFiltered: filtered output is valid for libyang: as a
// datastore (-t data) when only whole subtrees are selected, as a <get>
// reply (-t get, partial data) otherwise.
func TestInteropYanglintFiltered(t *testing.T) {
	c := newCodec(t)
	for _, tc := range filterCases() {
		t.Run(tc.name, func(t *testing.T) {
			flt, err := c.ParseSubtreeFilter([]byte(tc.filter), tc.ns)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Marshal(filterDevice(), append([]yangxml.EncodeOption{yangxml.Indent(" "), yangxml.WithFilter(flt)}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			typ := "get"
			if tc.complete {
				typ = "data"
			}
			if msg, err := yanglint(t, "-t", typ, modelFile, writeTemp(t, "filtered.xml", out)); err != nil {
				t.Errorf("yanglint -t %s rejected filtered output: %v\n%s\n%s", typ, err, msg, out)
			}
		})
	}
}

// FuzzSubtreeFilter: compiling any filter never panics or hangs, and an
// accepted filter yields output that decodes and is a subset of the data:
// filtering the filtered output again gives the same output.
func FuzzSubtreeFilter(f *testing.F) {
	for _, tc := range filterCases() {
		if tc.ns == nil {
			f.Add([]byte(tc.filter))
		}
	}
	c := newCodec(f)
	d := filterDevice()
	f.Fuzz(func(t *testing.T, data []byte) {
		flt, err := c.ParseSubtreeFilter(data, nil)
		if err != nil {
			var ye *yangxml.Error
			if !errors.As(err, &ye) {
				t.Fatalf("error is not an *Error: %v", err)
			}
			return
		}
		out, err := c.Marshal(d, yangxml.WithFilter(flt))
		if err != nil {
			t.Fatalf("filtered encode: %v\nfilter: %q", err, data)
		}
		d2 := &device{}
		if err := c.Unmarshal(out, d2); err != nil && len(out) > 0 {
			t.Fatalf("filtered output does not decode: %v\nfilter: %q\noutput: %s", err, data, out)
		}
		again, err := c.Marshal(d2, yangxml.WithFilter(flt))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(out), string(again)); diff != "" {
			t.Fatalf("filter is not idempotent (-once +twice):\n%s\nfilter: %q", diff, data)
		}
	})
}
