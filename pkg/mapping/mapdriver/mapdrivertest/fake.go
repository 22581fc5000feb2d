// Package mapdrivertest is a fake NETCONF device for tests of read-only
// mapping drivers: it answers each rpc with a canned reply body chosen by
// the rpc's first element (e.g. "get", "get-flow-session-information").
package mapdrivertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"sync"
	"testing"

	"github.com/sami-netops/sami/pkg/netconf"
)

const eom = "]]>]]>"

// Device is a fake device: Replies maps an operation name to the content
// of <rpc-reply> (for get: "<data>...</data>"); an operation without a
// reply is answered with an operation-not-supported rpc-error.
type Device struct {
	mu      sync.Mutex
	Replies map[string]string
	// Requests are the rpcs received, in order.
	Requests []string
}

var (
	msgID = regexp.MustCompile(`message-id="([^"]*)"`)
	opEl  = regexp.MustCompile(`<rpc[^>]*>\s*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)`)
)

// Session starts the fake over an in-memory pipe and returns a client
// session to it (base:1.0 framing). Both end with the test.
func (d *Device) Session(t testing.TB) *netconf.Session {
	t.Helper()
	client, server := net.Pipe()
	go d.serve(server)
	s, err := netconf.NewSession(context.Background(), client, netconf.WithFirstRPCDelay(0))
	if err != nil {
		t.Fatalf("fake device: hello: %v", err)
	}
	t.Cleanup(func() { s.Close(); server.Close() })
	return s
}

func (d *Device) serve(c io.ReadWriteCloser) {
	defer c.Close()
	hello := `<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities><session-id>7</session-id></hello>`
	if _, err := io.WriteString(c, hello+eom); err != nil {
		return
	}
	r := bufio.NewReader(c)
	first := true
	for {
		msg, err := readMsg(r)
		if err != nil {
			return
		}
		if first { // the client's hello
			first = false
			continue
		}
		id := ""
		if m := msgID.FindSubmatch(msg); m != nil {
			id = string(m[1])
		}
		op := ""
		if m := opEl.FindSubmatch(msg); m != nil {
			op = string(m[1])
		}
		d.mu.Lock()
		d.Requests = append(d.Requests, string(msg))
		body, ok := d.Replies[op]
		d.mu.Unlock()
		if op == "close-session" {
			body, ok = "<ok/>", true
		}
		if !ok {
			body = fmt.Sprintf(`<rpc-error><error-type>protocol</error-type><error-tag>operation-not-supported</error-tag><error-severity>error</error-severity><error-message>fake device: no reply for %s</error-message></rpc-error>`, op)
		}
		reply := fmt.Sprintf(`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%s">%s</rpc-reply>`, id, body)
		if _, err := io.WriteString(c, reply+eom); err != nil {
			return
		}
		if op == "close-session" {
			return
		}
	}
}

func readMsg(r *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		buf.WriteByte(b)
		if bytes.HasSuffix(buf.Bytes(), []byte(eom)) {
			return bytes.TrimSuffix(buf.Bytes(), []byte(eom)), nil
		}
		if buf.Len() > 1<<20 {
			return nil, fmt.Errorf("message too large")
		}
	}
}
