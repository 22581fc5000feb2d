// Package topology tells the migration engine which middleboxes hold an
// endpoint's state and which must receive it.
//
// An Inventory (YAML, see docs/topology.md) lists the devices (address,
// driver, administrative domain, credentials by reference), the locations
// endpoints attach to, with the middleboxes each direction of their
// traffic crosses (ingress: toward the endpoint; egress: from it), and the
// rules that let state cross domains. Load is strict: an unknown field is
// an error, and every error names the file line and the field.
//
// Resolve plans a move between two locations for the four cases of
// asymmetric routing (draft-gu-statemigration-framework, 4.1): the two
// directions crossing the same or different boxes, before and after. The
// Move lists the sources (every old-path box), the destinations (every
// new-path box), the sources to eliminate (those not on the new path) and
// the pairs (which source feeds which destination, per direction).
// CrossDomain lists the pairs that cross administrative domains.
//
// Agents can announce themselves instead of being configured: a Directory
// holds their announcements (with a TTL, renewed by re-announcing), served
// over HTTP with a bearer token by NewHandler, fed by Announce on the agent.
// Inventory.Merge adds the live agents to a view of the inventory (the file
// wins on conflict) and PinHostKeys pins their announced SSH host keys.
package topology
