package netconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sami-netops/sami/pkg/xmltok"
)

// nsStack tracks namespace declarations while tokenizing.
type nsStack struct {
	b     [][2]string // prefix, uri
	marks []int
}

// push records the declarations of tk's current start tag.
func (n *nsStack) push(tk *xmltok.Tokenizer) {
	n.marks = append(n.marks, len(n.b))
	for i := range tk.NumAttr() {
		p, l, v := tk.Attr(i)
		switch {
		case string(p) == "xmlns":
			n.b = append(n.b, [2]string{string(l), string(v)})
		case len(p) == 0 && string(l) == "xmlns":
			n.b = append(n.b, [2]string{"", string(v)})
		}
	}
}

func (n *nsStack) pop() {
	i := len(n.marks) - 1
	n.b = n.b[:n.marks[i]]
	n.marks = n.marks[:i]
}

func (n *nsStack) lookup(prefix string) string {
	for i := len(n.b) - 1; i >= 0; i-- {
		if n.b[i][0] == prefix {
			return n.b[i][1]
		}
	}
	return ""
}

// snapshot returns the bindings in scope, innermost winning.
func (n *nsStack) snapshot() map[string]string {
	m := make(map[string]string, len(n.b))
	for _, kv := range n.b {
		m[kv[0]] = kv[1]
	}
	return m
}

// firstElement skips the prolog (XML declaration, comments, whitespace)
// and stops on the root start tag.
func firstElement(tk *xmltok.Tokenizer) error {
	for {
		k, err := tk.Next()
		if err != nil {
			return unexpectedEOF(err)
		}
		switch k {
		case xmltok.StartElement:
			return nil
		case xmltok.CharData:
			if t := bytes.TrimLeft(tk.Text(), "\uFEFF"); len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("text %q before the root element", t)
			}
		case xmltok.Directive:
			return errors.New("DTDs and directives are not accepted")
		}
	}
}

// attr returns an unprefixed attribute of the current start tag.
func attr(tk *xmltok.Tokenizer, local string) string {
	for i := range tk.NumAttr() {
		p, l, v := tk.Attr(i)
		if len(p) == 0 && string(l) == local {
			return string(v)
		}
	}
	return ""
}

