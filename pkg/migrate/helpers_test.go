package migrate_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openconfig/ygot/ygot"
	"github.com/sami-netops/sami/generated/flowstate"
	"github.com/sami-netops/sami/pkg/agent/agenttest"
	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/flow"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/simfw"
	"github.com/sami-netops/sami/plugins/sami"
)

// lab is a set of in-process agents over simulated firewalls, reached by
// the real sami driver over NETCONF/SSH and gNMI on loopback.
type lab struct {
	t       testing.TB
	mu      sync.Mutex
	agents  map[string]*agenttest.Agent
	fws     map[string]*simfw.Firewall
	jpath   string
	j       *journal.Journal
	opens   map[string]int
	openErr map[string]error
	// wrap, when set, wraps every driver the engine opens.
	wrap func(device.Driver) device.Driver
}

func newLab(t testing.TB, personalities map[string]simfw.Personality) *lab {
	t.Helper()
	l := &lab{t: t, agents: map[string]*agenttest.Agent{}, fws: map[string]*simfw.Firewall{}, opens: map[string]int{}, openErr: map[string]error{}}
	for name, p := range personalities {
		a, fw := agenttest.StartSim(t, name, p)
		l.agents[name], l.fws[name] = a, fw
	}
	l.jpath = filepath.Join(t.TempDir(), "journal.db")
	l.openJournal()
	return l
}

func (l *lab) openJournal() {
	j, err := journal.Open(l.jpath, journal.WithNoSync())
	if err != nil {
		l.t.Fatal(err)
	}
	l.j = j
	l.t.Cleanup(func() { j.Close() })
}

// open is the engine's Opener: inventory name -> the sami driver.
func (l *lab) open(ctx context.Context, name string) (device.Driver, error) {
	l.mu.Lock()
	l.opens[name]++
	err := l.openErr[name]
	a, ok := l.agents[name]
	wrap := l.wrap
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: no device %q", device.ErrConfig, name)
	}
	d, err := sami.Open(ctx, a.Config())
	if err != nil || wrap == nil {
		return d, err
	}
	return wrap(d), nil
}

func (l *lab) engine(opts ...migrate.Option) *migrate.Engine {
	l.t.Helper()
	e, err := migrate.New(l.open, l.j, append([]migrate.Option{migrate.WithConfirmTimeout(30 * time.Second)}, opts...)...)
	if err != nil {
		l.t.Fatal(err)
	}
	return e
}

// ids lists the session ids a device holds, sorted.
func (l *lab) ids(name string) []string {
	var out []string
	for _, s := range l.fws[name].Snapshot() {
		out = append(out, s.GetId())
	}
	slices.Sort(out)
	return out
}

func (l *lab) seed(name string, ss ...*flow.Session) {
	l.t.Helper()
	if err := l.fws[name].Upsert(context.Background(), ss); err != nil {
		l.t.Fatal(err)
	}
}

// vmSessions are n sessions of endpoint vm: TCP with window tracking,
// UDP, and (every fifth) source NAT.
func vmSessions(vm string, n int) []*flow.Session {
	out := make([]*flow.Session, 0, n)
	for i := range n {
		s := &flow.Session{
			AddressFamily: flowstate.SamiFlowState_AddressFamily_ipv4,
			Protocol:      ygot.Uint8(6),
			Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Original{
				SourceAddress: ygot.String(vm), DestinationAddress: ygot.String(fmt.Sprintf("198.51.%d.%d", 100+i/60000, 1+i%200)),
				SourcePort: ygot.Uint16(uint16(1024 + i%60000)), DestinationPort: ygot.Uint16(443),
			},
			Timers: &flowstate.SamiFlowState_FlowState_Sessions_Session_Timers{Remaining: ygot.Uint32(3600)},
		}
		switch i % 3 {
		case 0, 1:
			s.Tcp = &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp{
				State: flowstate.SamiFlowState_TcpState_established,
				Original: &flowstate.SamiFlowState_FlowState_Sessions_Session_Tcp_Original{
					WindowScale: ygot.Uint8(7),
					Flags:       []flowstate.E_SamiFlowState_TcpTrackingFlag{flowstate.SamiFlowState_TcpTrackingFlag_window_scale},
				},
			}
		default:
			s.Protocol = ygot.Uint8(17)
			s.Original.DestinationPort = ygot.Uint16(53)
		}
		if i%5 == 0 {
			s.GetOrCreateNat().Source = &flowstate.SamiFlowState_FlowState_Sessions_Session_Nat_Source{
				InternalSrcAddress: ygot.String(vm), ExternalSrcAddress: ygot.String("203.0.113.9"),
				ExternalSrcPort: ygot.Uint16(uint16(1024 + i%60000)),
			}
		}
		if err := flow.SetKey(s); err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}

func idsOf(ss []*flow.Session) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.GetId())
	}
	slices.Sort(out)
	return out
}

func endpoint(addr string) []flow.Endpoint {
	return []flow.Endpoint{{Address: netip.MustParseAddr(addr)}}
}

func sim(name string) simfw.Personality { return simfw.Vendors()[name] }

func with(p simfw.Personality, f func(*simfw.Personality)) simfw.Personality {
	f(&p)
	return p
}

// subset reports whether every id of want is in have (both sorted).
func subset(want, have []string) bool {
	for _, id := range want {
		if _, ok := slices.BinarySearch(have, id); !ok {
			return false
		}
	}
	return true
}

func disjoint(a, b []string) bool {
	for _, id := range a {
		if _, ok := slices.BinarySearch(b, id); ok {
			return false
		}
	}
	return true
}

// plain are n UDP sessions of addr without NAT: what any device holds.
func plain(addr string, n int) []*flow.Session {
	var out []*flow.Session
	for _, s := range vmSessions(addr, 15*n) {
		if s.GetProtocol() == 17 && s.Nat == nil && len(out) < n {
			out = append(out, s)
		}
	}
	return out
}
