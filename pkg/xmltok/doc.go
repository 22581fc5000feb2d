// Package xmltok is the streaming XML tokenizer under sami's NETCONF reply
// reader (package netconf) and schema-driven decoder (package yangxml).
//
// It exists because encoding/xml is too slow for NETCONF replies of 100k
// sessions (~150 MB): Decoder.RawToken measured 53 MB/s and ~238
// allocations per 1.5 KB session record on a 2 vCPU machine, since every
// token is a fresh interface value with copied names and attributes. This
// tokenizer hands out byte slices into its buffer (valid until the next
// Next), decodes references into a reused scratch buffer only for values
// that contain one, scans with byte-class tables, and allocates nothing
// per token in steady state: on the same 15 MB reply and machine,
// BenchmarkTokenizer runs at 730-960 MB/s with 13 allocations per document,
// BenchmarkEncodingXMLRawToken at 46-70 MB/s with 217 per record.
//
// # Tokens
//
// Tokens are those of encoding/xml's RawToken in strict mode, which the
// differential tests and FuzzTokenizer check:
//
//   - <a/> is a StartElement followed by an EndElement with the same name.
//   - Names are split into prefix and local name at a single colon with
//     text on both sides (":a" and "a:" are local names, names with two
//     colons are rejected). Prefixes are not resolved: the caller does that.
//   - Each run of text between markup is one CharData token and each CDATA
//     section is a CharData token of its own (raw content). So adjacent
//     text and CDATA come as several CharData tokens, which the caller
//     concatenates.
//   - The XML declaration and other processing instructions are ProcInst
//     (Local is the target, Text the rest), comments are Comment, and
//     <!DOCTYPE ...> and any other <! markup is a Directive, ended where
//     encoding/xml ends it (quotes, nested <...> and comments skipped).
//     Their Text is raw: no reference decoding or line end normalization.
//   - Text and elements outside the root element are returned as they come
//     (a byte order mark is CharData "\uFEFF", as in encoding/xml); the
//     caller decides what it allows there.
//
// In text and attribute values CRLF and lone CR become LF (XML 1.0 2.11),
// and attribute values are normalized (3.3.3: literal whitespace becomes a
// space, characters written as references are kept).
//
// # Checks
//
// Next returns a *SyntaxError, never panics and never loops, for: invalid
// names; missing or unquoted attribute values, '<' in them, duplicate
// attributes and missing whitespace between them; entity references other
// than the five predefined ones, malformed character references and
// references to characters outside the Char production, and '&' not
// starting a reference; invalid UTF-8 and characters outside Char anywhere;
// "]]>" in text; "--" in comments; a PI target "xml" in any case other than
// an XML declaration at the start of the input (after a byte order mark),
// and declarations other than version 1.0 and UTF-8; markup left
// unterminated at EOF; end tags that do not match the open element
// ("element <a> closed by </b>", "unexpected end element </b>") and elements
// still open at EOF. Names use the XML 1.0 4th edition character classes,
// like encoding/xml (the 5th edition allows more).
//
// Positions are 1-based lines (counted at LF, as encoding/xml does) and
// byte columns. An unterminated construct is reported where it starts.
//
// # Where encoding/xml is more permissive than XML 1.0
//
// These inputs are accepted by RawToken (with end tags matched) and
// rejected here: duplicate attributes (WFC Unique Att Spec); <a b="1"c="2">
// and <?pi!x?> (productions 40 and 16 need whitespace); characters outside
// Char in comments, PIs and directives (encoding/xml checks only text and
// attribute values); &#xD800; and other surrogate references (encoding/xml
// turns them into U+FFFD); <?xml?> without a version, <?XML?>, and XML
// declarations after the start. encoding/xml also only finds
// encoding="..." written without spaces around '=', so it accepts
// <?xml version="1.0" encoding = "latin1"?>. And it does not normalize
// whitespace in attribute values.
//
// # Reading
//
// New reads through a 64 KiB buffer that grows only to hold a single token
// larger than it; there is no limit on that size, so a caller that needs one
// limits the reader. Read is called only when the current token does not
// end within the buffered input, so Next never waits for input beyond the
// token it returns (text needs the '<' after it): it can read a live
// session. The search for a token's end resumes where it stopped, so a
// large token arriving in many small reads costs linear time. Read errors
// other than io.EOF are returned as they are.
package xmltok
