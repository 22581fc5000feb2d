package migrate

import (
	"encoding/hex"
	"time"

	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
)

// Phase names a step of a migration (see the package doc); they are the
// journal's phase names too.
type Phase string

const (
	PhasePlan       Phase = "plan"
	PhaseNegotiate  Phase = "negotiate"
	PhaseLock       Phase = "lock"
	PhaseSnapshot   Phase = "snapshot"
	PhaseTransform  Phase = "transform"
	PhaseStage      Phase = "stage"
	PhaseCommit     Phase = "commit"
	PhaseVerify     Phase = "verify"
	PhaseConfirm    Phase = "confirm"
	PhaseCutover    Phase = "cutover"
	PhaseEliminate  Phase = "eliminate"
	PhaseEliminated Phase = "eliminated" // removal verified at a source, before its confirm
	PhaseSourceDone Phase = "source-confirm"
	PhaseRollback   Phase = "rollback"
	PhaseDone       Phase = "done"
	// Pre-copy phases.
	PhaseRound     Phase = "round"     // one delta round while traffic flows
	PhaseFreeze    Phase = "freeze"    // the blackout window begins
	PhaseReconcile Phase = "reconcile" // late changes the stream had not delivered
)

// Event is a progress report.
type Event struct {
	ID     string
	Phase  Phase
	Device string
	// Done and Total count sessions (Total 0: not counted).
	Done, Total int
	Message     string
	Time        time.Time
}

// PhaseTiming is how long a phase took (summed over devices).
type PhaseTiming struct {
	Phase    Phase         `json:"phase"`
	Duration time.Duration `json:"duration"`
}

// Loss is data a destination could not hold and that was stripped.
type Loss struct {
	Device   string `json:"device"`
	Feature  string `json:"feature"`
	Sessions int    `json:"sessions"`
}

// DeviceReport is what happened at one device.
type DeviceReport struct {
	Device   string `json:"device"`
	Role     string `json:"role"` // "source", "destination", "source+destination"
	Sessions int    `json:"sessions"`
	// Free is the destination's free slots at negotiation (-1: unknown).
	Free   int64  `json:"free"`
	Domain string `json:"domain,omitempty"`
}

// Report is a migration's outcome.
type Report struct {
	ID           string         `json:"id"`
	Kind         Kind           `json:"kind"`
	Requester    string         `json:"requester,omitempty"`
	Endpoints    []string       `json:"endpoints"`
	Status       journal.Status `json:"status"`
	Sources      []string       `json:"sources"`
	Destinations []string       `json:"destinations"`
	Eliminate    []string       `json:"eliminate"`
	Devices      []DeviceReport `json:"devices"`
	// Sessions moved (or, for a dry run, that would move); LeftBehind
	// stayed at the source (partial).
	Sessions   int    `json:"sessions"`
	LeftBehind int    `json:"left-behind"`
	Lost       []Loss `json:"lost,omitempty"`
	// Conflicts counts sessions read from two sources with different
	// content (the first source in name order wins).
	Conflicts         int           `json:"conflicts,omitempty"`
	SourceDigest      string        `json:"source-digest,omitempty"`
	DestinationDigest string        `json:"destination-digest,omitempty"`
	Phases            []PhaseTiming `json:"phases"`
	// PreCopy: the freeze window (cutover hook to final delta committed)
	// and the rounds copied while traffic flowed.
	Blackout time.Duration `json:"blackout,omitempty"`
	Rounds   int           `json:"rounds,omitempty"`
	// FreezeDelta counts the changes written inside the freeze window.
	FreezeDelta int `json:"freeze-delta,omitempty"`
	// Late counts sessions whose change reached the orchestrator only by the
	// read after the freeze (their flows waited longer than Blackout).
	Late int `json:"late,omitempty"`
	// Refreshed counts sessions whose lifetime traffic restarted during the
	// copy without the change stream showing it; they were rewritten after
	// the freeze so the destination does not expire them early.
	Refreshed int `json:"refreshed,omitempty"`
	// Unplanned: the age of the installed checkpoint.
	CheckpointAge time.Duration `json:"checkpoint-age,omitempty"`
	Started       time.Time     `json:"started"`
	Finished      time.Time     `json:"finished"`
	Error         string        `json:"error,omitempty"`
	DryRun        bool          `json:"dry-run,omitempty"`
}

// Duration is the migration's wall time.
func (r *Report) Duration() time.Duration { return r.Finished.Sub(r.Started) }

func (r *Report) addTiming(p Phase, d time.Duration) {
	for i := range r.Phases {
		if r.Phases[i].Phase == p {
			r.Phases[i].Duration += d
			return
		}
	}
	r.Phases = append(r.Phases, PhaseTiming{Phase: p, Duration: d})
}

func digestString(d flow.Digest) string { return hex.EncodeToString(d[:]) }
