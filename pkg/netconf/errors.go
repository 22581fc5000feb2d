package netconf

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for transport and protocol failures.
var (
	// ErrClosed: the session is closed (by us, the peer, or a failure).
	ErrClosed = errors.New("netconf: session closed")
	// ErrProtocol: the peer broke the protocol (bad hello, unknown
	// message-id, malformed reply); the session is closed.
	ErrProtocol = errors.New("netconf: protocol error")
	// ErrTransport: the SSH connection or channel failed.
	ErrTransport = errors.New("netconf: transport error")
	// ErrHostKey: the server's host key is unknown or does not match known_hosts.
	ErrHostKey = errors.New("netconf: host key verification failed")
	// ErrAuth: the server refused every authentication method offered.
	ErrAuth = errors.New("netconf: authentication failed")
	// ErrCapability: the server lacks a capability the operation needs.
	ErrCapability = errors.New("netconf: capability not supported by the server")
)

// RPCError is one <rpc-error> (RFC 6241 section 4.3).
type RPCError struct {
	Type     string // transport, rpc, protocol, application
	Tag      string // e.g. in-use, invalid-value, lock-denied, data-exists
	Severity string // error or warning
	AppTag   string
	Path     string
	// PathNS are the namespace declarations the Path's prefixes need
	// (prefix -> URI); a server declares them on <error-path>, a client
	// records those in scope there.
	PathNS  map[string]string
	Message string
	Lang    string // xml:lang of the message
	// Info holds the <error-info> children as name -> text (e.g.
	// "session-id", "bad-element"); InfoXML is the raw content.
	Info    map[string]string
	InfoXML string
}

func (e *RPCError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "netconf: rpc-error %s/%s", e.Type, e.Tag)
	if e.Severity == "warning" {
		b.WriteString(" (warning)")
	}
	if e.AppTag != "" {
		fmt.Fprintf(&b, " app-tag=%s", e.AppTag)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, " path=%s", strings.TrimSpace(e.Path))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", strings.TrimSpace(e.Message))
	}
	if len(e.Info) > 0 {
		keys := make([]string, 0, len(e.Info))
		for k := range e.Info {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%s", k, e.Info[k])
		}
	}
	return b.String()
}

// Is lets errors.Is match on the tag: errors.Is(err, &RPCError{Tag: "lock-denied"}).
func (e *RPCError) Is(target error) bool {
	t, ok := target.(*RPCError)
	if !ok {
		return false
	}
	return (t.Tag == "" || t.Tag == e.Tag) && (t.Type == "" || t.Type == e.Type) && (t.AppTag == "" || t.AppTag == e.AppTag)
}

// RPCErrors is returned when a reply has more than one error; errors.As
// finds the first *RPCError, and each is reachable through Unwrap.
type RPCErrors []*RPCError

func (es RPCErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes every error to errors.Is and errors.As.
func (es RPCErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func rpcErrorsOf(es []*RPCError) error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return RPCErrors(es)
}
