package ietfnat

import (
	"bufio"
	"encoding/xml"
	"io"
	"net/netip"
	"strconv"

	"github.com/sami-netops/sami/pkg/netconf"
)

// AppendXML appends e as a standalone <mapping-entry> element (with the
// ietf-nat namespace declared on it) to b, children in schema order.
func (e *Entry) AppendXML(b []byte) []byte {
	return appendEntry(b, e, "", true)
}

// appendEntry writes e, its key first (RFC 7950 7.8.5). op, when set, is
// the nc:operation (the nc prefix is declared by the edit document).
func appendEntry(b []byte, e *Entry, op string, withNS bool) []byte {
	b = append(b, "<mapping-entry"...)
	if withNS {
		b = append(b, ` xmlns="`+Namespace+`"`...)
	}
	if op != "" {
		b = append(b, ` nc:operation="`...)
		b = append(b, op...)
		b = append(b, '"')
	}
	b = append(b, "><index>"...)
	b = strconv.AppendUint(b, uint64(e.Index), 10)
	b = append(b, "</index>"...)
	if e.Type != "" {
		b = append(b, "<type>"...)
		b = append(b, e.Type...)
		b = append(b, "</type>"...)
	}
	if e.Protocol != nil {
		b = append(b, "<transport-protocol>"...)
		b = strconv.AppendUint(b, uint64(*e.Protocol), 10)
		b = append(b, "</transport-protocol>"...)
	}
	b = appendEndpoint(b, "internal-src", e.InternalSrc)
	b = appendEndpoint(b, "external-src", e.ExternalSrc)
	b = appendEndpoint(b, "internal-dst", e.InternalDst)
	b = appendEndpoint(b, "external-dst", e.ExternalDst)
	if e.Lifetime != nil {
		b = append(b, "<lifetime>"...)
		b = strconv.AppendUint(b, uint64(*e.Lifetime), 10)
		b = append(b, "</lifetime>"...)
	}
	return append(b, "</mapping-entry>"...)
}

func appendEndpoint(b []byte, name string, ep Endpoint) []byte {
	if ep.Prefix.IsValid() {
		b = append(b, '<')
		b = append(b, name...)
		b = append(b, "-address>"...)
		b = appendPrefix(b, ep.Prefix)
		b = append(b, "</"...)
		b = append(b, name...)
		b = append(b, "-address>"...)
	}
	if !ep.Ports.empty() {
		b = append(b, '<')
		b = append(b, name...)
		b = append(b, "-port>"...)
		if ep.Ports.Start != nil {
			b = append(b, "<start-port-number>"...)
			b = strconv.AppendUint(b, uint64(*ep.Ports.Start), 10)
			b = append(b, "</start-port-number>"...)
		}
		if ep.Ports.End != nil {
			b = append(b, "<end-port-number>"...)
			b = strconv.AppendUint(b, uint64(*ep.Ports.End), 10)
			b = append(b, "</end-port-number>"...)
		}
		b = append(b, "</"...)
		b = append(b, name...)
		b = append(b, "-port>"...)
	}
	return b
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	b = p.Addr().AppendTo(b)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(p.Bits()), 10)
}

// editConfig is the <config> of an edit of one instance's mapping table:
// the instance is merged (created, with name, when it does not exist yet)
// and each entry carries its own operation.
type editConfig struct {
	instance uint32
	name     string // written only when creating the instance
	entries  []*Entry
	indexes  []uint32 // removals
}

func (c *editConfig) WriteConfig(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`<config xmlns="` + netconf.BaseNS + `"><nat xmlns="` + Namespace + `" xmlns:nc="` + netconf.BaseNS +
		`"><instances><instance><id>`)
	bw.WriteString(strconv.FormatUint(uint64(c.instance), 10))
	bw.WriteString("</id>")
	if c.name != "" {
		bw.WriteString("<name>")
		xml.EscapeText(bw, []byte(c.name))
		bw.WriteString("</name>")
	}
	bw.WriteString("<mapping-table>")
	var b []byte
	for _, e := range c.entries {
		// replace: a session is created or replaced as a whole, so leaves
		// of an earlier version of the entry do not survive.
		b = appendEntry(b[:0], e, "replace", false)
		bw.Write(b)
	}
	for _, i := range c.indexes {
		// remove (not delete): an entry that is already gone is no error.
		b = append(b[:0], `<mapping-entry nc:operation="remove"><index>`...)
		b = strconv.AppendUint(b, uint64(i), 10)
		b = append(b, "</index></mapping-entry>"...)
		bw.Write(b)
	}
	bw.WriteString("</mapping-table></instance></instances></nat></config>")
	return bw.Flush()
}

// instanceFilter is the subtree filter selecting one instance; with table,
// only its key, name and mapping table, else the whole instance.
func instanceFilter(id uint32, table bool) netconf.Filter {
	inner := ""
	if table {
		inner = "<name/><mapping-table/>"
	}
	return netconf.Subtree(`<nat xmlns="` + Namespace + `"><instances><instance><id>` +
		strconv.FormatUint(uint64(id), 10) + `</id>` + inner + `</instance></instances></nat>`)
}
