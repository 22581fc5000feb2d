package demo

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sami-netops/sami/pkg/simfw"
)

// traffic is the VM's load: it touches the VM's sessions (counters,
// last-seen, idle timers) on the firewall its packets cross, like packets
// would. Pause and Resume bracket the blackout; Resume names the firewall
// the route now goes through.
type traffic struct {
	ids  []string
	rate int // touches per second

	mu      sync.Mutex
	fw      *simfw.Firewall // nil: paused
	touches map[*simfw.Firewall]int
	misses  map[*simfw.Firewall]int
	cancel  context.CancelFunc
	done    chan struct{}
}

// tick is how often the load runs; rate/ticksPerSecond sessions per tick.
const tick = 2 * time.Millisecond

func startTraffic(ctx context.Context, fw *simfw.Firewall, ids []string, rate int) *traffic {
	ctx, cancel := context.WithCancel(ctx)
	t := &traffic{ids: ids, rate: rate, fw: fw, touches: map[*simfw.Firewall]int{}, misses: map[*simfw.Firewall]int{}, cancel: cancel, done: make(chan struct{})}
	go t.run(ctx)
	return t
}

func (t *traffic) run(ctx context.Context) {
	defer close(t.done)
	if t.rate == 0 {
		return
	}
	per := max(1, t.rate*int(tick)/int(time.Second))
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		// The lock is held across the burst: Pause returns only once no
		// touch is under way, so the firewall is quiet from then on.
		t.mu.Lock()
		if fw := t.fw; fw != nil && len(t.ids) > 0 {
			for range per {
				if fw.Touch(t.ids[rand.IntN(len(t.ids))], 1, 1400) {
					t.touches[fw]++
				} else {
					t.misses[fw]++
				}
			}
		}
		t.mu.Unlock()
	}
}

// Pause stops the load (the VM is frozen); no touch runs once it returns.
func (t *traffic) Pause() {
	t.mu.Lock()
	t.fw = nil
	t.mu.Unlock()
}

// Resume sends the load to fw.
func (t *traffic) Resume(fw *simfw.Firewall) {
	t.mu.Lock()
	t.fw = fw
	t.mu.Unlock()
}

// Counts returns the touches that found their session on fw and those
// that did not (a firewall without the flow's state would drop them).
func (t *traffic) Counts(fw *simfw.Firewall) (hit, miss int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.touches[fw], t.misses[fw]
}

// Stop ends the load.
func (t *traffic) Stop() {
	t.cancel()
	<-t.done
}
