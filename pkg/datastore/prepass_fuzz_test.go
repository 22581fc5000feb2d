package datastore

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// prepassXML is the encoding/xml prepass the xmltok one replaced, kept as
// the reference of FuzzPrepass. It finds the nc:operation attributes of the document and cuts out
// the valueless delete/remove leaves. Unknown elements are skipped: the
// decoder reports them.
func (s *Store) prepassXML(data []byte) ([]byte, []rawOp, error) {
	type frame struct {
		name    string
		info    *structInfo // container/list entry/wrapper
		field   *fieldInfo  // nil for the wrapper
		keys    map[string]string
		start   int64
		op      yangxml.Operation
		text    strings.Builder
		child   bool // child element seen
		unknown bool
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	var cuts [][2]int64
	var out []rawOp
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return data, nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			fr := &frame{name: t.Name.Local, start: off}
			for _, a := range t.Attr {
				if a.Name.Space == yangxml.NetconfBaseNS && a.Name.Local == "operation" {
					fr.op = yangxml.Operation(a.Value)
				}
			}
			var parent *frame
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
				parent.child = true
			}
			switch {
			case parent == nil && t.Name.Space == yangxml.NetconfBaseNS && (t.Name.Local == "config" || t.Name.Local == "data"):
				fr.info = s.rootInfo
			case parent != nil && (parent.unknown || parent.info == nil):
				fr.unknown = true
			default:
				pi := s.rootInfo
				if parent != nil {
					pi = parent.info
				}
				f := pi.byName[t.Name.Local]
				if f == nil {
					fr.unknown = true
					break
				}
				fr.field = f
				fr.info = f.elem
				if f.kind == kindList {
					fr.keys = map[string]string{}
				}
			}
			stack = append(stack, fr)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			fr := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if fr.unknown || fr.field == nil {
				continue
			}
			text := strings.TrimSpace(fr.text.String())
			if fr.field.kind == kindLeaf && len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].keys[fr.name] = text
			}
			if fr.op == "" {
				continue
			}
			var path []elemPath
			for _, a := range stack {
				if a.field != nil {
					path = append(path, elemPath{name: a.name, keys: a.keys})
				}
			}
			path = append(path, elemPath{name: fr.name, keys: fr.keys})
			r := rawOp{path: path, op: fr.op, kind: fr.field.kind, value: text}
			if fr.field.kind == kindLeaf && text == "" && !fr.child && (fr.op == yangxml.OpDelete || fr.op == yangxml.OpRemove) {
				r.bare = true
				cuts = append(cuts, [2]int64{fr.start, dec.InputOffset()})
			}
			out = append(out, r)
		}
	}
	if len(cuts) == 0 {
		return data, out, nil
	}
	var b bytes.Buffer
	prev := int64(0)
	for _, c := range cuts {
		b.Write(data[prev:c[0]])
		prev = c[1]
	}
	b.Write(data[prev:])
	return b.Bytes(), out, nil
}

// FuzzPrepass checks the xmltok prepass against the encoding/xml one it
// replaced: on every document both accept, the same operations are found
// and the same leaves cut.
func FuzzPrepass(f *testing.F) {
	for _, seed := range []string{
		cfg(entry(sid1, ` nc:operation="replace"`, full)),
		cfg(entry(sid1, "", `<mark nc:operation="delete"/>`), entry(sid2, ` nc:operation="remove"`, "")),
		cfg(entry(sid1, "", "<mark nc:operation=\"remove\"></mark>\r\n<status nc:operation=\"delete\">assured</status>")),
		cfg(entry(sid1, "", `<label nc:operation="create">3</label><tcp nc:operation="delete"/>`)),
		`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state" xmlns:x="urn:ietf:params:xml:ns:netconf:base:1.0"><sessions><session x:operation="delete"><id>a</id></session></sessions></flow-state></config>`,
		`<flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions><session><id>a</id><mark xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"/><unknown nc:operation="delete"/></session></sessions></flow-state>`,
		`<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><!-- c --><flow-state xmlns="urn:sami:params:xml:ns:yang:sami-flow-state"><sessions><session><id>&lt;a&gt;</id><mark xmlns:n="urn:ietf:params:xml:ns:netconf:base:1.0" n:operation="remove"/><?pi x?></session></sessions></flow-state></config>`,
		cfg(entry(sid1, ` nc:operation="replace"`, "text in a list entry")),
	} {
		f.Add([]byte(seed))
	}
	s := newStore(&testing.T{})
	f.Fuzz(func(t *testing.T, data []byte) {
		wantData, wantOps, wantErr := s.prepassXML(bytes.Clone(data))
		gotData, gotOps, gotErr := s.prepass(bytes.Clone(data))
		if wantErr != nil || gotErr != nil {
			return // xmltok is stricter than encoding/xml; the decoder rejects those anyway
		}
		if !bytes.Equal(wantData, gotData) {
			t.Fatalf("cut document differs:\nencoding/xml: %q\nxmltok:       %q", wantData, gotData)
		}
		for _, ops := range [][]rawOp{wantOps, gotOps} {
			for i := range ops {
				if ops[i].kind == kindContainer || ops[i].kind == kindList {
					ops[i].value = "" // text of a container: unused (the decoder rejects it)
				}
			}
		}
		if diff := cmp.Diff(wantOps, gotOps, cmp.AllowUnexported(rawOp{}, elemPath{})); diff != "" {
			t.Fatalf("operations differ (-encoding/xml +xmltok):\n%s", diff)
		}
	})
}
