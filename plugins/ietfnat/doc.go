// Package ietfnat is the device driver for NATs that serve the RFC 8512
// NAT model (ietf-nat@2019-01-10) over NETCONF: the bindings of one NAT
// instance's mapping table (/nat/instances/instance/mapping-table/
// mapping-entry) are read and written as sessions of the sami model.
//
// # Mapping
//
// RFC 8512 names an entry's sides by realm, as the sami model's nat
// container does: internal-src is the initiator's source before source
// translation, external-src what it becomes; external-dst is where the
// initiator sent to, internal-dst what destination translation makes of it.
// So an entry maps to a session as
//
//	transport-protocol                    protocol (absent: any protocol, a rule)
//	internal-src-address (/32, /128), -port  original source address and port (ICMP: identifier)
//	external-dst-address, -port              original destination address and port
//	external-src-address, -port              nat/source/external-src-* when they differ from internal-src
//	internal-dst-address, -port              nat/destination/internal-dst-* when they differ from external-dst
//	type static / dynamic-*                  nat/type static / dynamic (dynamic-explicit is read as dynamic)
//	lifetime                                 timers/remaining
//	index                                    none: chosen by the driver (below), not part of the session
//
// Writing is the inverse: internal-src and external-dst always carry the
// original tuple, external-src and internal-dst only a translation (RFC
// 8512: a leaf that is absent is not rewritten). Reading is lenient about
// how a device spells an untranslated side: an entry with only external-src
// (an inbound client in its own realm) or only internal-dst, or with both
// sides equal, is an untranslated direction. The zone-id of every session
// is the driver option zone-id (default 0): a device whose NAT instances
// stand for VRFs maps each instance to a zone. The reply tuple is derived
// (the inverse of the original with the translation applied) unless the
// option reply is "omit".
//
// Entries that are rules rather than the binding of one flow are skipped by
// Read (and counted in the log): a prefix wider than one host, a port range,
// no transport-protocol, no source or destination, a port protocol without
// ports, mixed address families (NAT64, CLAT: the sami model has one
// address-family per session).
//
// # What an entry cannot carry
//
// TCP and SCTP state, windows and sequence tracking, status, marks, labels,
// ALG data, location, initiator, owner, idle-timeout, vendor data and
// parameters have no place in a mapping entry; nor has the ICMP type or
// code (an ICMP entry is read as an echo request, and only echo requests
// are written), an identity translation, a translation between address
// families, or a zone other than the instance's. Stage refuses a session
// holding any of these, before anything is written, with an error naming
// each leaf (ErrInexpressible), unless the option lossy is true: then it
// writes Mapping.Project of the session, which is also what reading it back
// gives. Counters and the created and last-seen timers are volatile and
// neither refused nor written. Capabilities lists only the features an
// entry can carry: nat, ipv6 (when the instance's nat-flavor or the
// ietf-nat features in the hello include nptv6 or nat64), zones (when the
// instance maps to a zone), confirmed-commit.
//
// # Indexes
//
// The list key, index, is device-local. A written session gets
// IndexFor(id, 0), the first 32 bits of SHA-256 of its canonical id (0 is
// moved to 1); when that index holds another flow's entry (a rule, a
// native binding, a hash collision: with 100k entries in 2^32 indexes about
// one collision is expected), the next probe IndexFor(id, 1), ... is taken.
// A flow that already has an entry keeps its index (replace). Stage reads
// the candidate's table to know the taken indexes, and keeps it while the
// driver holds the candidate lock; Remove finds the entries of an id in the
// same table, whatever their index, so it also removes native entries.
//
// # Transactions
//
// Stage and Remove edit the candidate (each entry replaced or removed as a
// whole; with :rollback-on-error a refused edit changes nothing), Commit
// is <commit> with confirmed, confirm-timeout, persist and persist-id,
// Confirm a confirming <commit> (with persist-id), Cancel <cancel-commit>.
// Watch polls (see Driver.Watch). A lost NETCONF session is re-dialled on
// the next call; if it held the candidate lock, writes fail with
// device.ErrUnreachable until Lock or Discard, because the lock and a
// non-persistent confirmed commit went with it.
//
// Driver options are the Opt constants; register the driver with Register.
// docs/drivers.md (section ietf-nat) is the operator's reference.
package ietfnat
