package mapping

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/openconfig/goyang/pkg/yang"
	"github.com/openconfig/ygot/ytypes"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// Converter turns vendor data into canonical sessions with one mapping,
// streamed entry by entry. It is safe for concurrent use.
type Converter struct {
	m        *Mapping
	mt       *matcher
	fields   []convField
	schema   *yang.Entry
	codec    *yangxml.Codec
	validate bool
	skip     func(error)
}

type convField struct {
	*Field
	leaf *canonLeaf
}

// ConvertOption configures a Converter.
type ConvertOption func(*Converter)

// WithoutValidation skips the per-session check against the canonical
// model (the codec's value and mandatory checks and ygot's Validate).
// Only for callers that validate themselves.
func WithoutValidation() ConvertOption { return func(c *Converter) { c.validate = false } }

// SkipInvalid makes entries that cannot be converted be reported to fn
// (an *EntryError) and skipped, instead of stopping the conversion.
func SkipInvalid(fn func(error)) ConvertOption { return func(c *Converter) { c.skip = fn } }

// NewConverter prepares m for converting.
func NewConverter(m *Mapping, opts ...ConvertOption) (*Converter, error) {
	cs, err := canon()
	if err != nil {
		return nil, err
	}
	b, err := base()
	if err != nil {
		return nil, err
	}
	c := &Converter{m: m, mt: newMatcher(m), schema: b.schema, codec: b.codec, validate: true}
	for _, f := range m.Fields {
		if !f.Reads() {
			continue
		}
		l, ok := cs.leaf(f.Target)
		if !ok {
			return nil, &Error{File: m.File, Line: f.Line, Key: "fields." + f.Target, Msg: "no such canonical leaf", Err: ErrMapping}
		}
		c.fields = append(c.fields, convField{f, l})
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

type converterBase struct {
	schema *yang.Entry
	codec  *yangxml.Codec
}

// base is what every converter shares: the session schema and the codec
// (both immutable), built once.
var base = sync.OnceValues(func() (converterBase, error) {
	schema, err := flowstate.Schema()
	if err != nil {
		return converterBase{}, err
	}
	codec, err := flow.NewCodec()
	if err != nil {
		return converterBase{}, err
	}
	return converterBase{schema: schema.SchemaTree[sessionStruct], codec: codec}, nil
})

// Mapping returns the converter's mapping.
func (c *Converter) Mapping() *Mapping { return c.m }

// Convert reads a vendor document (XML, or JSON when it starts with '{' or
// '[') and hands every session to fn. An error from fn stops the
// conversion and is returned as is.
func (c *Converter) Convert(ctx context.Context, r io.Reader, fn func(*flow.Session) error) error {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return fmt.Errorf("%w: empty input", ErrConvert)
			}
			return fmt.Errorf("%w: %v", ErrConvert, err)
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.ReadByte()
			continue
		case '{', '[':
			return c.ConvertJSON(ctx, br, fn)
		}
		return c.ConvertXML(ctx, br, fn)
	}
}

// ConvertXML converts an XML document: a NETCONF reply, its <data>, or the
// bare vendor data.
func (c *Converter) ConvertXML(ctx context.Context, r io.Reader, fn func(*flow.Session) error) error {
	return c.mt.streamXML(ctx, r, c.entryFunc(fn))
}

// ConvertJSON converts an RFC 7951 JSON document (or a Junos JSON reply).
func (c *Converter) ConvertJSON(ctx context.Context, r io.Reader, fn func(*flow.Session) error) error {
	return c.mt.streamJSON(ctx, r, c.entryFunc(fn))
}

func (c *Converter) entryFunc(fn func(*flow.Session) error) func(*Node) error {
	n := 0
	return func(node *Node) error {
		n++
		s, err := c.Session(node)
		if err != nil {
			var ee *EntryError
			if errors.As(err, &ee) {
				ee.Entry = n
			}
			if c.skip != nil {
				c.skip(err)
				return nil
			}
			return err
		}
		return fn(s)
	}
}

