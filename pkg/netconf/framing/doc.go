// Package framing implements RFC 6242 section 4 NETCONF message framing over
// a byte stream (an SSH "netconf" subsystem channel), for both the client
// and the server side of a session.
//
// NETCONF messages are XML documents sent back to back on one channel, so the
// transport has to mark where each one ends. RFC 6242 defines two framings:
//
//   - end-of-message (base:1.0): the message is followed by "]]>]]>". Every
//     <hello> uses it, and it stays in use when either peer only speaks
//     base:1.0.
//   - chunked (base:1.1): the message is sent as one or more chunks, each
//     "\n#<size>\n" followed by <size> octets (size 1..4294967295 in decimal,
//     no leading zeros), and ended by "\n##\n". It is switched on right after
//     the hello exchange when both peers advertise base:1.1.
//
// Both ends of a session switch framing between messages, so the Reader and
// the Writer are switched separately with SetChunked; data the peer sent
// right after its hello that is already buffered stays in the Reader and is
// read with the new framing.
//
// Why this package: the framing in github.com/Juniper/go-netconf v0.3.1
// (pinned in go.mod for the client it ships) is broken for real devices. In
// base:1.1 mode it reads up to "\n##\n" and hands back everything before it,
// chunk headers included, so "\n#1234\n" ends up inside the XML; whatever
// follows an end-of-message marker in the same read is dropped (the next
// message, or the start of chunked data after the hello); and it only looks
// for the marker in the last two reads, so a marker split across three or
// more reads (one-byte SSH reads do this) is never found and Receive blocks
// forever.
//
// This package streams: a message is handed out as an io.Reader that yields
// its bytes as they arrive (a 100 MB chunk is never held in memory), and a
// message is written through an io.WriteCloser that emits one chunk per
// internal 64 KiB buffer. Framing errors are reported with what was wrong and
// where (ErrMalformed, ErrTooLarge, io.ErrUnexpectedEOF), and a Reader stays
// failed after one, because the peer's framing can no longer be trusted and
// the session has to be closed.
//
// Concurrency: a Reader and its message readers are meant for one goroutine
// (the session's receive loop); a Writer and its message writers must be
// serialized by the caller. Neither is safe for concurrent use. A Read blocked
// on the underlying connection is unblocked by closing that connection.
package framing
