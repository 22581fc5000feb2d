package mapping_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/sami-netops/sami/pkg/mapping"
	mt "github.com/sami-netops/sami/pkg/mapping/mappingtest"
)

var realMappings = []string{"../../plugins/junos/mapping.yaml", "../../plugins/ciscoiosxe/mapping.yaml", ietfNATMapping}

func realDirs(t testing.TB) []string {
	return []string{mt.VendorYANG(t, "juniper"), mt.VendorYANG(t, "ietf"), mt.VendorYANG(t, "cisco-iosxe")}
}

// TestRealPlugins validates the three plugins' mappings against the real
// vendor modules, and converts the real Junos replies (5 sessions).
func TestRealPlugins(t *testing.T) {
	dirs := realDirs(t)
	samples := mt.VendorYANG(t, "juniper/samples")
	var ms []*mapping.Mapping
	for _, f := range realMappings {
		ms = append(ms, load(t, f))
	}
	mods, err := mapping.LoadModules(ctx, mapping.ModuleNames(ms...), dirs)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		var opts []mapping.ValidateOption
		if m.Name == "junos-srx" {
			opts = append(opts, mapping.WithSamples(filepath.Join(samples, "flow-session-brief-srx-15.1I0-ipv6.xml"),
				filepath.Join(samples, "flow-session-brief-srx-cluster-18.2I0-source-nat.xml")))
		}
		if m.Name == "ietf-nat" {
			opts = append(opts, mapping.WithSamples("testdata/ietf-nat-sample.xml"))
		}
		r, err := mapping.Validate(ctx, m, mods, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Err(); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
		n := 0
		for _, c := range r.Checks {
			n += c.Sessions
		}
		if m.Name == "junos-srx" && n != 5 {
			t.Errorf("the real Junos replies gave %d sessions, want 5 (1 + 4)", n)
		}
	}
}

// TestSurvives: what a move from each vendor to another keeps and loses.
func TestSurvives(t *testing.T) {
	junos, cisco, ietf := load(t, realMappings[0]), load(t, realMappings[1]), load(t, realMappings[2])
	sami := load(t, "../../plugins/samiid/mapping.yaml")
	lost := func(r mapping.Report) []string {
		var out []string
		for _, l := range r.Lost {
			out = append(out, l.Path)
		}
		return out
	}
	if r := mapping.Survives(junos, sami); r.Loses() || !slices.Contains(r.Kept, "nat/source/external-src-port") {
		t.Errorf("junos -> sami: %v", r)
	}
	r := mapping.Survives(cisco, ietf)
	if want := []string{"location/vrf", "vendor-parameter/application-type", "vendor-parameter/flags", "zone-id"}; !slices.Equal(lost(r), want) {
		t.Errorf("cisco -> ietf-nat lost %v, want %v", lost(r), want)
	}
	if !slices.Contains(r.Missing, "tcp/original/window-scale") {
		t.Errorf("IOS-XE has no TCP window data: %v", r.Missing)
	}
	r = mapping.Survives(sami, cisco)
	if r.Writable || len(r.Kept) != 0 || !r.Loses() {
		t.Errorf("to a read-only mapping: %v", r)
	}
	r = mapping.Survives(sami, ietf)
	if !slices.Contains(lost(r), "tcp/original/window-scale") || slices.Contains(lost(r), "original/source-port") {
		t.Errorf("sami -> ietf-nat lost %v", lost(r))
	}
}

// BenchmarkValidateRealModules: loading the three real vendor modules
// together (junos-es-rpc-security alone is 1.9 MB) and validating the
// three mappings; the target is under 5 s.
func BenchmarkValidateRealModules(b *testing.B) {
	dirs := realDirs(b)
	var ms []*mapping.Mapping
	for _, f := range realMappings {
		ms = append(ms, load(b, f))
	}
	for b.Loop() {
		mods, err := mapping.LoadModules(ctx, mapping.ModuleNames(ms...), dirs)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range ms {
			r, err := mapping.Validate(ctx, m, mods)
			if err != nil || r.Err() != nil {
				b.Fatal(err, r.Err())
			}
		}
	}
}
