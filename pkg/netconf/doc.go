// Package netconf is sami's NETCONF (RFC 6241) client over SSH (RFC 6242).
//
// Layers, bottom up:
//
//   - framing (subpackage): RFC 6242 end-of-message and chunked framing,
//     streaming in both directions;
//   - Session: the hello exchange, message-id correlation, concurrent
//     callers, replies streamed to the caller (a <get> of 100k sessions is
//     decoded straight from the wire into the yangxml decoder);
//   - operations: Get, GetConfig, EditConfig, Lock, Commit (confirmed,
//     persist), CancelCommit, ... as methods with functional options;
//   - Dial: SSH transport on golang.org/x/crypto/ssh with known_hosts
//     verification, key, agent and password auth, keepalives.
//
// github.com/Juniper/go-netconf v0.3.1 provides the hello message type and
// the RPCMethod interface (adapted by Method); its session and framing are
// not used: its base:1.1 framing is broken, it drops bytes after an
// end-of-message marker, has no context, no message-id check and is not safe
// for concurrent use.
//
// Errors: *RPCError carries every <rpc-error> field and works with
// errors.As; transport and protocol failures wrap the package sentinels.
package netconf
