package ietfnat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sami-netops/sami/pkg/xmltok"
)

// Instance is what a decoded document says about the NAT instance, besides
// its mapping entries.
type Instance struct {
	ID    uint32
	Found bool // the instance is in the document
	Name  string
	// Entries counts the mapping entries seen, flows and rules alike.
	Entries uint64
	// Flavors are capabilities/nat-flavor (identity names without prefix).
	Flavors []string
	// Protocols are capabilities/transport-protocols/protocol-id.
	Protocols []uint8
	// LimitPortMappings and LimitAddressMappings are mapping-limits/*.
	LimitPortMappings    *uint32
	LimitAddressMappings *uint32
}

// DecodeMappingTable reads an XML document that holds ietf-nat data (a
// NETCONF <data> or <config> element with a <nat> child, or <nat> itself)
// and passes each mapping entry of NAT instance instanceID to fn, one at a
// time: memory is bounded by an entry, not by the table. Entries of other
// instances are skipped. An error from fn stops the decoding and is returned
// as it is; malformed data gives an error wrapping ErrMalformed (an
// *EntryError when it is inside an entry).
func DecodeMappingTable(r io.Reader, instanceID uint32, fn func(*Entry) error) (*Instance, error) {
	w := &walker{tk: xmltok.New(r)}
root:
	for {
		k, err := w.tk.Next()
		if err != nil {
			if err == io.EOF {
				return nil, fmt.Errorf("%w: empty document", ErrMalformed)
			}
			return nil, w.syntax(err)
		}
		switch k {
		case xmltok.CharData:
			if !isSpace(w.tk.Text()) {
				return nil, fmt.Errorf("%w: text before the root element", ErrMalformed)
			}
			continue
		case xmltok.Comment, xmltok.ProcInst:
			continue
		case xmltok.Directive:
			return nil, fmt.Errorf("%w: DTDs and directives are not accepted", ErrMalformed)
		case xmltok.StartElement:
			break root
		}
	}
	d := &tableDecoder{want: instanceID, fn: func(e *Entry, bad error) error {
		if bad != nil {
			return bad
		}
		return fn(e)
	}}
	d.inst.ID = instanceID
	uri, local, err := w.enter()
	if err != nil {
		return nil, err
	}
	if uri == Namespace && local == "nat" {
		err = d.nat(w)
	} else {
		err = d.wrapper(w)
	}
	if err != nil {
		return nil, unstop(err)
	}
	for { // only comments, PIs and space may follow the root
		k, err := w.tk.Next()
		if err == io.EOF {
			return &d.inst, nil
		}
		if err != nil {
			return nil, w.syntax(err)
		}
		if k == xmltok.CharData && !isSpace(w.tk.Text()) || k == xmltok.StartElement || k == xmltok.Directive {
			return nil, fmt.Errorf("%w: content after the root element", ErrMalformed)
		}
	}
}

// decodeData reads the <data> element of a NETCONF reply whose start tag is
// tk's current token (ns: the declarations in scope). fn gets each entry,
// or the *EntryError of an entry with a bad value (the entry is consumed
// all the same). With drain, an error from fn does not stop the reading:
// the rest of the reply is consumed, so the NETCONF session survives, and
// the error is returned at the end (as fnErr, apart from the errors that
// leave the token stream unusable).
func decodeData(tk *xmltok.Tokenizer, ns map[string]string, instanceID uint32, drain bool, fn func(e *Entry, bad error) error) (inst *Instance, fnErr, err error) {
	w := &walker{tk: tk, depth: 1}
	for p, uri := range ns {
		w.binds = append(w.binds, binding{depth: 1, prefix: p, uri: uri})
	}
	d := &tableDecoder{want: instanceID, fn: fn, drain: drain}
	d.inst.ID = instanceID
	if err := d.wrapper(w); err != nil {
		if s, ok := err.(*stopError); ok {
			return nil, s.err, nil
		}
		return nil, nil, err
	}
	return &d.inst, d.fnErr, nil
}

type tableDecoder struct {
	want  uint32
	fn    func(e *Entry, bad error) error
	drain bool
	fnErr error // first error of fn, when draining
	inst  Instance
}

func (d *tableDecoder) wrapper(w *walker) error {
	return w.children(func(uri, local string) error {
		if uri == Namespace && local == "nat" {
			return d.nat(w)
		}
		return w.skip()
	})
}

