package ietfnat

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/yangxml"
)

var (
	codecOnce sync.Once
	codec     *yangxml.Codec
)

// loadSessions reads a sami-model fixture, sorted by id.
func loadSessions(t testing.TB, name string) []*flow.Session {
	t.Helper()
	codecOnce.Do(func() {
		c, err := flow.NewCodec()
		if err != nil {
			panic(err)
		}
		codec = c
	})
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dev := &flowstate.Device{}
	if err := codec.Unmarshal(data, dev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []*flow.Session
	for _, s := range dev.GetFlowState().GetSessions().Session {
		out = append(out, s)
	}
	sortByID(out)
	return out
}

func sortByID(ss []*flow.Session) {
	slices.SortFunc(ss, func(a, b *flow.Session) int {
		switch {
		case a.GetId() < b.GetId():
			return -1
		case a.GetId() > b.GetId():
			return 1
		}
		return 0
	})
}

// loadEntries decodes every entry of instance 1 of a fixture.
func loadEntries(t testing.TB, name string) ([]*Entry, *Instance) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*Entry
	inst, err := DecodeMappingTable(f, 1, func(e *Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out, inst
}

// sess builds a session for the refusal tables: TCP 10.0.0.5:40312 ->
// 198.51.100.20:443, source NAT to 203.0.113.7:61000, then mod.
func sess(mod func(s *flow.Session)) *flow.Session {
	s := &flow.Session{
		AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
		Protocol:      ygot.Uint8(6),
		Original: &origC{
			SourceAddress: ygot.String("10.0.0.5"), DestinationAddress: ygot.String("198.51.100.20"),
			SourcePort: ygot.Uint16(40312), DestinationPort: ygot.Uint16(443),
		},
		Nat: &natC{Source: &natSrc{
			InternalSrcAddress: ygot.String("10.0.0.5"), ExternalSrcAddress: ygot.String("203.0.113.7"),
			InternalSrcPort: ygot.Uint16(40312), ExternalSrcPort: ygot.Uint16(61000),
		}},
		Timers: &timersC{Remaining: ygot.Uint32(300)},
	}
	if mod != nil {
		mod(s)
	}
	return s
}

func diffText(r flow.Result) string {
	out := ""
	for _, s := range r.Added {
		out += "\n  added   " + s.GetId()
	}
	for _, s := range r.Removed {
		out += "\n  missing " + s.GetId()
	}
	for _, c := range r.Changed {
		for _, f := range c.Fields {
			out += "\n  changed " + c.ID + " " + f.Path + ": " + fmtAny(f.A) + " -> " + fmtAny(f.B)
		}
	}
	for _, e := range r.Errors {
		out += "\n  error   " + e.Error()
	}
	return out
}

func fmtAny(v any) string {
	if v == nil {
		return "<absent>"
	}
	return fmt.Sprint(v)
}
