// Package simfw is an in-memory simulated firewall that implements
// backend.Backend, for tests and the demo. A Firewall behaves like a device
// with a given Personality (vendor strings, table size, protocols and
// features) and lets a test inject the faults a real device shows: latency,
// a refused write in the middle of a batch, and a lost connection.
//
// # Writes
//
// Upsert checks the whole batch before it writes anything: every session
// must have a derivable key (flow.Key) that agrees with its id when the id is
// set (sessions without id are stored with the derived one), its protocol
// must be among the personality's protocols, and every optional part of the
// session must be backed by a feature of the personality. The device does
// not silently drop what it cannot store: data it does not support is
// refused with a *FeatureError wrapping backend.ErrUnsupported, so the
// orchestrator's capability negotiation must leave such data out before it
// writes. The features and what needs them:
//
//	ipv6                 address-family ipv6
//	zones                zone-id other than 0
//	nat                  nat/source or nat/destination
//	tcp-window-tracking  tcp/{original,reply}/window-scale or flags
//	seq-tracking         tcp/{original,reply}/sequence-end, sequence-max-end,
//	                     max-window or max-ack
//	alg                  alg/helper, alg/master or alg/state
//	labels               a label
//	marks                a mark other than 0
//
// Liberal tracking needs no feature (a device that does not track windows is
// liberal anyway); confirmed-commit is a property of the agent's datastore
// and does not concern session data.
//
// Then capacity: the keys of the batch that are not in the table yet must fit
// into the free slots, or Upsert returns a *backend.CapacityError with the
// numbers. Within a batch, masters are written before their related sessions:
// sessions are written in the given order, except that a related session
// (alg/master naming a later session of the same batch) pulls its master in
// just before it. A related session whose master is in neither the batch nor
// the table is accepted. Sessions are deep-copied on the way in and on the way
// out, so callers may mutate what they passed or received, except with
// DumpShared and WatchShared: for readers, they hand out sessions that share
// their parts with the stored ones (never changed), without the copy.
// Counters are stored as given.
//
// FailWriteAt makes the n-th session written from then on fail with
// backend.ErrRefused, once. Upsert then returns a *backend.BatchError whose
// Applied counts the leading sessions of the caller's slice that are in the
// table, and the table holds exactly those: when reordering wrote sessions
// beyond that prefix, the simulated device rolls them back (no events are
// emitted for them).
//
// # Timers
//
// A session with timers/remaining expires that many seconds after it was
// written, measured on the firewall's clock (WithClock, default time.Now).
// Reads report the remaining lifetime counted down to the read, in whole
// seconds. Expired sessions stay in the table (reporting 0) until Sweep
// removes them, which emits Destroyed events; WithSweepInterval runs Sweep
// in the background. Touch simulates traffic: it adds to the counters of the
// original direction, sets timers/last-seen and, when packets is not 0,
// restarts the lifetime at timers/idle-timeout unless the session's status
// has fixed-timeout.
//
// # Watch
//
// Every change of the table (Upsert: Created or Updated, also when the new
// copy equals the old; Delete, Sweep: Destroyed; Touch: Updated) is sent to
// every watcher. Events are queued per watcher and never block writers.
// The events of one write (an Upsert or Delete batch, a Touch, a Sweep) are
// queued whole, so a watcher that keeps up is never dropped for the size
// of a write; a watcher that still has a full buffer (WithWatchBuffer) of
// events queued when a write comes is dropped, and its Watch returns
// ErrOverflow after delivering the events queued before: it must
// resynchronize with a Dump. A queued event refers to the stored session
// (a few words); its copy is made when it is delivered, on the watcher's
// goroutine, with the timers as they were when the event happened. Watch
// does not replay the table.
//
// # Faults
//
// SetLatency delays every Upsert, Delete and Dump (in real time, whatever
// the clock) and gives up with the context's error when the context ends
// first; nothing is written then. Disconnect makes every Backend method fail
// with ErrUnreachable, and ends running watches and dumps with it, until
// Reconnect; the table is kept, and the device itself keeps running (Touch,
// Sweep, Len and Snapshot work, and events of that time are not delivered
// to anyone). ErrUnreachable is transient and deliberately not
// backend.ErrClosed, which means the backend is gone for good (Close).
package simfw
