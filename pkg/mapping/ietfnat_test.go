package mapping_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/mapping"
	mt "github.com/sami-netops/sami/pkg/mapping/mappingtest"
	"github.com/sami-netops/sami/pkg/peertest"
	"github.com/sami-netops/sami/pkg/yangxml"
)

const ietfNATMapping = "../../plugins/ietfnat/mapping.yaml"

func ietfWant() []*flow.Session {
	napt := mt.Want{Protocol: 6, Src: mt.Tuple{Addr: "192.0.2.1", Port: 1568}, Dst: mt.Tuple{Addr: "203.0.113.10", Port: 80},
		ReplySrc: mt.Tuple{Addr: "203.0.113.10", Port: 80}, ReplyDst: mt.Tuple{Addr: "198.51.100.1", Port: 15000},
		SNAT: &mt.Tuple{Addr: "198.51.100.1", Port: 15000}, Remaining: mt.U32(120)}.Session()
	napt.Nat.Type = flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Type_dynamic // dynamic-implicit
	return []*flow.Session{
		napt,
		mt.Want{Protocol: 17, Src: mt.Tuple{Addr: "203.0.113.50", Port: 3478}, Dst: mt.Tuple{Addr: "198.51.100.1", Port: 5353},
			ReplySrc: mt.Tuple{Addr: "192.0.2.53", Port: 53}, ReplyDst: mt.Tuple{Addr: "203.0.113.50", Port: 3478},
			DNAT: &mt.Tuple{Addr: "192.0.2.53", Port: 53}, NATStatic: true}.Session(),
		mt.Want{Protocol: 6, Src: mt.Tuple{Addr: "2001:db8::10", Port: 40000}, Dst: mt.Tuple{Addr: "2001:db8:1::1", Port: 443},
			ReplySrc: mt.Tuple{Addr: "2001:db8:1::1", Port: 443}, ReplyDst: mt.Tuple{Addr: "2001:db8::10", Port: 40000},
			Remaining: mt.U32(3600)}.Session(),
	}
}

// TestIETFNATRoundTrip reads RFC 8512 entries with the declarative ietf-nat
// mapping, writes the sessions back as ietf-nat XML with the same mapping
// and reads that again: the same sessions.
func TestIETFNATRoundTrip(t *testing.T) {
	m := load(t, ietfNATMapping)
	got, err := convertFile(t, m, "testdata/ietf-nat-sample.xml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ietfWant(), got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf, slices.Values(got)); err != nil {
		t.Fatal(err)
	}
	c, _ := mapping.NewConverter(m)
	var again []*flow.Session
	if err := c.Convert(ctx, &buf, func(s *flow.Session) error { again = append(again, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("after a round trip (-first +second):\n%s", diff)
	}
	if err := load(t, "testdata/acme.yaml").Encode(&buf, slices.Values(got)); err == nil {
		t.Error("a read-only mapping encoded")
	}
}

// TestYanglint: a sample converted by the ietf-nat mapping and re-encoded
// validates with libyang against the real ietf-nat module (the mapping's
// Encode), and the canonical sessions encoded by pkg/yangxml against the
// sami model.
func TestYanglint(t *testing.T) {
	bin, err := exec.LookPath("yanglint")
	peertest.Need(t, "yanglint (libyang2-tools)", err == nil, "apt-get install libyang2-tools, or bash .ci/install-peers")
	ietf := mt.VendorYANG(t, "ietf")
	m := load(t, ietfNATMapping)
	sessions, err := convertFile(t, m, "testdata/ietf-nat-sample.xml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lint := func(t *testing.T, body []byte, args ...string) {
		t.Helper()
		file := filepath.Join(dir, t.Name()[len("TestYanglint/"):]+".xml")
		if err := os.WriteFile(file, body, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, append(args, file)...).CombinedOutput()
		if err != nil {
			t.Errorf("yanglint %v: %v\n%s\n%s", args, err, out, body)
		}
	}
	t.Run("ietf-nat", func(t *testing.T) {
		var buf bytes.Buffer
		if err := m.Encode(&buf, slices.Values(sessions)); err != nil {
			t.Fatal(err)
		}
		lint(t, buf.Bytes(), "-F", "ietf-nat:basic-nat44,napt44,dst-nat,nat64,nptv6", "-p", ietf, "-t", "config",
			filepath.Join(ietf, "ietf-nat@2019-01-10.yang"))
	})
	t.Run("sami-flow-state", func(t *testing.T) {
		codec, err := flow.NewCodec()
		if err != nil {
			t.Fatal(err)
		}
		root := &flowstate.Device{FlowState: &flowstate.SamiFlowState_FlowState{Sessions: &flowstate.SamiFlowState_FlowState_Sessions{Session: map[string]*flow.Session{}}}}
		for _, s := range sessions {
			root.FlowState.Sessions.Session[s.GetId()] = s
		}
		b, err := codec.Marshal(root, yangxml.ConfigOnly())
		if err != nil {
			t.Fatal(err)
		}
		lint(t, b, "-p", ietf, "-t", "config", "../../yang/sami-flow-state.yang")
	})
}