func (d *tableDecoder) nat(w *walker) error {
	return w.children(func(uri, local string) error {
		if uri == Namespace && local == "instances" {
			return w.children(func(uri, local string) error {
				if uri == Namespace && local == "instance" {
					return d.instance(w)
				}
				return w.skip()
			})
		}
		return w.skip()
	})
}

func (d *tableDecoder) instance(w *walker) error {
	first := true
	mine := false
	return w.children(func(uri, local string) error {
		if first {
			first = false
			if uri != Namespace || local != "id" {
				return fmt.Errorf("%w: NAT instance: <%s> before the key <id> (RFC 7950 section 7.8.5 puts keys first)", ErrMalformed, local)
			}
			txt, err := w.text()
			if err != nil {
				return err
			}
			id, err := parseUint(txt, 32)
			if err != nil {
				return fmt.Errorf("%w: NAT instance id %q: %v", ErrMalformed, txt, err)
			}
			if uint32(id) != d.want {
				if err := w.skip(); err != nil {
					return err
				}
				return errDone
			}
			if d.inst.Found {
				return fmt.Errorf("%w: NAT instance %d appears twice", ErrMalformed, id)
			}
			mine, d.inst.Found = true, true
			return nil
		}
		if !mine || uri != Namespace {
			return w.skip()
		}
		switch local {
		case "name":
			txt, err := w.text()
			d.inst.Name = txt
			return err
		case "capabilities":
			return d.capabilities(w)
		case "mapping-limits":
			return d.limits(w)
		case "mapping-table":
			return w.children(func(uri, local string) error {
				if uri != Namespace || local != "mapping-entry" {
					return w.skip()
				}
				e, bad, err := decodeEntry(w)
				if err != nil {
					return err
				}
				d.inst.Entries++
				if d.fnErr != nil {
					return nil
				}
				if err := d.fn(e, bad); err != nil {
					if !d.drain {
						return &stopError{err}
					}
					d.fnErr = err
				}
				return nil
			})
		}
		return w.skip()
	})
}

func (d *tableDecoder) capabilities(w *walker) error {
	return w.children(func(uri, local string) error {
		switch {
		case uri == Namespace && local == "nat-flavor":
			txt, err := w.text()
			if i := strings.LastIndexByte(txt, ':'); i >= 0 {
				txt = txt[i+1:]
			}
			d.inst.Flavors = append(d.inst.Flavors, txt)
			return err
		case uri == Namespace && local == "transport-protocols":
			return w.children(func(uri, local string) error {
				if uri != Namespace || local != "protocol-id" {
					return w.skip()
				}
				txt, err := w.text()
				if err != nil {
					return err
				}
				p, err := parseUint(txt, 8)
				if err != nil {
					return fmt.Errorf("%w: capabilities/transport-protocols/protocol-id %q: %v", ErrMalformed, txt, err)
				}
				d.inst.Protocols = append(d.inst.Protocols, uint8(p))
				return nil
			})
		}
		return w.skip()
	})
}

func (d *tableDecoder) limits(w *walker) error {
	return w.children(func(uri, local string) error {
		var dst **uint32
		switch {
		case uri == Namespace && local == "limit-port-mappings":
			dst = &d.inst.LimitPortMappings
		case uri == Namespace && local == "limit-address-mappings":
			dst = &d.inst.LimitAddressMappings
		default:
			return w.skip()
		}
		txt, err := w.text()
		if err != nil {
			return err
		}
		v, err := parseUint(txt, 32)
		if err != nil {
			return fmt.Errorf("%w: mapping-limits/%s %q: %v", ErrMalformed, local, txt, err)
		}
		n := uint32(v)
		*dst = &n
		return nil
	})
}

// Leaves of a mapping entry, as bits for duplicate detection.
const (
	fIndex = 1 << iota
	fType
	fProto
	fISrcAddr
	fISrcPort
	fESrcAddr
	fESrcPort
	fIDstAddr
	fIDstPort
	fEDstAddr
	fEDstPort
	fLifetime
)

