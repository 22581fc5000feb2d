// Package datastore implements the configuration datastores a NETCONF
// server exposes, running and candidate (RFC 6241 sections 7, 8.3, 8.4 and
// 7.5), over ygot-generated structs and independent of any transport: the
// server decodes the RPC and calls a Store with the caller's session-id.
// Every error meant for the client is a *netconf.RPCError (or
// netconf.RPCErrors) with the error-type, error-tag, error-path and
// error-info of RFC 6241 Appendix A.
//
// # edit-config
//
// The <config> content is decoded with the schema's yangxml.Codec; decode
// problems become rpc-errors (RFC 7950 8.3.1): unknown-element,
// unknown-namespace (with bad-namespace), invalid-value for a value that
// does not fit its type, missing-element for a missing list key,
// bad-attribute for an unknown nc:operation, bad-element for a node given
// twice, malformed-message for content that is not well-formed, each with
// the node's error-path and bad-element. Config false nodes are refused
// (invalid-value).
//
// default-operation is merge, replace (the whole datastore is replaced by
// the content) or none. nc:operation attributes follow RFC 6241 7.2:
// merge; replace (the node's subtree is replaced); create (data-exists if
// the node exists); delete (data-missing if it does not); remove (no error
// if it does not). An operation applies to the node and is inherited by
// its descendants until one carries its own. A leaf that is deleted may be
// given without a value (<mark nc:operation="delete"/>); a leaf-list entry
// is identified by its value. With default-operation none, a container or
// list entry of the content without an operation of its own must exist
// (data-missing otherwise) and leaves without an operation change nothing.
// Existence is checked against the datastore as it was before the request.
//
// Edits are made on a copy that replaces the target only when the whole
// request succeeded: stop-on-error and rollback-on-error both leave the
// target unchanged on any error. continue-on-error skips the failing
// nodes, applies the rest, and returns every error.
//
// Validation (mandatory nodes and value restrictions, yangxml
// Codec.Validate with ConfigData) follows RFC 7950 8.3.2: for the
// candidate it runs at commit and validate, for running at the end of the
// edit. test-option test-only validates the result without storing it;
// an explicit test-then-set also validates a candidate edit; set skips
// validation of a running edit.
//
// # Locks, candidate and commit
//
// Lock fails with lock-denied (error-info session-id of the holder) when
// the lock is held (also by the caller), when the candidate has
// uncommitted changes of another session, and when running is asked for
// while another session has a confirmed commit pending. A datastore
// locked by another session refuses edit-config, copy-config,
// delete-config, discard-changes and commit with in-use. Unlocking the
// candidate, or closing the session that holds its lock, discards its
// uncommitted changes. Unlock by a session that does not hold the lock is
// operation-failed.
//
// Commit validates the candidate, calls the WithApply hook with the old
// and new running, and only if the hook succeeds makes the candidate the
// new running; on failure running is unchanged (operation-failed).
// Confirmed commit (with :confirmed-commit:1.1 persist/persist-id): the
// first confirmed commit records running as the rollback point and starts
// the timer (default 600 s); a further confirmed commit extends it (new
// timeout, same rollback point); a plain commit confirms it. Without
// persist only the issuing session may confirm, extend or cancel it
// (others get in-use) and closing that session rolls it back at once; with
// persist, any session that gives the matching persist-id may (a wrong one
// is invalid-value, none is missing-element). Timeout, cancel-commit and
// session close restore exactly the tree of the rollback point through the
// apply hook; the candidate follows unless it has uncommitted changes. If
// the hook fails during a rollback, running keeps the confirmed
// configuration, the commit stays pending and cancel-commit returns
// rollback-failed.
//
// copy-config copies a datastore or inline configuration into the
// candidate, or into running with WithWritableRunning (validated, through
// the apply hook). delete-config empties the candidate and refuses running.
//
// # Concurrency
//
// A Store is safe for concurrent use. Its trees are immutable once
// stored: changes are built on copies and swapped in under a mutex that is
// never held while decoding, validating or running the apply hook.
// Changes of running (and of the confirmed-commit state) are serialized by
// a semaphore acquired with the caller's context. The apply hook may read
// the Store (Get, Validate) but must not change running.
//
// # Cost of an edit
//
// A change costs what it touches, not the size of the datastore. An edit
// copies only the nodes on the path to what it changes (the other nodes,
// sessions of a large table, are shared with the tree it started from); a
// created or replaced subtree is taken from the decoded request as it is.
// Validation checks what a tree does not share with the last tree that
// passed. For the lists outside list entries the Store remembers which
// keys each edit touched (a lineage), so comparing the trees of a commit,
// validating it, and the apply hook's question of what changed
// (ListChanges) look at those keys only. WithMapClone makes the one copy
// left, of a changed list's map, a fast one.
//
// # Not supported
//
// :startup, :url, the <validate> of inline content, ordered-by-user
// lists and leaf-lists (insert/key/value attributes), when/must/unique
// and min/max-elements (beyond what ygot's validation checks), NACM,
// :partial-lock and XPath or subtree filtering (the server filters what Get
// returns).
package datastore
