// Package migrate is sami's transaction engine: it moves the flow state of
// a moving endpoint from the middleboxes on its old path to those on its
// new path, through device drivers (package device), so that at every
// instant each session is committed on the source, the destination or both,
// never on neither.
//
// A planned migration runs these phases, each written to the journal
// (package journal) before it is acted on:
//
//	plan       open the devices, check the request
//	negotiate  capacity and features at every destination, the administrative
//	           domains of every source/destination pair; refuse before writing
//	lock       the devices, in name order (in-process and the candidate
//	           datastores), so concurrent migrations never deadlock nor interleave
//	snapshot   read the endpoint's sessions at every source
//	transform  normalize (canonical ids), rename zones/interfaces per destination,
//	           strip what the destination cannot hold (when allowed)
//	stage      write them into each destination's candidate
//	commit     confirmed commit with a persist id and a confirm timeout
//	verify     read back: the canonical digest must equal what was written
//	confirm    confirm at every destination
//	cutover    the caller's hook (move the route, resume the VM)
//	eliminate  remove the moved sessions at the sources (confirmed, verified)
//	done       unlock, audit
//
// Any failure before confirm cancels the destinations' commits (the
// devices restore what they had) and leaves the sources untouched. A failure
// after confirm leaves the state on both sides and the migration unfinished
// in the journal: Recover (run at start-up) finishes it. A crashed
// orchestrator is covered twice: by the devices' confirm timeout and by the
// journal, which records the persist ids a new session needs to confirm or
// cancel.
//
// PreCopy moves the state while traffic still flows and keeps the freeze
// window short; Replicator keeps a standby copy of a device's state for
// unplanned moves (the source is gone, the last checkpoint is installed).
package migrate
