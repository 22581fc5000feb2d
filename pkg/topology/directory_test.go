package topology

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/crypto/ssh/knownhosts"
)

// fakeClock is the directory's injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var nextPort atomic.Int32

// announcement is a valid announcement with a fresh host key and address.
func announcement(t testing.TB, name string) Announcement {
	_, hk := hostKey(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+int(nextPort.Add(1))))
	return Announcement{Name: name, Address: addr, Driver: "sami", Domain: "east", Location: "s1", HostKey: hk, TTL: 10 * time.Second}
}

func names(agents []Agent) []string {
	out := []string{}
	for _, a := range agents {
		out = append(out, a.Name)
	}
	return out
}

func TestDirectoryExpiry(t *testing.T) {
	clock := newFakeClock()
	d := NewDirectory(WithClock(clock.Now))
	a, b := announcement(t, "fw-a"), announcement(t, "fw-b")
	b.TTL = 30 * time.Second
	for _, x := range []Announcement{a, b} {
		if _, err := d.Register(x); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name    string
		advance time.Duration
		beat    string // heartbeat this agent after advancing
		want    []string
	}{
		{"both live", 9 * time.Second, "", []string{"fw-a", "fw-b"}},
		{"heartbeat extends fw-a by its TTL", 0, "fw-a", []string{"fw-a", "fw-b"}},
		{"9 s after the heartbeat", 9 * time.Second, "", []string{"fw-a", "fw-b"}},
		{"fw-a expires 10 s after its heartbeat", time.Second, "", []string{"fw-b"}},
		{"fw-b expires 30 s after registering", 11 * time.Second, "", []string{}},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		if s.beat != "" {
			if _, err := d.Heartbeat(s.beat); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		if diff := cmp.Diff(s.want, names(d.List())); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", s.name, diff)
		}
	}
	if _, err := d.Heartbeat("fw-a"); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("heartbeat after expiry: %v, want ErrNotRegistered", err)
	}
	if _, ok := d.Lookup("fw-b"); ok {
		t.Error("Lookup found an expired agent")
	}
	// Announcing again brings it back, registered anew.
	ag, err := d.Register(a)
	if err != nil || !ag.Registered.Equal(clock.Now()) || !ag.Expires.Equal(clock.Now().Add(10*time.Second)) {
		t.Errorf("re-register: %+v, %v", ag, err)
	}
}

func TestDirectoryTTL(t *testing.T) {
	clock := newFakeClock()
	d := NewDirectory(WithClock(clock.Now), WithTTL(20*time.Second, time.Minute))
	for _, tt := range []struct {
		ttl, want time.Duration
	}{{0, 20 * time.Second}, {5 * time.Second, 5 * time.Second}, {time.Hour, time.Minute}} {
		a := announcement(t, "fw")
		a.TTL = tt.ttl
		d.Remove("fw")
		ag, err := d.Register(a)
		if err != nil {
			t.Fatal(err)
		}
		if ag.TTL != tt.want || !ag.Expires.Equal(clock.Now().Add(tt.want)) {
			t.Errorf("TTL %v: got %v expiring %v, want %v", tt.ttl, ag.TTL, ag.Expires, tt.want)
		}
	}
}

func TestDirectoryConflict(t *testing.T) {
	clock := newFakeClock()
	d := NewDirectory(WithClock(clock.Now))
	a := announcement(t, "fw-a")
	if _, err := d.Register(a); err != nil {
		t.Fatal(err)
	}
	impostor := announcement(t, "fw-a") // another host key
	if _, err := d.Register(impostor); !errors.Is(err, ErrConflict) {
		t.Fatalf("impostor: %v, want ErrConflict", err)
	}
	if got, _ := d.Lookup("fw-a"); got.HostKey != a.HostKey {
		t.Error("the impostor replaced the agent")
	}
	// The rightful agent may move (new address) and add a comment to its key.
	moved := a
	moved.Address = "127.0.0.2:830"
	moved.HostKey += " root@fw-a"
	got, err := d.Register(moved)
	if err != nil || got.Address != "127.0.0.2:830" || got.HostKey != a.HostKey {
		t.Fatalf("move: %+v, %v", got, err)
	}
	// Once the agent expired, the name is free.
	clock.Advance(11 * time.Second)
	if _, err := d.Register(impostor); err != nil {
		t.Errorf("after expiry: %v", err)
	}
	if !d.Remove("fw-a") || d.Remove("fw-a") {
		t.Error("Remove: true once, then false")
	}
}

