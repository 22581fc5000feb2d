package migrate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/simfw"
)

const vm = "10.1.0.5"

func TestPlannedMigration(t *testing.T) {
	ctx := context.Background()
	l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": sim("sami-sim")})
	moving := vmSessions(vm, 30)
	other := vmSessions("10.1.0.99", 7)
	l.seed("fwA", append(moving, other...)...)
	l.seed("fwB", vmSessions("10.2.0.1", 3)...)
	before := l.fws["fwA"].Snapshot()
	var phases []migrate.Phase
	rep, err := l.engine().Migrate(ctx, migrate.Request{
		Requester: "test", Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"},
		Progress: func(ev migrate.Event) {
			if len(phases) == 0 || phases[len(phases)-1] != ev.Phase {
				phases = append(phases, ev.Phase)
			}
		},
	})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if rep.Status != journal.Done || rep.Sessions != 30 || rep.SourceDigest != rep.DestinationDigest {
		t.Errorf("report: status %s sessions %d digests %s / %s", rep.Status, rep.Sessions, rep.SourceDigest, rep.DestinationDigest)
	}
	if got, want := l.ids("fwA"), idsOf(other); !cmp.Equal(got, want) {
		t.Errorf("fwA after: %v, want only the other endpoint's %v", got, want)
	}
	if !subset(idsOf(moving), l.ids("fwB")) || len(l.ids("fwB")) != 33 {
		t.Errorf("fwB after: %d sessions, want 33 incl. all moved", len(l.ids("fwB")))
	}
	// Field by field: what fwB holds equals what fwA had.
	var wasA []*flow.Session
	for _, s := range before {
		if flow.NewMatcher(endpoint(vm)...).Match(s) {
			wasA = append(wasA, s)
		}
	}
	var nowB []*flow.Session
	for _, s := range l.fws["fwB"].Snapshot() {
		if flow.NewMatcher(endpoint(vm)...).Match(s) {
			nowB = append(nowB, s)
		}
	}
	if d := flow.Diff(wasA, nowB, flow.WithTimeoutTolerance(2*time.Second)); !d.Empty() {
		t.Errorf("fwB's copy differs: %d added %d removed %d changed", len(d.Added), len(d.Removed), len(d.Changed))
	}
	want := []migrate.Phase{migrate.PhasePlan, migrate.PhaseNegotiate, migrate.PhaseLock, migrate.PhaseSnapshot, migrate.PhaseTransform,
		migrate.PhaseStage, migrate.PhaseCommit, migrate.PhaseVerify, migrate.PhaseConfirm, migrate.PhaseEliminate, migrate.PhaseSourceDone,
		migrate.PhaseEliminate, migrate.PhaseDone}
	if d := cmp.Diff(want, phases); d != "" {
		t.Errorf("progress phases (-want +got):\n%s", d)
	}
	rec, err := l.j.Get(ctx, rep.ID)
	if err != nil || rec.Status != journal.Done {
		t.Fatalf("journal: %v %v", rec, err)
	}
	audits, err := l.j.Audits(ctx, journal.AuditFilter{})
	if err != nil || len(audits) != 1 || audits[0].Requester != "test" || audits[0].Sessions != 30 || audits[0].Result != "done" {
		t.Errorf("audit: %+v %v", audits, err)
	}
	if len(rep.Phases) == 0 {
		t.Error("no phase timings")
	}
}

func TestRefusedBeforeWriting(t *testing.T) {
	ctx := context.Background()
	small := with(sim("sami-sim"), func(p *simfw.Personality) { p.MaxSessions = 12 })
	tests := []struct {
		name    string
		dst     simfw.Personality
		req     func(*migrate.Request)
		wantErr error
		check   func(t *testing.T, err error, rep *migrate.Report, l *lab)
	}{
		{
			name: "capacity", dst: small, wantErr: migrate.ErrCapacity,
			check: func(t *testing.T, err error, _ *migrate.Report, _ *lab) {
				var ce *migrate.CapacityError
				if !errors.As(err, &ce) || ce.Need != 20 || ce.Free != 10 {
					t.Errorf("error %v, want a CapacityError need 20 free 10", err)
				}
			},
		},
		{
			name: "capacity partial moves what fits", dst: small, req: func(r *migrate.Request) { r.Partial = true },
			check: func(t *testing.T, err error, rep *migrate.Report, l *lab) {
				if err != nil || rep.Sessions != 10 || rep.LeftBehind != 10 {
					t.Fatalf("partial: err %v, moved %d left %d; want 10 and 10", err, rep.Sessions, rep.LeftBehind)
				}
				if a, b := len(l.ids("fwA")), len(l.ids("fwB")); a != 10 || b != 12 {
					t.Errorf("after partial: fwA %d fwB %d, want 10 and 12", a, b)
				}
			},
		},
		{
			name: "features", dst: sim("basic"), wantErr: migrate.ErrUnsupported,
			check: func(t *testing.T, err error, _ *migrate.Report, _ *lab) {
				var fe *migrate.FeatureError
				if !errors.As(err, &fe) || fe.Missing["tcp-window-tracking"] != 14 || fe.Missing["nat"] != 4 || fe.Strippable {
					t.Errorf("error %v, want tcp-window-tracking (14) and nat (4), not strippable", err)
				}
			},
		},
		{
			name: "cross-domain", dst: with(sim("sami-sim"), func(p *simfw.Personality) { p.Domain = "tenant-b" }), wantErr: migrate.ErrCrossDomain,
		},
		{
			name: "cross-domain allowed by rule", dst: with(sim("sami-sim"), func(p *simfw.Personality) { p.Domain = "tenant-b" }),
			req: func(r *migrate.Request) { r.AllowDomains = []migrate.DomainRule{{From: "", To: "tenant-b"}} },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, map[string]simfw.Personality{"fwA": sim("sami-sim"), "fwB": tc.dst})
			l.seed("fwA", vmSessions(vm, 20)...)
			l.seed("fwB", plain("10.9.9.9", 2)...)
			a0, b0 := l.ids("fwA"), l.ids("fwB")
			req := migrate.Request{Endpoints: endpoint(vm), Sources: []string{"fwA"}, Destinations: []string{"fwB"}}
			if tc.req != nil {
				tc.req(&req)
			}
			rep, err := l.engine().Migrate(ctx, req)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if !cmp.Equal(l.ids("fwA"), a0) || !cmp.Equal(l.ids("fwB"), b0) {
					t.Errorf("a refused migration changed a device")
				}
				t.Logf("refused: %v", err)
			} else if tc.check == nil && err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, err, rep, l)
			}
		})
	}
}