// parseReply reads an <rpc-reply> whose start tag is tk's current token.
// Protocol problems are returned as err (the session must end); rpc-errors
// of severity error as errs, warnings in the Reply.
func parseReply(tk *xmltok.Tokenizer, id string, data DataFunc) (*Reply, []*RPCError, error) {
	var ns nsStack
	ns.push(tk)
	if uri := ns.lookup(string(tk.Prefix())); uri != BaseNS {
		return nil, nil, fmt.Errorf("%w: <rpc-reply> in namespace %q", ErrProtocol, uri)
	}
	rep := &Reply{MessageID: attr(tk, "message-id")}
	if rep.MessageID != id {
		return nil, nil, fmt.Errorf("%w: reply message-id %q for request %q", ErrProtocol, rep.MessageID, id)
	}
	var errs []*RPCError
	var body bytes.Buffer
	for {
		k, err := tk.Next()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: reply %s: %v", ErrProtocol, id, unexpectedEOF(err))
		}
		switch k {
		case xmltok.StartElement:
			ns.push(tk)
			uri, local := ns.lookup(string(tk.Prefix())), string(tk.Local())
			switch {
			case uri == BaseNS && local == "ok":
				rep.Ok = true
				err = skip(tk)
			case uri == BaseNS && local == "rpc-error":
				var e *RPCError
				e, err = parseRPCError(tk, &ns)
				if e != nil && e.Severity == "warning" {
					rep.Warnings = append(rep.Warnings, e)
				} else if e != nil {
					errs = append(errs, e)
				}
			case uri == BaseNS && local == "data" && data != nil:
				err = data(tk, ns.snapshot())
				if err != nil {
					err = fmt.Errorf("decoding <data>: %w", err)
				}
			case uri == BaseNS && local == "data":
				var b bytes.Buffer
				err = writeChildren(&b, tk, &ns)
				rep.Data = b.Bytes()
			default:
				err = writeElement(&body, tk, &ns, true)
			}
			ns.pop()
			if err != nil {
				return nil, nil, fmt.Errorf("%w: reply %s: %w", ErrProtocol, id, err)
			}
		case xmltok.EndElement:
			if body.Len() > 0 {
				rep.Body = body.Bytes()
			}
			return rep, errs, nil
		case xmltok.Directive:
			return nil, nil, fmt.Errorf("%w: reply %s: DTDs and directives are not accepted", ErrProtocol, id)
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parseRPCError(tk *xmltok.Tokenizer, ns *nsStack) (*RPCError, error) {
	e := &RPCError{}
	for {
		k, err := tk.Next()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		switch k {
		case xmltok.StartElement:
			ns.push(tk)
			name := string(tk.Local())
			lang := ""
			for i := range tk.NumAttr() {
				if p, l, v := tk.Attr(i); string(p) == "xml" && string(l) == "lang" {
					lang = string(v)
				}
			}
			if name == "error-path" {
				e.PathNS = ns.snapshot()
			}
			var text string
			if name == "error-info" {
				e.Info, e.InfoXML, err = parseErrorInfo(tk, ns)
			} else {
				text, err = readText(tk)
			}
			ns.pop()
			if err != nil {
				return nil, err
			}
			text = strings.TrimSpace(text)
			switch name {
			case "error-type":
				e.Type = text
			case "error-tag":
				e.Tag = text
			case "error-severity":
				e.Severity = text
			case "error-app-tag":
				e.AppTag = text
			case "error-path":
				e.Path = text
			case "error-message":
				e.Message, e.Lang = text, lang
			}
		case xmltok.EndElement:
			return e, nil
		}
	}
}

func parseErrorInfo(tk *xmltok.Tokenizer, ns *nsStack) (map[string]string, string, error) {
	info := map[string]string{}
	var raw bytes.Buffer
	for {
		k, err := tk.Next()
		if err != nil {
			return nil, "", unexpectedEOF(err)
		}
		switch k {
		case xmltok.StartElement:
			ns.push(tk)
			name := string(tk.Local())
			var el bytes.Buffer
			text, err := writeElementText(&el, tk, ns)
			ns.pop()
			if err != nil {
				return nil, "", err
			}
			raw.Write(el.Bytes())
			info[name] = strings.TrimSpace(text)
		case xmltok.EndElement:
			return info, raw.String(), nil
		}
	}
}

// readText returns the character data directly inside the current element
// and consumes it up to its end tag.
func readText(tk *xmltok.Tokenizer) (string, error) {
	var sb strings.Builder
	depth := 0
	for {
		k, err := tk.Next()
		if err != nil {
			return "", unexpectedEOF(err)
		}
		switch k {
		case xmltok.CharData:
			if depth == 0 {
				sb.Write(tk.Text())
			}
		case xmltok.StartElement:
			depth++
		case xmltok.EndElement:
			if depth == 0 {
				return sb.String(), nil
			}
			depth--
		}
	}
}

func skip(tk *xmltok.Tokenizer) error {
	depth := 0
	for {
		k, err := tk.Next()
		if err != nil {
			return unexpectedEOF(err)
		}
		switch k {
		case xmltok.StartElement:
			depth++
		case xmltok.EndElement:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// writeChildren re-serializes the children of the current element, each
// top-level child carrying the namespace declarations in scope so it stands
// on its own.
func writeChildren(w *bytes.Buffer, tk *xmltok.Tokenizer, ns *nsStack) error {
	for {
		k, err := tk.Next()
		if err != nil {
			return unexpectedEOF(err)
		}
		switch k {
		case xmltok.StartElement:
			ns.push(tk)
			err := writeElement(w, tk, ns, true)
			ns.pop()
			if err != nil {
				return err
			}
		case xmltok.CharData:
			if len(bytes.TrimSpace(tk.Text())) > 0 {
				xml.EscapeText(w, tk.Text())
			}
		case xmltok.EndElement:
			return nil
		}
	}
}

// writeElement re-serializes the element whose start tag is the current
// token (pushed on ns). With declare, bindings in scope that the element
// does not declare itself are added to its start tag.
func writeElement(w *bytes.Buffer, tk *xmltok.Tokenizer, ns *nsStack, declare bool) error {
	_, err := writeTree(w, tk, ns, declare)
	return err
}

// writeElementText is writeElement that also returns the element's direct text.
func writeElementText(w *bytes.Buffer, tk *xmltok.Tokenizer, ns *nsStack) (string, error) {
	return writeTree(w, tk, ns, true)
}

func writeTree(w *bytes.Buffer, tk *xmltok.Tokenizer, ns *nsStack, declare bool) (string, error) {
	names := []string{writeStart(w, tk, ns, declare)}
	var text strings.Builder
	for {
		k, err := tk.Next()
		if err != nil {
			return "", unexpectedEOF(err)
		}
		switch k {
		case xmltok.StartElement:
			ns.push(tk)
			names = append(names, writeStart(w, tk, ns, false))
		case xmltok.CharData:
			if len(names) == 1 {
				text.Write(tk.Text())
			}
			xml.EscapeText(w, tk.Text())
		case xmltok.EndElement:
			n := len(names) - 1
			w.WriteString("</" + names[n] + ">")
			names = names[:n]
			if n == 0 {
				return text.String(), nil
			}
			ns.pop()
		}
	}
}

// writeStart writes the current start tag and returns its qualified name.
func writeStart(w *bytes.Buffer, tk *xmltok.Tokenizer, ns *nsStack, declare bool) string {
	name := string(tk.Local())
	if p := tk.Prefix(); len(p) > 0 {
		name = string(p) + ":" + name
	}
	w.WriteString("<" + name)
	var own map[string]bool // only needed to declare the namespaces in scope
	if declare {
		own = map[string]bool{}
	}
	for i := range tk.NumAttr() {
		p, l, v := tk.Attr(i)
		w.WriteByte(' ')
		if len(p) > 0 {
			w.Write(p)
			w.WriteByte(':')
		}
		w.Write(l)
		w.WriteString(`="`)
		xml.EscapeText(w, v)
		w.WriteByte('"')
		switch {
		case !declare:
		case string(p) == "xmlns":
			own[string(l)] = true
		case len(p) == 0 && string(l) == "xmlns":
			own[""] = true
		}
	}
	if declare {
		snap := ns.snapshot()
		keys := make([]string, 0, len(snap))
		for p := range snap {
			keys = append(keys, p)
		}
		sortStrings(keys)
		for _, p := range keys {
			if own[p] {
				continue
			}
			if p == "" {
				w.WriteString(` xmlns="`)
			} else {
				w.WriteString(` xmlns:` + p + `="`)
			}
			xml.EscapeText(w, []byte(snap[p]))
			w.WriteByte('"')
		}
	}
	w.WriteByte('>')
	return name
}

// CaptureElement re-serializes the element whose start tag is tk's current
// token, up to its end tag, declaring on it the namespaces in scope (ns plus
// its own), so the bytes stand alone. A Backend that needs the <config> of an
// EditRequest as a document uses it; one that can decode from the token
// stream should (memory stays bounded by an entry instead of the request).
func CaptureElement(tk *xmltok.Tokenizer, ns map[string]string) ([]byte, error) {
	var st nsStack
	for p, u := range ns {
		st.b = append(st.b, [2]string{p, u})
	}
	st.push(tk)
	var b bytes.Buffer
	if err := writeElement(&b, tk, &st, true); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
