package ietfnat

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sami-netops/sami/pkg/flow"
)

var entryRE = regexp.MustCompile(`(?s)<(x:)?mapping-entry[ >].*?</(x:)?mapping-entry>`)

// FuzzDecodeMappingTable: the entry parser never panics or hangs; what it
// accepts survives a write and a second read unchanged; every flow it
// yields converts back into an entry (strictly: nothing the entry said is
// lost) whose session is the same.
func FuzzDecodeMappingTable(f *testing.F) {
	// Small seeds, one entry each (whole fixtures as seeds make the fuzzer
	// spend its time minimizing 10 KB inputs): every entry of the fixtures.
	for _, name := range []string{"entries.xml", "lenient.xml", "stage.golden.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entryRE.FindAll(b, -1) {
			f.Add([]byte(natOpen + string(e) + natClose))
		}
	}
	f.Add([]byte(`<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances>` +
		`<instance><id>1</id><name>a</name><capabilities><nat-flavor>x:napt44</nat-flavor><transport-protocols><protocol-id>6</protocol-id></transport-protocols></capabilities>` +
		`<mapping-limits><limit-port-mappings>9</limit-port-mappings></mapping-limits></instance></instances></nat></data>`))
	f.Add([]byte(natOpen + `<mapping-entry><index>1</index><transport-protocol>58</transport-protocol><internal-src-address>::1/128</internal-src-address>` +
		`<internal-src-port><start-port-number>0</start-port-number></internal-src-port><external-dst-address>::2</external-dst-address></mapping-entry>` + natClose))
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, doc []byte) {
	var entries []*Entry
	inst, err := DecodeMappingTable(bytes.NewReader(doc), 1, func(e *Entry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error without ErrMalformed: %v", err)
		}
		return
	}
	if inst.Entries != uint64(len(entries)) {
		t.Fatalf("Entries %d, passed %d", inst.Entries, len(entries))
	}
	// write -> read gives the same entries
	var re []byte
	re = append(re, natOpen...)
	for _, e := range entries {
		re = appendEntry(re, e, "", false)
	}
	re = append(re, natClose...)
	var again []*Entry
	if _, err := DecodeMappingTable(bytes.NewReader(re), 1, func(e *Entry) error { again = append(again, e); return nil }); err != nil {
		t.Fatalf("re-reading what was written: %v\n%s", err, re)
	}
	if d := cmp.Diff(entries, again, cmpPrefix); d != "" {
		t.Fatalf("write/read changed the entries: %s", d)
	}
	for _, e := range entries {
		s, err := Mapping{}.Session(e)
		if errors.Is(err, ErrNotAFlow) {
			continue
		}
		if err != nil {
			t.Fatalf("entry %d: %v", e.Index, err)
		}
		e2, err := Mapping{}.Entry(s)
		if err != nil {
			t.Fatalf("the session of entry %d cannot be written back: %v", e.Index, err)
		}
		s2, err := Mapping{}.Session(e2)
		if err != nil {
			t.Fatal(err)
		}
		if r := flow.Diff([]*flow.Session{s}, []*flow.Session{s2}); !r.Empty() {
			t.Fatalf("entry %d: session -> entry -> session changed it:%s", e.Index, diffText(r))
		}
	}
}
