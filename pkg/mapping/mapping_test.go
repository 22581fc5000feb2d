package mapping_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/mapping"
	mt "github.com/sami-netops/sami/pkg/mapping/mappingtest"
)

var ctx = context.Background()

func load(t testing.TB, file string) *mapping.Mapping {
	t.Helper()
	m, err := mapping.LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func convertFile(t testing.TB, m *mapping.Mapping, file string) ([]*flow.Session, error) {
	t.Helper()
	c, err := mapping.NewConverter(m)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*flow.Session
	err = c.Convert(ctx, f, func(s *flow.Session) error { out = append(out, s); return nil })
	return out, err
}

func acmeWant() []*flow.Session {
	s1 := mt.Want{Protocol: 6, Src: mt.Tuple{Addr: "10.0.0.5", Port: 40312}, Dst: mt.Tuple{Addr: "198.51.100.20", Port: 443},
		ReplySrc: mt.Tuple{Addr: "198.51.100.20", Port: 443}, ReplyDst: mt.Tuple{Addr: "203.0.113.7", Port: 61000},
		SNAT: &mt.Tuple{Addr: "203.0.113.7", Port: 61000}, InZone: "inside", Remaining: mt.U32(299),
		Vendor: "acme", VendorParams: map[string]string{"flags": "31", "sid": "1"}}.Session()
	s1.GetOrCreateTcp().State = flowstate.SamiFlowState_TcpState_established
	s1.GetOrCreateCounters().GetOrCreateOriginal().Packets = ygot.Uint64(42)
	s2 := mt.Want{Protocol: 17, Src: mt.Tuple{Addr: "10.0.0.6", Port: 5353}, Dst: mt.Tuple{Addr: "10.0.1.53", Port: 53},
		ReplySrc: mt.Tuple{Addr: "10.0.1.53", Port: 53}, ReplyDst: mt.Tuple{Addr: "10.0.0.6", Port: 5353},
		Remaining: mt.U32(30), Vendor: "acme", VendorParams: map[string]string{"flags": "7", "sid": "2"}}.Session()
	return []*flow.Session{s1, s2}
}

// TestConvert converts the project's acme fixture from a NETCONF reply
// (with another module's data next to it) and from RFC 7951 JSON: enum
// renames, milliseconds to seconds, hex, an identity NAT dropped, the
// reply derived from the NAT.
func TestConvert(t *testing.T) {
	m := load(t, "testdata/acme.yaml")
	for _, file := range []string{"testdata/acme-reply.xml", "testdata/acme-reply.json"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			got, err := convertFile(t, m, file)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(acmeWant(), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	m := load(t, "testdata/acme.yaml")
	reply, err := os.ReadFile("testdata/acme-reply.xml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, want string
		sentinel             error
	}{
		{"namespace", `xmlns="urn:example:acme-fw"`, `xmlns="urn:example:acme-fw2"`, `<fw-state> is in namespace "urn:example:acme-fw2"`, mapping.ErrNamespace},
		{"enum value", "<proto>udp</proto>", "<proto>sctp</proto>", `entry 2 (input line 12): protocol from proto: cannot convert vendor data: value "sctp" is not in the enum map`, mapping.ErrConvert},
		{"address", "<src>10.0.0.5</src>", "<src>10.0.0.300</src>", `original/source-address from src: cannot convert vendor data: "10.0.0.300" is not an IP address`, mapping.ErrConvert},
		{"range", "<dport>443</dport>", "<dport>70000</dport>", `70000`, mapping.ErrConvert},
		{"hex without number: hex", "<sport>40312</sport>", "<sport>0x9d78</sport>", `declare number: hex-or-decimal`, mapping.ErrConvert},
		{"malformed", "</fw-state>", "</fw-stat>", `cannot convert vendor data`, mapping.ErrConvert},
		{"no original address", "<dst>198.51.100.20</dst>", "", `no source or destination address`, mapping.ErrConvert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := mapping.NewConverter(m)
			in := strings.Replace(string(reply), tc.old, tc.new, 1)
			err := c.Convert(ctx, strings.NewReader(in), func(*flow.Session) error { return nil })
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant %q (%v)", err, tc.want, tc.sentinel)
			}
		})
	}
	t.Run("skip invalid", func(t *testing.T) {
		var skipped []error
		c, _ := mapping.NewConverter(m, mapping.SkipInvalid(func(err error) { skipped = append(skipped, err) }))
		in := strings.Replace(string(reply), "<proto>udp</proto>", "<proto>sctp</proto>", 1)
		n := 0
		if err := c.Convert(ctx, strings.NewReader(in), func(*flow.Session) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 1 || len(skipped) != 1 {
			t.Errorf("%d sessions, skipped %v", n, skipped)
		}
	})
}

func acmeModules(t testing.TB) *mapping.Modules {
	t.Helper()
	mods, err := mapping.LoadModules(ctx, []string{"acme-fw"}, []string{"testdata/yang"})
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

func TestValidateFixture(t *testing.T) {
	m := load(t, "testdata/acme.yaml")
	r, err := mapping.Validate(ctx, m, acmeModules(t), mapping.WithSamples("testdata/acme-reply.xml", "testdata/acme-reply.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	var samples []int
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, "sample ") {
			samples = append(samples, c.Sessions)
		}
	}
	if !slices.Equal(samples, []int{2, 2}) {
		t.Errorf("sample sessions %v", samples)
	}
}

// TestBrokenMappings: each deliberately wrong mapping fails with the right
// message, on the right line of the mapping file.
func TestBrokenMappings(t *testing.T) {
	good, err := os.ReadFile("testdata/acme.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mods := acmeModules(t)
	for _, tc := range []struct {
		name, old, new string
		lineOf         string // the text whose line the error names (default new)
		want           string
		atLoad         bool
	}{
		{name: "path typo", old: "original/source-port: sport", new: "original/source-port: sprot",
			want: `vendor path /acme-fw:fw-state/session/sprot: no node "sprot" under acme-fw:fw-state/session (did you mean sport?)`},
		{name: "wrong type", old: "original/destination-address: dst", new: "original/destination-address: pkts",
			want: "vendor uint64 is not compatible with the canonical ip-address (IP address)"},
		{name: "missing key", old: "keys: [sid]", new: "keys: [sid, zone-name]",
			want: "the list is keyed by [sid], the mapping assumes [sid zone-name]"},
		{name: "uncovered enum", old: `enum: {tcp: "6", udp: "17", icmp: "1"}`, new: `enum: {tcp: "6", udp: "17"}`,
			want: "enum transform is not total: vendor values icmp are not covered"},
		{name: "enum value the vendor lacks", old: `enum: {tcp: "6", udp: "17", icmp: "1"}`, new: `enum: {tcp: "6", udp: "17", icmp: "1", sctp: "132"}`,
			want: "enum maps sctp, which the vendor enumeration {icmp, tcp, udp} does not have"},
		{name: "wrong namespace", old: "namespace: urn:example:acme-fw", new: "namespace: urn:example:acme-firewall",
			want: `"urn:example:acme-firewall" is not the namespace of module acme-fw ("urn:example:acme-fw")`},
		{name: "wrong revision", old: `revision: "2025-06-01"`, new: `revision: "2024-01-01"`, lineOf: "- name: acme-fw",
			want: "mapping written for revision 2024-01-01, the loaded module is revision 2025-06-01"},
		{name: "mandatory leaf not mapped", old: "  original/destination-port: dport\n", new: "", lineOf: "mapping: acme-fw",
			want: "the canonical original/destination-port is not mapped: map it or declare it under unsupported"},
		{name: "narrowing", old: "original/source-port: sport", new: "original/source-port: vrf-id",
			want: "vendor uint32 does not fit the canonical port-number (uint16) (say narrow: true"},
		{name: "text into a number", old: "counters/original/packets: pkts", new: "counters/original/packets: flags",
			want: "vendor string is not a number: say number: decimal"},
		{name: "list path", old: "list: /acme-fw:fw-state/session", new: "list: /acme-fw:fw-state/sessions",
			want: `no node "sessions" under /fw-state (did you mean session?)`},
		{name: "container for a leaf", old: "location/ingress-zone: zone-name", new: "location/ingress-zone: peer",
			want: "is a container, not a leaf"},
		{name: "canonical typo", old: "original/source-port: sport", new: "original/src-port: sport", atLoad: true,
			want: "fields.original/src-port: no such leaf in the sami session model (did you mean original/source-port?)"},
		{name: "unknown key", old: "access: read-only", new: "acess: read-only", atLoad: true,
			want: "acess: unknown key"},
		{name: "enum target invalid", old: `closing: close-wait`, new: `closing: closing`, lineOf: "closing: closing", atLoad: true,
			want: `maps to "closing", which is not a valid enumeration`},
		{name: "unsupported typo", old: "mark: none", new: "marc: none", atLoad: true,
			want: "unsupported.marc: no such leaf or container in the sami session model (did you mean mark?)"},
		{name: "mapped and unsupported", old: "mark: none", new: "location/ingress-zone: zone is mapped", lineOf: "location/ingress-zone: zone-name", atLoad: true,
			want: "mapped, but declared unsupported"},
		{name: "bad yaml", old: "keys: [sid]", new: "keys: [sid", lineOf: "list: /acme-fw", atLoad: true, want: "not valid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			text := strings.Replace(string(good), tc.old, tc.new, 1)
			lineOf := tc.lineOf
			if lineOf == "" {
				lineOf = tc.new
			}
			line := 1 + strings.Count(text[:strings.Index(text, lineOf)], "\n")
			m, err := mapping.Parse("broken.yaml", []byte(text))
			if tc.atLoad {
				if err == nil {
					t.Fatal("loaded")
				}
				checkErr(t, err, line, tc.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := mapping.Validate(ctx, m, mods)
			if err != nil {
				t.Fatal(err)
			}
			checkErr(t, r.Err(), line, tc.want)
		})
	}
}

func checkErr(t *testing.T, err error, line int, want string) {
	t.Helper()
	if !errors.Is(err, mapping.ErrMapping) {
		t.Fatalf("error %v does not wrap ErrMapping", err)
	}
	prefix := fmt.Sprintf("broken.yaml:%d:", line)
	for _, e := range strings.Split(err.Error(), "\n") {
		if strings.Contains(e, want) {
			if !strings.HasPrefix(e, prefix) {
				t.Errorf("error %q does not start with %q", e, prefix)
			}
			return
		}
	}
	t.Errorf("got %v\nwant %q", err, want)
}

func TestModulesMissing(t *testing.T) {
	_, err := mapping.LoadModules(ctx, []string{"acme-fw", "no-such-module"}, []string{"testdata/yang"})
	if !errors.Is(err, mapping.ErrModules) || !strings.Contains(err.Error(), "no-such-module") {
		t.Errorf("got %v", err)
	}
	_, err = mapping.LoadModules(ctx, []string{"acme-fw"}, []string{"testdata/nope"})
	if !errors.Is(err, mapping.ErrModules) || !strings.Contains(err.Error(), "testdata/nope") {
		t.Errorf("got %v", err)
	}
}

func TestSampleNamespace(t *testing.T) {
	m := load(t, "testdata/acme.yaml")
	b, _ := os.ReadFile("testdata/acme-reply.xml")
	file := filepath.Join(t.TempDir(), "wrong-ns.xml")
	os.WriteFile(file, []byte(strings.Replace(string(b), "urn:example:acme-fw", "urn:example:acme-fw:v2", 1)), 0o644)
	r, err := mapping.Validate(ctx, m, acmeModules(t), mapping.WithSamples(file))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); !errors.Is(err, mapping.ErrNamespace) {
		t.Errorf("got %v", err)
	}
}