// Session converts one captured list entry.
func (c *Converter) Session(n *Node) (*flow.Session, error) {
	fail := func(f *Field, path string, err error) error {
		ee := &EntryError{Mapping: c.m.Name, Line: n.Line, Path: path, Err: fmt.Errorf("%w: %w", ErrConvert, err)}
		if f != nil {
			ee.Target = f.Target
		}
		return ee
	}
	var wings [2]*Node
	if w := c.m.Read.Wings; w != nil {
		for _, k := range n.Kids {
			if k.Name != w.List {
				continue
			}
			sel := k.child(w.Selector)
			if sel == nil {
				continue
			}
			switch strings.TrimSpace(sel.Text) {
			case w.Original:
				wings[0] = k
			case w.Reply:
				wings[1] = k
			}
		}
		if wings[0] == nil {
			return nil, fail(nil, w.List, fmt.Errorf("no %s with %s %s (the original direction)", w.List, w.Selector, w.Original))
		}
	}
	tree := map[string]any{}
	var params []any
	for _, f := range c.fields {
		text, present := "", false
		switch {
		case f.IsConst:
			text, present = f.Const, true
		default:
			base := n
			switch f.Wing {
			case "original":
				base = wings[0]
			case "reply":
				base = wings[1]
			}
			if base != nil {
				if v := base.find(f.Path); v != nil {
					text, present = v.Text, true
				}
			}
		}
		if !present {
			if !f.HasDefault {
				continue
			}
			text = f.Default
		}
		v, err := f.value(text, f.leaf)
		if err == errAbsent {
			continue
		}
		if err != nil {
			return nil, fail(f.Field, f.Path, err)
		}
		if name, ok := strings.CutPrefix(f.Target, vendorParamPrefix); ok {
			params = append(params, map[string]any{"vendor": c.m.Vendor.Name, "name": name, "value": v})
			continue
		}
		if err := set(tree, f.Target, v); err != nil {
			return nil, fail(f.Field, f.Path, err)
		}
	}
	if c.m.Identity {
		for _, k := range n.Kids {
			if k.Name != "vendor-parameter" {
				continue
			}
			p := map[string]any{}
			for _, leaf := range []string{"vendor", "name", "value"} {
				if x := k.child(leaf); x != nil {
					p[leaf] = x.Text
				}
			}
			params = append(params, p)
		}
	}
	if len(params) > 0 {
		tree["vendor-parameter"] = params
	}
	s := &flow.Session{}
	if err := ytypes.Unmarshal(c.schema, s, tree); err != nil {
		return nil, fail(nil, "", err)
	}
	if err := c.derive(s); err != nil {
		return nil, fail(nil, "", err)
	}
	if err := flow.SetKey(s); err != nil {
		return nil, fail(nil, "", err)
	}
	if c.validate {
		if err := c.check(s); err != nil {
			return nil, fail(nil, "", err)
		}
	}
	return s, nil
}

// set puts v at path p of a JSON tree.
func set(tree map[string]any, p string, v any) error {
	steps := strings.Split(p, "/")
	for _, s := range steps[:len(steps)-1] {
		next, ok := tree[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			tree[s] = next
		}
		tree = next
	}
	last := steps[len(steps)-1]
	if old, ok := tree[last].([]any); ok { // leaf-list fed by several fields
		if add, ok := v.([]any); ok {
			tree[last] = append(old, add...)
			return nil
		}
	}
	tree[last] = v
	return nil
}

// check validates one session against the canonical model.
func (c *Converter) check(s *flow.Session) error {
	root := &flowstate.Device{FlowState: &flowstate.SamiFlowState_FlowState{Sessions: &flowstate.SamiFlowState_FlowState_Sessions{
		Session: map[string]*flow.Session{*s.Id: s}}}}
	if err := c.codec.Validate(root); err != nil {
		return err
	}
	return s.Validate()
}
