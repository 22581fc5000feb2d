// Package yangxml is a schema-driven XML codec between NETCONF payloads and
// ygot-generated Go structs (RFC 7950 section 7 XML encoding).
//
// ygot has JSON (RFC 7951) but no XML, and NETCONF speaks XML. A Codec is
// compiled once from a generated schema (ytypes.Schema) plus the module
// namespaces, and then:
//
//   - decodes a <data> or <config> subtree, or bare top-level data nodes,
//     straight from the token stream into the structs: no DOM of the whole
//     reply is built, and list entries can be handed to a callback one at a
//     time (WithListHandler) so memory is bounded by one entry, not the reply;
//   - encodes structs into <config>/<data> XML with list keys first in key
//     order, a namespace declaration at every module boundary, identityref
//     prefixes declared where they are used, config-false nodes optionally
//     dropped and per-node edit-config operations;
//   - reports every problem as an *Error carrying the data path of the
//     offending node (with list keys) and the input position.
//
// Types: all YANG built-in types that ygot generates code for: integers of
// every width (64-bit ones are plain text in XML, unlike JSON), decimal64
// (fraction-digits kept on output), string (length and pattern checked),
// boolean, empty, binary (base64), enumeration, identityref (prefix resolved
// through the in-scope XML namespace declarations), union (members tried in
// schema order) and leafref (resolved to its target's type). bits is not
// supported because ygot does not generate it.
package yangxml
