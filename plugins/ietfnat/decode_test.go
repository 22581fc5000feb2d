package ietfnat

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sami-netops/sami/pkg/xmltok"
)

func u32p(v uint32) *uint32 { return &v }

func TestDecodeInstance(t *testing.T) {
	_, inst := loadEntries(t, "entries.xml")
	want := &Instance{ID: 1, Found: true, Name: "cgn-1", Entries: 14, Flavors: []string{"napt44"},
		Protocols: []uint8{6, 17, 1}, LimitPortMappings: u32p(262144)}
	if d := cmp.Diff(want, inst); d != "" {
		t.Errorf("-want +got:\n%s", d)
	}
	for _, tc := range []struct {
		id   uint32
		want Instance
	}{
		{2, Instance{ID: 2, Found: true, Name: "other", Entries: 1}},
		{3, Instance{ID: 3}},
	} {
		f := strings.NewReader(fixtureData(t, "entries.xml"))
		n := 0
		got, err := DecodeMappingTable(f, tc.id, func(*Entry) error { n++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(&tc.want, got); d != "" || uint64(n) != tc.want.Entries {
			t.Errorf("instance %d (%d entries passed): -want +got:\n%s", tc.id, n, d)
		}
	}
}

const (
	natOpen  = `<nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><id>1</id><mapping-table>`
	natClose = `</mapping-table></instance></instances></nat>`
)

func TestDecodeMalformed(t *testing.T) {
	entry := func(children string) string {
		return natOpen + "<mapping-entry>" + children + "</mapping-entry>" + natClose
	}
	for _, tc := range []struct {
		name, doc     string
		index, path   string // of the *EntryError, when there is one
		want          string
		notAnEntryErr bool
	}{
		{name: "index not a number", doc: entry("<index>x</index>"), path: "index", want: `"x": ietfnat: malformed mapping data: not a uint32`},
		{name: "index too large", doc: entry("<index>4294967296</index>"), path: "index", want: "out of range for uint32"},
		{name: "port out of range", doc: entry("<index>5</index><internal-src-port><start-port-number>70000</start-port-number></internal-src-port>"),
			index: "5", path: "internal-src-port/start-port-number", want: "out of range for uint16"},
		{name: "end before start", doc: entry("<index>5</index><external-dst-port><start-port-number>9</start-port-number><end-port-number>8</end-port-number></external-dst-port>"),
			index: "5", path: "external-dst-port/end-port-number", want: "less than start-port-number"},
		{name: "not a prefix", doc: entry("<index>5</index><external-src-address>10.0.0.1/33</external-src-address>"),
			index: "5", path: "external-src-address", want: "not an IP prefix"},
		{name: "zone in an address", doc: entry("<index>5</index><external-src-address>fe80::1%eth0</external-src-address>"),
			index: "5", path: "external-src-address", want: "not an IP prefix"},
		{name: "unknown type", doc: entry("<index>5</index><type>sometimes</type>"), index: "5", path: "type", want: "not static, dynamic-implicit or dynamic-explicit"},
		{name: "protocol out of range", doc: entry("<index>5</index><transport-protocol>256</transport-protocol>"), index: "5", path: "transport-protocol", want: "out of range for uint8"},
		{name: "lifetime negative", doc: entry("<index>5</index><lifetime>-1</lifetime>"), index: "5", path: "lifetime", want: "not a uint32"},
		{name: "leaf twice", doc: entry("<index>5</index><lifetime>1</lifetime><lifetime>2</lifetime>"), index: "5", path: "lifetime", want: "appears twice"},
		{name: "container twice", doc: entry("<index>5</index><internal-src-port/><internal-src-port/>"), index: "5", path: "internal-src-port", want: "appears twice"},
		{name: "no index", doc: entry("<lifetime>2</lifetime>"), path: "index", want: "missing (the list key)"},
		{name: "element in a leaf", doc: entry("<index><x/></index>"), want: "element <x> where a value was expected", notAnEntryErr: true},
		{name: "text in a container", doc: entry("<index>5</index>oops"), want: `text "oops" where elements were expected`, notAnEntryErr: true},
		{name: "instance key not first", doc: `<nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><name>a</name><id>1</id></instance></instances></nat>`,
			want: "<name> before the key <id>", notAnEntryErr: true},
		{name: "instance id not a number", doc: `<nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><id>one</id></instance></instances></nat>`,
			want: `NAT instance id "one"`, notAnEntryErr: true},
		{name: "instance twice", doc: natOpen + natClose[:len(natClose)-len("</instances></nat>")] + "<instance><id>1</id></instance></instances></nat>",
			want: "NAT instance 1 appears twice", notAnEntryErr: true},
		{name: "bad limit", doc: `<nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"><instances><instance><id>1</id><mapping-limits><limit-port-mappings>x</limit-port-mappings></mapping-limits></instance></instances></nat>`,
			want: `mapping-limits/limit-port-mappings "x"`, notAnEntryErr: true},
		{name: "undeclared prefix", doc: `<n:nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"/>`, want: `undeclared namespace prefix "n"`, notAnEntryErr: true},
		{name: "truncated", doc: natOpen + "<mapping-entry><index>5", want: "", notAnEntryErr: true},
		{name: "mismatched end tag", doc: natOpen + "</instance>", want: "closed by", notAnEntryErr: true},
		{name: "DTD", doc: `<!DOCTYPE nat [<!ENTITY x "y">]><nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"/>`, want: "DTDs and directives", notAnEntryErr: true},
		{name: "empty", doc: "  ", want: "empty document", notAnEntryErr: true},
		{name: "text before the root", doc: "x<nat/>", want: "text before the root", notAnEntryErr: true},
		{name: "after the root", doc: `<nat xmlns="urn:ietf:params:xml:ns:yang:ietf-nat"/><nat/>`, want: "content after the root", notAnEntryErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeMappingTable(strings.NewReader(tc.doc), 1, func(*Entry) error { return nil })
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrMalformed saying %q", err, tc.want)
			}
			var ee *EntryError
			if errors.As(err, &ee) == tc.notAnEntryErr {
				t.Fatalf("%T %v: *EntryError expected: %v", err, err, !tc.notAnEntryErr)
			}
			if ee != nil && (ee.Index != tc.index || ee.Path != tc.path) {
				t.Errorf("index %q path %q, want %q %q", ee.Index, ee.Path, tc.index, tc.path)
			}
		})
	}
}

