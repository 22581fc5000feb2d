package migrate_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/simfw"
)

// TestConcurrentMigrations runs 50 migrations at once over 6 devices, each
// device the source or destination of many of them: all finish, none
// deadlocks, and every session ends on its destination exactly once.
func TestConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	const devices, migrations, per = 6, 50, 8
	ps := map[string]simfw.Personality{}
	for i := range devices {
		ps[fmt.Sprintf("fw%d", i)] = sim("sami-sim")
	}
	l := newLab(t, ps)
	type job struct {
		vm       string
		src, dst string
		sessions []*flow.Session
	}
	var jobs []job
	for i := range migrations {
		j := job{vm: fmt.Sprintf("10.5.%d.%d", i/200, i%200+1), src: fmt.Sprintf("fw%d", i%devices), dst: fmt.Sprintf("fw%d", (i*7+1)%devices)}
		if j.dst == j.src {
			j.dst = fmt.Sprintf("fw%d", (i+1)%devices)
		}
		j.sessions = vmSessions(j.vm, per)
		l.seed(j.src, j.sessions...)
		jobs = append(jobs, j)
	}
	e := l.engine()
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.Migrate(ctx, migrate.Request{Endpoints: endpoint(j.vm), Sources: []string{j.src}, Destinations: []string{j.dst}})
		}()
	}
	wg.Wait()
	total := 0
	for name := range ps {
		total += len(l.ids(name))
	}
	if total != migrations*per {
		t.Errorf("%d sessions on all devices, want %d (lost or duplicated)", total, migrations*per)
	}
	for i, j := range jobs {
		if errs[i] != nil {
			t.Errorf("migration %d (%s %s->%s): %v", i, j.vm, j.src, j.dst, errs[i])
			continue
		}
		want := idsOf(j.sessions)
		if !subset(want, l.ids(j.dst)) {
			t.Errorf("%s: not all sessions at %s", j.vm, j.dst)
		}
		for name := range ps {
			if name != j.dst && !disjoint(want, l.ids(name)) {
				t.Errorf("%s: sessions left at %s", j.vm, name)
			}
		}
	}
}
