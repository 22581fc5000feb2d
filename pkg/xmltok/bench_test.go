package xmltok

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"sync"
	"testing"
)

// benchDoc is a ~15 MB NETCONF <rpc-reply> of conntrack-like session
// records (~1.5 KB each, indented like a device would send them); every
// tenth record carries namespace declarations and attributes, every
// seventh an entity reference.
var benchDoc = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="101">` + "\n")
	b.WriteString("  <data>\n    <flow-state xmlns=\"urn:sami:params:xml:ns:yang:sami-flow-state\">\n      <sessions>\n")
	for i := 0; b.Len() < 15<<20; i++ {
		writeSession(&b, i)
	}
	b.WriteString("      </sessions>\n    </flow-state>\n  </data>\n</rpc-reply>\n")
	return b.Bytes()
})

func writeSession(b *bytes.Buffer, i int) {
	src := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	port := 10000 + i%50000
	if i%10 == 0 {
		b.WriteString(`        <session xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="merge">` + "\n")
	} else {
		b.WriteString("        <session>\n")
	}
	owner := "vm-42"
	if i%7 == 0 {
		owner = "vm-42&amp;blue"
	}
	fmt.Fprintf(b, `          <id>0/6/%s/%d/192.0.2.80/443</id>
          <address-family>ipv4</address-family>
          <counters>
            <original>
              <bytes>%d</bytes>
              <packets>%d</packets>
            </original>
          </counters>
          <initiator>endpoint</initiator>
          <label>1</label>
          <mark>16</mark>
          <original>
            <destination-address>192.0.2.80</destination-address>
            <destination-port>443</destination-port>
            <source-address>%s</source-address>
            <source-port>%d</source-port>
          </original>
          <owner>
            <domain>tenant-a</domain>
            <endpoint-address>%s</endpoint-address>
            <endpoint-id>%s</endpoint-id>
          </owner>
          <protocol>6</protocol>
          <reply>
            <destination-address>198.51.100.1</destination-address>
            <destination-port>%d</destination-port>
            <source-address>192.0.2.80</source-address>
            <source-port>443</source-port>
          </reply>
          <status>seen-reply</status>
          <status>assured</status>
          <tcp>
            <original>
              <flags>window-scale</flags>
              <window-scale>7</window-scale>
            </original>
            <state xmlns:sfs="urn:sami:params:xml:ns:yang:sami-flow-state">sfs:established</state>
          </tcp>
          <timers>
            <idle-timeout>432000</idle-timeout>
            <remaining>%d</remaining>
          </timers>
          <zone-id/>
        </session>
`, src, port, uint64(i)*1499, i*3, src, port, src, owner, port, 431990-i%1000)
}

func BenchmarkTokenizer(b *testing.B) {
	doc := benchDoc()
	run := func(b *testing.B, newTok func() *Tokenizer) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			tz := newTok()
			for {
				if _, err := tz.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("NewBytes", func(b *testing.B) { run(b, func() *Tokenizer { return NewBytes(doc) }) })
	b.Run("New", func(b *testing.B) { run(b, func() *Tokenizer { return New(bytes.NewReader(doc)) }) })
}

func BenchmarkEncodingXMLRawToken(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		d := xml.NewDecoder(bytes.NewReader(doc))
		for {
			if _, err := d.RawToken(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