func TestDirectoryFull(t *testing.T) {
	clock := newFakeClock()
	d := NewDirectory(WithClock(clock.Now), WithMaxAgents(2))
	a, b, c := announcement(t, "a"), announcement(t, "b"), announcement(t, "c")
	for _, x := range []Announcement{a, b} {
		if _, err := d.Register(x); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Register(c); !errors.Is(err, ErrFull) {
		t.Fatalf("third agent: %v, want ErrFull", err)
	}
	if _, err := d.Register(a); err != nil {
		t.Errorf("a registered agent re-announcing in a full directory: %v", err)
	}
	clock.Advance(time.Minute) // both expire: room again
	if _, err := d.Register(c); err != nil {
		t.Errorf("after expiry: %v", err)
	}
}

func TestAnnouncementValidate(t *testing.T) {
	good := announcement(t, "fw")
	tests := []struct {
		name   string
		modify func(*Announcement)
		want   string // "" means valid
	}{
		{"good", func(*Announcement) {}, ""},
		{"no name", func(a *Announcement) { a.Name = "" }, "name: missing"},
		{"bad name", func(a *Announcement) { a.Name = "fw/1" }, `name: "fw/1" is not a name`},
		{"no address", func(a *Announcement) { a.Address = "" }, "address: missing"},
		{"address without port", func(a *Announcement) { a.Address = "10.0.0.1" }, `address: "10.0.0.1" is not host:port`},
		{"bad gnmi address", func(a *Announcement) { a.GNMIAddress = "h:99999" }, `gnmi-address: "h:99999": port "99999"`},
		{"bad domain", func(a *Announcement) { a.Domain = "a b" }, `domain: "a b" is not a name`},
		{"no host key", func(a *Announcement) { a.HostKey = "" }, "host-key: missing"},
		{"bad host key", func(a *Announcement) { a.HostKey = "ssh-ed25519 AAAA" }, "host-key: not an SSH public key"},
		{"two host keys", func(a *Announcement) { a.HostKey += "\n" + a.HostKey }, "host-key: one key only"},
		{"negative ttl", func(a *Announcement) { a.TTL = -time.Second }, "ttl: -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := good
			tt.modify(&a)
			err := a.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidAnnouncement) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAnnouncementJSON(t *testing.T) {
	a := announcement(t, "fw")
	a.GNMIAddress = "127.0.0.1:9339"
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ttl":"10s"`) || !strings.Contains(string(b), `"gnmi-address":"127.0.0.1:9339"`) {
		t.Errorf("wire form: %s", b)
	}
	var back Announcement
	if err := json.Unmarshal(b, &back); err != nil || back != a {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	for _, tt := range []struct{ in, want string }{
		{`{"name":"fw","adress":"x"}`, `unknown field "adress"`},
		{`{"name":"fw","ttl":"soon"}`, `ttl: "soon" is not a duration`},
		{`{"name":"fw","ttl":10}`, "cannot unmarshal number"},
		{`[]`, "cannot unmarshal array"},
	} {
		if err := json.Unmarshal([]byte(tt.in), &back); !errors.Is(err, ErrInvalidAnnouncement) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.in, err, tt.want)
		}
	}
	// An Agent keeps its times on the wire (the embedded Announcement's
	// MarshalJSON must not swallow them).
	ag := Agent{Announcement: a, Registered: time.Unix(100, 0).UTC(), LastSeen: time.Unix(200, 0).UTC(), Expires: time.Unix(210, 0).UTC()}
	b, _ = json.Marshal(ag)
	var agBack Agent
	if err := json.Unmarshal(b, &agBack); err != nil || !cmp.Equal(ag, agBack) {
		t.Errorf("agent round trip: %s -> %+v, %v", b, agBack, err)
	}
}

func TestMerge(t *testing.T) {
	inv := loadLab(t)
	fw1, _ := inv.Device("fw1")
	newA, newB := announcement(t, "fw-new-a"), announcement(t, "fw-new-b")
	newA.Location, newA.Domain = "rack9", "west"
	newB.Location, newB.Domain = "rack9", "east" // disagrees with fw-new-a on rack9's domain
	newB.Driver = ""
	stray := announcement(t, "fw-stray") // announces configured s1, whose path does not name it
	stray.Domain = "west"
	fake := announcement(t, "fw1") // a configured name
	bad := announcement(t, "fw-bad")
	bad.HostKey = "nonsense"
	squatter := announcement(t, "fw-squat") // at fw2's address
	squatter.Address = "192.0.2.2:830"

	dup := newA
	dup.Address = "127.0.0.9:830"
	view, conflicts := inv.Merge([]Announcement{stray, newB, fake, newA, bad, squatter, dup})
	want := []Conflict{
		{Device: "fw-bad", Field: "announcement", Announced: "topology: invalid announcement: host-key: not an SSH public key in authorized_keys format (ssh: no key found)"},
		{Device: "fw-new-a", Field: "name", Announced: "127.0.0.9:830 (announced twice; the first given is used)"},
		{Device: "fw-new-b", Field: "domain", Configured: "west (announced first for location rack9)", Announced: "east"},
		{Device: "fw-squat", Field: "address", Configured: "192.0.2.2:830 is device fw2's", Announced: "192.0.2.2:830"},
		{Device: "fw-stray", Field: "location", Configured: "s1's path does not name fw-stray", Announced: "s1"},
		{Device: "fw-stray", Field: "domain", Configured: "east (the domain of location s1)", Announced: "west"},
		{Device: "fw1", Field: "address", Configured: "192.0.2.1:830", Announced: fake.Address},
		{Device: "fw1", Field: "location", Configured: "", Announced: "s1"},
	}
	if diff := cmp.Diff(want, conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	// Configured entries win.
	if got, _ := view.Device("fw1"); !cmp.Equal(got, fw1) {
		t.Errorf("fw1 changed: %v", got)
	}
	// The announced location is a discovered one, both directions through
	// its devices (by name); its domain is the first announcer's.
	l, ok := view.Location("rack9")
	wantLoc := Location{Name: "rack9", Domain: "west", Ingress: []string{"fw-new-a", "fw-new-b"}, Egress: []string{"fw-new-a", "fw-new-b"}, Discovered: true}
	if !ok || !cmp.Equal(l, wantLoc) {
		t.Errorf("rack9 = %+v", l)
	}
	d, _ := view.Device("fw-new-b")
	wantDev := Device{Name: "fw-new-b", Address: newB.Address, Driver: "sami", Protocol: "netconf", Domain: "west",
		Location: "rack9", HostKey: newB.HostKey, Credentials: inv.Defaults().Credentials, Timeout: 20 * time.Second, Discovered: true}
	if diff := cmp.Diff(wantDev, d, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("discovered device (-want +got):\n%s", diff)
	}
	// The view resolves moves to the discovered location.
	m, err := view.Resolve("s1", "rack9")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Pair{in("fw1", "fw-new-a"), in("fw1", "fw-new-b"), out("fw1", "fw-new-a"), out("fw1", "fw-new-b")}, m.Pairs); diff != "" {
		t.Errorf("pairs (-want +got):\n%s", diff)
	}
	if got := view.CrossDomain(m); len(got) != 2 || !got[0].Allowed {
		t.Errorf("CrossDomain east -> west = %v", got)
	}
	// The pinned host key reaches the driver's config, as a known_hosts
	// file of its own.
	dir := t.TempDir()
	pview, err := view.PinHostKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pview.DeviceConfig("fw-new-a", nil)
	pinned := filepath.Join(dir, "fw-new-a.known_hosts")
	if err != nil || !cmp.Equal(cfg.Credentials.KnownHosts, []string{pinned}) || cfg.Credentials.InsecureIgnoreHostKey {
		t.Errorf("DeviceConfig: %+v, %v", cfg, err)
	}
	kh, _ := os.ReadFile(pinned)
	k, _ := parseHostKey(newA.HostKey)
	if want := knownhosts.Line([]string{newA.Address}, k) + "\n"; string(kh) != want {
		t.Errorf("pinned file:\n%s\nwant\n%s", kh, want)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 3 {
		t.Errorf("pinned files %v, want one per discovered device (fw-new-a, fw-new-b, fw-stray)", files)
	}
	// The original inventory is untouched.
	if _, ok := inv.Device("fw-new-a"); ok {
		t.Error("Merge modified the inventory")
	}
	if _, ok := inv.Location("rack9"); ok {
		t.Error("Merge modified the inventory's locations")
	}
	if got := conflicts[0].String(); !strings.Contains(got, "device fw-bad: announcement") {
		t.Errorf("String: %s", got)
	}
}

// BenchmarkRegister: a re-announcement of a known agent (the steady state)
// in a directory of 1000 agents.
func BenchmarkRegister(b *testing.B) {
	d := NewDirectory()
	var anns []Announcement
	for i := range 1000 {
		a := announcement(b, "fw"+strconv.Itoa(i))
		if _, err := d.Register(a); err != nil {
			b.Fatal(err)
		}
		anns = append(anns, a)
	}
	i := 0
	for b.Loop() {
		if _, err := d.Register(anns[i%len(anns)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
