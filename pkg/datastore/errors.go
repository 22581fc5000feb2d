package datastore

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sami-netops/sami/pkg/netconf"
	"github.com/sami-netops/sami/pkg/yangxml"
)

// RFC 6241 Appendix A error-type values.
const (
	typeRPC         = "rpc"
	typeProtocol    = "protocol"
	typeApplication = "application"
)

func rpcError(typ, tag, path, format string, args ...any) *netconf.RPCError {
	return &netconf.RPCError{Type: typ, Tag: tag, Severity: "error", Path: path, Message: fmt.Sprintf(format, args...)}
}

func withInfo(e *netconf.RPCError, kv ...string) *netconf.RPCError {
	if e.Info == nil {
		e.Info = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Info[kv[i]] = kv[i+1]
	}
	return e
}

func lockDenied(ds Datastore, holder Session, why string) *netconf.RPCError {
	e := rpcError(typeProtocol, "lock-denied", "", "%s: %s", ds, why)
	return withInfo(e, "session-id", strconv.FormatUint(uint64(holder), 10))
}

func inUse(ds Datastore, holder Session) *netconf.RPCError {
	return rpcError(typeProtocol, "in-use", "", "the %s datastore is locked by session %d", ds, holder)
}

func operationFailed(format string, args ...any) *netconf.RPCError {
	return rpcError(typeApplication, "operation-failed", "", format, args...)
}

func invalidValue(typ, format string, args ...any) *netconf.RPCError {
	return rpcError(typ, "invalid-value", "", format, args...)
}

// joinRPC returns nil, the single error, or netconf.RPCErrors.
func joinRPC(es []*netconf.RPCError) error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return netconf.RPCErrors(es)
}

var nsInMessage = regexp.MustCompile(`namespace "([^"]*)"`)

// lastElement is the local name of the last node of a data path.
func lastElement(path string) string {
	i := strings.LastIndexByte(trimPredicates(path), '/')
	name := trimPredicates(path)[i+1:]
	if j := strings.IndexByte(name, ':'); j >= 0 {
		name = name[j+1:]
	}
	return name
}

func trimPredicates(p string) string {
	// Drop "[...]" groups, honouring quotes inside them.
	var b strings.Builder
	depth, quote := 0, byte(0)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case depth > 0 && (c == '\'' || c == '"'):
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decodeError maps an error of the XML codec on <config> content to the
// rpc-error RFC 6241 Appendix A and RFC 7950 section 8.3.1 ask for.
func decodeError(err error) *netconf.RPCError {
	var ye *yangxml.Error
	if !errors.As(err, &ye) {
		return operationFailed("decoding the configuration: %v", err)
	}
	msg := ye.Err.Error()
	bad := lastElement(ye.Path)
	var e *netconf.RPCError
	switch {
	case errors.Is(err, yangxml.ErrMalformed):
		// The <config> content is not well-formed: the whole message is.
		return rpcError(typeRPC, "malformed-message", "", "%s", msg)
	case errors.Is(err, yangxml.ErrNamespace):
		if strings.Contains(msg, "prefix") || strings.Contains(msg, "identity") {
			e = rpcError(typeApplication, "invalid-value", ye.Path, "%s", msg)
		} else {
			e = rpcError(typeApplication, "unknown-namespace", ye.Path, "%s", msg)
			if m := nsInMessage.FindStringSubmatch(msg); m != nil {
				withInfo(e, "bad-namespace", m[1])
			}
		}
	case errors.Is(err, yangxml.ErrUnknownElement):
		m := nsInMessage.FindStringSubmatch(msg)
		if strings.Count(trimPredicates(ye.Path), "/") == 1 && m != nil {
			// A top-level element of a module the server does not know.
			e = rpcError(typeApplication, "unknown-namespace", ye.Path, "%s", msg)
			withInfo(e, "bad-namespace", m[1])
		} else {
			e = rpcError(typeApplication, "unknown-element", ye.Path, "%s", msg)
		}
	case errors.Is(err, yangxml.ErrMissingKey):
		e = rpcError(typeApplication, "missing-element", ye.Path, "%s", msg)
		if i := strings.Index(msg, "key leaf <"); i >= 0 {
			bad = strings.TrimSuffix(msg[i+len("key leaf <"):], ">")
		}
	case errors.Is(err, yangxml.ErrInvalidValue) && strings.HasPrefix(strings.TrimPrefix(msg, yangxml.ErrInvalidValue.Error()+": "), "operation "):
		e = rpcError(typeProtocol, "bad-attribute", ye.Path, "%s", msg)
		withInfo(e, "bad-attribute", "operation")
	case errors.Is(err, yangxml.ErrInvalidValue), errors.Is(err, yangxml.ErrOutOfRange):
		e = rpcError(typeApplication, "invalid-value", ye.Path, "%s", msg)
	case errors.Is(err, yangxml.ErrDuplicate):
		e = rpcError(typeApplication, "bad-element", ye.Path, "%s", msg)
	case errors.Is(err, yangxml.ErrUnsupported):
		e = rpcError(typeApplication, "operation-not-supported", ye.Path, "%s", msg)
	default:
		e = rpcError(typeApplication, "operation-failed", ye.Path, "%s", msg)
	}
	if bad != "" {
		withInfo(e, "bad-element", bad)
	}
	return e
}

// validationErrors maps the errors of Codec.Validate to rpc-errors: a
// missing mandatory node is data-missing (RFC 6241 Appendix A: "the
// relevant data model content does not exist"), anything else invalid-value.
func validationErrors(err error) error {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*netconf.RPCError, 0, len(errs))
	for _, e := range errs {
		var ye *yangxml.Error
		path, msg := "", e.Error()
		if errors.As(e, &ye) {
			path, msg = ye.Path, ye.Err.Error()
		}
		var re *netconf.RPCError
		if errors.Is(e, yangxml.ErrMissingMandatory) {
			re = rpcError(typeApplication, "data-missing", path, "%s", msg)
		} else {
			re = rpcError(typeApplication, "invalid-value", path, "%s", msg)
		}
		if path != "" {
			withInfo(re, "bad-element", lastElement(path))
		}
		out = append(out, re)
	}
	return joinRPC(out)
}
