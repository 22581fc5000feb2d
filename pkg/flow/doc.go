// Package flow holds the canonical helpers that every part of sami applies to
// sessions of the sami-flow-state model, so that a source device, a
// destination device and the orchestrator all agree on what a session is:
//
//   - Key, SetKey, CheckKey and ParseKey derive, install, verify and parse the
//     canonical session identifier that the session-id typedef defines. Two
//     devices that hold the same flow derive the same identifier, which is
//     what lets the orchestrator compare and delete sessions by key.
//   - Endpoint and Matcher select the sessions of a moving endpoint, by
//     address in either direction of the flow (including translated
//     addresses) or by owner identifier.
//   - Digester computes an order-independent, streaming SHA-256 digest of a
//     set of sessions, so that a copy read back from the destination can be
//     checked against the source without holding either set in memory.
//   - Diff explains a digest mismatch: which sessions were added, removed or
//     changed, and for a changed one which leaves differ.
//
// The digest and Diff compare a canonical form of a session that a generic
// walker derives from the ygot structs and the embedded YANG schema, so leaves
// added to the model later are covered without changes here. The canonical
// form treats values that mean the same thing as equal (a leaf set to its YANG
// default and an absent leaf, an empty non-presence container and an absent
// one, IP addresses and date-and-time values in different spellings) and
// leaves out the volatile leaves that legitimately change between reading a
// session at the source and reading it back at the destination: the counters
// and the remaining and last-seen timers.
package flow