// decodeEntry reads a mapping-entry whose start tag was just entered, up to
// its end tag. A bad value makes the entry bad (an *EntryError, the first
// one found) but does not stop the reading; err is for XML that cannot be
// read on. Leaves of other namespaces (augments) and unknown ietf-nat leaves
// (a later revision) are skipped.
func decodeEntry(w *walker) (entry *Entry, bad, err error) {
	e := &Entry{}
	var seen uint16
	idx := ""
	var first *EntryError
	note := func(path, value string, err error) error {
		if first == nil {
			first = &EntryError{Index: idx, Path: path, Value: value, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
		}
		return nil
	}
	err = w.children(func(uri, local string) error {
		if uri != Namespace {
			return w.skip()
		}
		var bit uint16
		var ep *Endpoint
		switch local {
		case "index":
			bit = fIndex
		case "type":
			bit = fType
		case "transport-protocol":
			bit = fProto
		case "internal-src-address", "internal-src-port":
			bit, ep = fISrcAddr, &e.InternalSrc
		case "external-src-address", "external-src-port":
			bit, ep = fESrcAddr, &e.ExternalSrc
		case "internal-dst-address", "internal-dst-port":
			bit, ep = fIDstAddr, &e.InternalDst
		case "external-dst-address", "external-dst-port":
			bit, ep = fEDstAddr, &e.ExternalDst
		case "lifetime":
			bit = fLifetime
		default:
			return w.skip()
		}
		if strings.HasSuffix(local, "-port") {
			bit <<= 1 // the port container's bit follows its address's
			if seen&bit != 0 {
				note(local, "", errors.New("appears twice"))
				return w.skip()
			}
			seen |= bit
			return decodePorts(w, &ep.Ports, local, note)
		}
		if seen&bit != 0 {
			note(local, "", errors.New("appears twice"))
			return w.skip()
		}
		seen |= bit
		txt, err := w.text()
		if err != nil {
			return err
		}
		switch local {
		case "index":
			v, err := parseUint(txt, 32)
			if err != nil {
				return note(local, txt, err)
			}
			e.Index, idx = uint32(v), strings.TrimSpace(txt)
		case "type":
			if t := EntryType(strings.TrimSpace(txt)); t.valid() {
				e.Type = t
			} else {
				return note(local, txt, errors.New("not static, dynamic-implicit or dynamic-explicit"))
			}
		case "transport-protocol":
			v, err := parseUint(txt, 8)
			if err != nil {
				return note(local, txt, err)
			}
			p := uint8(v)
			e.Protocol = &p
		case "lifetime":
			v, err := parseUint(txt, 32)
			if err != nil {
				return note(local, txt, err)
			}
			l := uint32(v)
			e.Lifetime = &l
		default: // an address
			p, err := parsePrefix(txt)
			if err != nil {
				return note(local, txt, err)
			}
			ep.Prefix = p
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if first != nil {
		if first.Index == "" {
			first.Index = idx
		}
		return e, first, nil
	}
	if seen&fIndex == 0 {
		return e, &EntryError{Path: "index", Err: fmt.Errorf("%w: missing (the list key)", ErrMalformed)}, nil
	}
	return e, nil, nil
}

func decodePorts(w *walker, r *PortRange, container string, note func(path, value string, err error) error) error {
	err := w.children(func(uri, local string) error {
		var dst **uint16
		switch {
		case uri == Namespace && local == "start-port-number":
			dst = &r.Start
		case uri == Namespace && local == "end-port-number":
			dst = &r.End
		default:
			return w.skip()
		}
		path := container + "/" + local
		if *dst != nil {
			note(path, "", errors.New("appears twice"))
			return w.skip()
		}
		txt, err := w.text()
		if err != nil {
			return err
		}
		v, err := parseUint(txt, 16)
		if err != nil {
			return note(path, txt, err)
		}
		p := uint16(v)
		*dst = &p
		return nil
	})
	if err != nil {
		return err
	}
	if r.Start != nil && r.End != nil && *r.End < *r.Start {
		note(container+"/end-port-number", strconv.Itoa(int(*r.End)), errors.New("less than start-port-number"))
	}
	return nil
}

// parsePrefix parses an inet:ip-prefix. A bare address is taken as a host
// prefix: some devices print host bindings that way.
func parsePrefix(txt string) (netip.Prefix, error) {
	txt = strings.TrimSpace(txt)
	if !strings.Contains(txt, "/") {
		a, err := netip.ParseAddr(txt)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, errors.New("not an IP prefix")
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(txt)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP prefix")
	}
	return p, nil
}

func parseUint(txt string, bits int) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(txt), 10, bits)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("out of range for uint%d", bits)
		}
		return 0, fmt.Errorf("not a uint%d", bits)
	}
	return v, nil
}