func TestDecodeCallback(t *testing.T) {
	doc := fixtureData(t, "entries.xml")
	stop := errors.New("stop")
	n := 0
	_, err := DecodeMappingTable(strings.NewReader(doc), 1, func(*Entry) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("%v after %d entries, want the callback's error as it is after 2", err, n)
	}
}

// With drain, a bad entry and the callback's error do not stop the reading
// (so a NETCONF session can go on): the rest is consumed, and counted.
func TestDecodeDataDrain(t *testing.T) {
	doc := `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">` +
		strings.Replace(fixtureData(t, "entries.xml"), "<lifetime>300</lifetime>", "<lifetime>x</lifetime>", 1) + "</data>"
	tk := xmltok.NewBytes([]byte(doc))
	if k, err := tk.Next(); err != nil || k != xmltok.StartElement {
		t.Fatal(k, err)
	}
	calls := 0
	inst, fnErr, err := decodeData(tk, map[string]string{"": "urn:ietf:params:xml:ns:netconf:base:1.0"}, 1, true, func(e *Entry, bad error) error {
		calls++
		return bad
	})
	if err != nil {
		t.Fatal(err)
	}
	var ee *EntryError
	if !errors.As(fnErr, &ee) || ee.Index != "2083073217" || ee.Path != "lifetime" {
		t.Errorf("fnErr %v", fnErr)
	}
	if calls != 1 || inst.Entries != 14 {
		t.Errorf("%d calls, %d entries; want 1 and 14", calls, inst.Entries)
	}
	if _, err := tk.Next(); err.Error() != "EOF" {
		t.Errorf("the document was not consumed: %v", err)
	}
}
