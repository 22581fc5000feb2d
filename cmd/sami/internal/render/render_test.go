package render_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/topology"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func sessions(t testing.TB) []*flow.Session {
	tcp := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4, Protocol: ygot.Uint8(6),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("10.1.0.5"), DestinationAddress: ygot.String("198.51.100.1"),
			SourcePort: ygot.Uint16(30001), DestinationPort: ygot.Uint16(443),
		},
		Tcp:    &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{State: flowstate.SamiFlowState_TcpState_established},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{IdleTimeout: ygot.Uint32(432000), Remaining: ygot.Uint32(431990)},
		Nat: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat{
			Type:   flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Type_dynamic,
			Source: &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{ExternalSrcAddress: ygot.String("203.0.113.7"), ExternalSrcPort: ygot.Uint16(40001)},
		},
		Location: &flowstate.SamiFlowState_FlowState_Sessions_Session_Location{IngressZone: ygot.String("trust"), EgressZone: ygot.String("untrust")},
	}
	udp := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv6, Protocol: ygot.Uint8(17), ZoneId: ygot.Uint16(7),
		Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
			SourceAddress: ygot.String("2001:db8::5"), DestinationAddress: ygot.String("2001:db8:1::53"),
			SourcePort: ygot.Uint16(5353), DestinationPort: ygot.Uint16(53),
		},
		Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{IdleTimeout: ygot.Uint32(30)},
	}
	out := []*flow.Session{tcp, udp}
	for _, s := range out {
		if err := flow.SetKey(s); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func report() *migrate.Report {
	return &migrate.Report{
		ID: "01JNB3ZQ0000000000000000AB", Kind: migrate.PreCopy, Requester: "ops", Endpoints: []string{"10.1.0.5"},
		Status: journal.Done, Sources: []string{"fw1"}, Destinations: []string{"fw2"}, Eliminate: []string{"fw1"},
		Devices: []migrate.DeviceReport{
			{Device: "fw1", Role: "source", Sessions: 12, Free: -1, Domain: "dc"},
			{Device: "fw2", Role: "destination", Sessions: 12, Free: 65524, Domain: "dc"},
		},
		Sessions: 12, Lost: []migrate.Loss{{Device: "fw2", Feature: "tcp-window-tracking", Sessions: 3}},
		SourceDigest:      "3f2a1b9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2",
		DestinationDigest: "3f2a1b9c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2",
		Phases: []migrate.PhaseTiming{
			{Phase: migrate.PhasePlan, Duration: 1234567 * time.Nanosecond},
			{Phase: migrate.PhaseStage, Duration: 5 * time.Millisecond},
			{Phase: migrate.PhaseCommit, Duration: 1500 * time.Millisecond},
		},
		Blackout: 3200 * time.Microsecond, Rounds: 2, Late: 1,
		Started: t0, Finished: t0.Add(1612 * time.Millisecond),
	}
}

func plan(t testing.TB) *render.Plan {
	inv, err := topology.Load(strings.NewReader(`devices:
  - {name: fw1, address: "192.0.2.1:830", driver: sami, domain: east}
  - {name: fw2, address: "192.0.2.2:830", driver: sami, domain: west}
locations:
  - {name: s1, ingress: [fw1], egress: [fw1]}
  - {name: s2, ingress: [fw2], egress: [fw2]}
domain-rules:
  - {from: east, to: west}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := inv.Resolve("s1", "s2")
	if err != nil {
		t.Fatal(err)
	}
	return &render.Plan{
		Endpoints: []string{"10.1.0.5"}, Kind: migrate.Planned, Move: m,
		Sources:      []render.PlanSource{{Device: "fw1", Domain: "east", Sessions: 12, Eliminate: true}},
		Destinations: []render.PlanDestination{{Device: "fw2", Domain: "west", FedBy: []string{"fw1"}, Sessions: 12, Free: 10}},
		Crossings:    render.CrossingsOf(inv.CrossDomain(m)), ConfirmTimeout: 2 * time.Minute,
		Refused: "fw2 has 10 free session slots, 12 needed",
	}
}

func records() []*journal.Record {
	res, _ := json.Marshal(report())
	return []*journal.Record{{
		ID: "01JNB3ZQ0000000000000000AB", Kind: "precopy", Requester: "ops", Created: t0, Updated: t0.Add(2 * time.Second),
		Status: journal.Done, Phase: "done", Result: res,
		Entries: []journal.Entry{
			{Seq: 1, Time: t0, Phase: "plan"},
			{Seq: 2, Time: t0.Add(time.Millisecond), Phase: "stage", Device: "fw2", Note: "12 sessions"},
		},
	}}
}

func TestRender(t *testing.T) {
	ss := sessions(t)
	caps := render.CapabilitiesOf("fw2", &device.Capabilities{Vendor: "sami", Model: "sim", Software: "1.0", MaxSessions: 65536, Active: 12,
		Features: []string{"nat", "tcp-window-tracking"}, Protocols: []uint8{6, 17}, Domain: "dc", Writable: true, ConfirmedCommit: true, Watch: true})
	devs := []render.Device{
		{Name: "fw1", Driver: "sami", Address: "127.0.0.1:830", Domain: "dc", Location: "s1", Role: "firewall"},
		{Name: "edge", Driver: "ietf-nat", Address: "[2001:db8::1]:830", Discovered: true},
	}
	recs := records()
	writers := map[string]func(*bytes.Buffer, render.Format) error{
		"sessions": func(b *bytes.Buffer, f render.Format) error { return render.Sessions(b, f, ss) },
		"devices":  func(b *bytes.Buffer, f render.Format) error { return render.Devices(b, f, devs) },
		"caps":     func(b *bytes.Buffer, f render.Format) error { return render.WriteCapabilities(b, f, caps) },
		"report":   func(b *bytes.Buffer, f render.Format) error { return render.Report(b, f, report()) },
		"plan":     func(b *bytes.Buffer, f render.Format) error { return render.WritePlan(b, f, plan(t)) },
		"records":  func(b *bytes.Buffer, f render.Format) error { return render.Records(b, f, recs) },
		"record":   func(b *bytes.Buffer, f render.Format) error { return render.Record(b, f, recs[0]) },
	}
	for name, write := range writers {
		formats := render.Common
		if name == "sessions" {
			formats = render.SessionFormats
		}
		for _, f := range formats {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				var b bytes.Buffer
				if err := write(&b, f); err != nil {
					t.Fatal(err)
				}
				switch f {
				case render.JSON:
					if !json.Valid(b.Bytes()) {
						t.Errorf("invalid JSON:\n%s", b.String())
					}
				case render.YAML:
					var v any
					if err := yaml.Unmarshal(b.Bytes(), &v); err != nil {
						t.Errorf("invalid YAML: %v\n%s", err, b.String())
					}
				}
				golden(t, name+"."+string(f), b.Bytes())
			})
		}
	}
}

// The XML of sessions decodes back into the same sessions.
func TestSessionsXMLRoundTrip(t *testing.T) {
	ss := sessions(t)
	var b bytes.Buffer
	if err := render.Sessions(&b, render.XML, ss); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`) {
		t.Errorf("no NETCONF <data> wrapper:\n%s", b.String())
	}
	for _, s := range ss {
		if !strings.Contains(b.String(), s.GetId()) {
			t.Errorf("session %s missing", s.GetId())
		}
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		allowed []render.Format
		want    render.Format
		err     string
	}{
		{"", nil, render.Table, ""},
		{"JSON", nil, render.JSON, ""},
		{" yaml ", nil, render.YAML, ""},
		{"xml", nil, "", `unknown output format "xml" for -o: use one of table, json, yaml`},
		{"xml", render.SessionFormats, render.XML, ""},
		{"csv", render.SessionFormats, "", `unknown output format "csv" for -o: use one of table, json, yaml, xml`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := render.ParseFormat(tc.in, tc.allowed...)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if !errors.Is(err, render.ErrFormat) || app.ExitCode(err) != app.ExitUsage {
					t.Errorf("error %v: not ErrFormat or not a usage error (exit %d)", err, app.ExitCode(err))
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"table", "json", "YAML", "xml", "", "x\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := render.ParseFormat(s, render.SessionFormats...)
		if err != nil {
			if app.ExitCode(err) != app.ExitUsage {
				t.Fatalf("%q: exit code %d", s, app.ExitCode(err))
			}
			return
		}
		var b bytes.Buffer
		if err := render.Devices(&b, got, nil); got != render.XML && err != nil {
			t.Fatalf("%q parsed as %q but Devices fails: %v", s, got, err)
		}
	})
}

func TestDurationAndShort(t *testing.T) {
	for in, want := range map[time.Duration]string{0: "0s", 1234567: "1.235ms", 1500 * time.Millisecond: "1.5s", 61234567891: "1m1.235s"} {
		if got := render.Duration(in); got != want {
			t.Errorf("Duration(%d) = %q, want %q", in, got, want)
		}
	}
	if got := render.Short("abcdef0123456789"); got != "abcdef012345" {
		t.Errorf("Short = %q", got)
	}
}