// stopError carries an error of the caller's fn through the decoder
// unchanged.
type stopError struct{ err error }

func (s *stopError) Error() string { return s.err.Error() }

func unstop(err error) error {
	if s, ok := err.(*stopError); ok {
		return s.err
	}
	return err
}

// walker reads elements with their namespaces resolved.
type walker struct {
	tk    *xmltok.Tokenizer
	binds []binding
	depth int // elements open
}

type binding struct {
	depth       int
	prefix, uri string
}

func (w *walker) lookup(prefix string) (string, bool) {
	for i := len(w.binds) - 1; i >= 0; i-- {
		if w.binds[i].prefix == prefix {
			return w.binds[i].uri, true
		}
	}
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	return "", prefix == ""
}

// enter opens the current start tag: its declarations come into scope.
func (w *walker) enter() (uri, local string, err error) {
	w.depth++
	for i := range w.tk.NumAttr() {
		p, l, v := w.tk.Attr(i)
		switch {
		case len(p) == 0 && string(l) == "xmlns":
			w.binds = append(w.binds, binding{w.depth, "", string(v)})
		case string(p) == "xmlns":
			w.binds = append(w.binds, binding{w.depth, string(l), string(v)})
		}
	}
	uri, ok := w.lookup(string(w.tk.Prefix()))
	if !ok {
		line, col := w.tk.InputPos()
		return "", "", fmt.Errorf("%w: line %d column %d: undeclared namespace prefix %q", ErrMalformed, line, col, w.tk.Prefix())
	}
	return uri, string(w.tk.Local()), nil
}

// leave closes the current element.
func (w *walker) leave() {
	for len(w.binds) > 0 && w.binds[len(w.binds)-1].depth == w.depth {
		w.binds = w.binds[:len(w.binds)-1]
	}
	w.depth--
}

// children calls fn for each child element of the open element, with the
// child entered; fn must consume it (up to its end tag). Space between
// elements is ignored; other text is an error.
func (w *walker) children(fn func(uri, local string) error) error {
	for {
		k, err := w.tk.Next()
		if err != nil {
			return w.syntax(err)
		}
		switch k {
		case xmltok.StartElement:
			uri, local, err := w.enter()
			if err != nil {
				return err
			}
			if err := fn(uri, local); err == errDone {
				return nil
			} else if err != nil {
				return err
			}
		case xmltok.EndElement:
			w.leave()
			return nil
		case xmltok.CharData:
			if !isSpace(w.tk.Text()) {
				line, col := w.tk.InputPos()
				return fmt.Errorf("%w: line %d column %d: text %q where elements were expected", ErrMalformed, line, col, clip(w.tk.Text()))
			}
		case xmltok.Directive:
			return fmt.Errorf("%w: DTDs and directives are not accepted", ErrMalformed)
		}
	}
}

// text reads the value of the open leaf element, up to its end tag.
func (w *walker) text() (string, error) {
	var b []byte
	for {
		k, err := w.tk.Next()
		if err != nil {
			return "", w.syntax(err)
		}
		switch k {
		case xmltok.CharData:
			b = append(b, w.tk.Text()...)
		case xmltok.StartElement:
			line, col := w.tk.InputPos()
			return "", fmt.Errorf("%w: line %d column %d: element <%s> where a value was expected", ErrMalformed, line, col, w.tk.Local())
		case xmltok.EndElement:
			w.leave()
			return string(b), nil
		case xmltok.Directive:
			return "", fmt.Errorf("%w: DTDs and directives are not accepted", ErrMalformed)
		}
	}
}

// errDone, returned by a children callback, says that the callback consumed
// the rest of the parent element too.
var errDone = errors.New("element consumed")

// skip consumes the open element.
func (w *walker) skip() error {
	for nest := 0; ; {
		k, err := w.tk.Next()
		if err != nil {
			return w.syntax(err)
		}
		switch k {
		case xmltok.StartElement:
			nest++
		case xmltok.EndElement:
			if nest == 0 {
				w.leave()
				return nil
			}
			nest--
		case xmltok.Directive:
			return fmt.Errorf("%w: DTDs and directives are not accepted", ErrMalformed)
		}
	}
}

func (w *walker) syntax(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: document ends inside an element", ErrMalformed)
	}
	var se *xmltok.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %v", ErrMalformed, se)
	}
	return err
}

func isSpace(b []byte) bool { return len(bytes.TrimLeft(b, " \t\r\n")) == 0 }

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
