package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Announcement is what an agent says about itself to the directory.
type Announcement struct {
	Name        string // the device's inventory name
	Address     string // NETCONF host:port
	GNMIAddress string // gNMI host:port, if served
	Driver      string // registry name; empty: the inventory's default
	Domain      string
	Location    string
	// HostKey is the agent's SSH host public key (authorized_keys
	// format): the orchestrator pins it instead of trusting first use.
	HostKey string
	// TTL: the directory forgets the agent this long after its last
	// announcement or heartbeat; 0 means the directory's default.
	TTL time.Duration
}

// announcementJSON is the wire form: lower-case names, TTL as a Go
// duration string ("30s").
type announcementJSON struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	GNMIAddress string `json:"gnmi-address,omitempty"`
	Driver      string `json:"driver,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Location    string `json:"location,omitempty"`
	HostKey     string `json:"host-key"`
	TTL         string `json:"ttl,omitempty"`
}

// MarshalJSON writes the wire form.
func (a Announcement) MarshalJSON() ([]byte, error) { return json.Marshal(a.wire()) }

func (a Announcement) wire() announcementJSON {
	j := announcementJSON{a.Name, a.Address, a.GNMIAddress, a.Driver, a.Domain, a.Location, a.HostKey, ""}
	if a.TTL != 0 {
		j.TTL = a.TTL.String()
	}
	return j
}

func (j announcementJSON) announcement() (Announcement, error) {
	var ttl time.Duration
	if j.TTL != "" {
		d, err := time.ParseDuration(j.TTL)
		if err != nil {
			return Announcement{}, fmt.Errorf("%w: ttl: %q is not a duration (e.g. 30s)", ErrInvalidAnnouncement, j.TTL)
		}
		ttl = d
	}
	return Announcement{j.Name, j.Address, j.GNMIAddress, j.Driver, j.Domain, j.Location, j.HostKey, ttl}, nil
}

// UnmarshalJSON reads the wire form; unknown fields are errors.
func (a *Announcement) UnmarshalJSON(b []byte) error {
	var j announcementJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidAnnouncement, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the announcement object", ErrInvalidAnnouncement)
	}
	ann, err := j.announcement()
	if err != nil {
		return err
	}
	*a = ann
	return nil
}

// Validate checks every field and names each bad one.
func (a *Announcement) Validate() error {
	var bad []string
	if why := checkName(a.Name); why != "" {
		bad = append(bad, "name: "+why)
	}
	if a.Address == "" {
		bad = append(bad, "address: missing")
	} else if why := checkAddress(a.Address); why != "" {
		bad = append(bad, "address: "+why)
	}
	if a.GNMIAddress != "" {
		if why := checkAddress(a.GNMIAddress); why != "" {
			bad = append(bad, "gnmi-address: "+why)
		}
	}
	for _, f := range []struct{ key, val string }{{"driver", a.Driver}, {"domain", a.Domain}, {"location", a.Location}} {
		if f.val != "" {
			if why := checkName(f.val); why != "" {
				bad = append(bad, f.key+": "+why)
			}
		}
	}
	if a.HostKey == "" {
		bad = append(bad, "host-key: missing")
	} else if _, err := parseHostKey(a.HostKey); err != nil {
		bad = append(bad, "host-key: "+err.Error())
	}
	if a.TTL < 0 {
		bad = append(bad, fmt.Sprintf("ttl: %v is negative", a.TTL))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidAnnouncement, strings.Join(bad, "; "))
	}
	return nil
}

func parseHostKey(s string) (ssh.PublicKey, error) {
	k, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("not an SSH public key in authorized_keys format (%v)", err)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("one key only")
	}
	return k, nil
}

// Agent is a registered announcement with its times.
type Agent struct {
	Announcement
	Registered time.Time // first announcement (since the last expiry)
	LastSeen   time.Time
	Expires    time.Time
}

// agentJSON is an Agent on the wire: the announcement's fields and the
// times, flat.
type agentJSON struct {
	announcementJSON
	Registered time.Time `json:"registered"`
	LastSeen   time.Time `json:"last-seen"`
	Expires    time.Time `json:"expires"`
}

// MarshalJSON writes the announcement's fields and the times in one object
// (without it, the embedded Announcement's MarshalJSON would drop the
// times).
func (a Agent) MarshalJSON() ([]byte, error) {
	j := agentJSON{Registered: a.Registered, LastSeen: a.LastSeen, Expires: a.Expires}
	j.announcementJSON = a.Announcement.wire()
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Agent) UnmarshalJSON(b []byte) error {
	var j agentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	ann, err := j.announcementJSON.announcement()
	if err != nil {
		return err
	}
	*a = Agent{Announcement: ann, Registered: j.Registered, LastSeen: j.LastSeen, Expires: j.Expires}
	return nil
}

// Directory holds the agents that announced themselves. Safe for
// concurrent use.
type Directory struct {
	mu     sync.Mutex
	agents map[string]*Agent
	now    func() time.Time
	log    *slog.Logger
	defTTL time.Duration
	maxTTL time.Duration
	max    int
	// nextSweep is when Register next drops every expired agent.
	nextSweep time.Time
}

// DirectoryOption configures a Directory.
type DirectoryOption func(*Directory)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) DirectoryOption { return func(d *Directory) { d.now = now } }

// WithLogger logs registrations, changes and expiries.
func WithLogger(l *slog.Logger) DirectoryOption { return func(d *Directory) { d.log = l } }

// WithTTL sets the TTL of announcements that give none (default 30 s) and
// the longest TTL an agent may ask for (default 10 min; longer is capped).
func WithTTL(def, max time.Duration) DirectoryOption {
	return func(d *Directory) { d.defTTL, d.maxTTL = def, max }
}

// WithMaxAgents bounds the number of live agents (default 10000): a
// client with the token cannot grow the directory without limit.
func WithMaxAgents(n int) DirectoryOption { return func(d *Directory) { d.max = n } }

// NewDirectory returns an empty directory.
func NewDirectory(opts ...DirectoryOption) *Directory {
	d := &Directory{
		agents: map[string]*Agent{},
		now:    time.Now,
		log:    slog.New(slog.DiscardHandler),
		defTTL: 30 * time.Second,
		maxTTL: 10 * time.Minute,
		max:    10000,
	}
	for _, f := range opts {
		f(d)
	}
	return d
}

// Register adds or refreshes an agent. A name held by a live agent with
// another host key is refused (ErrConflict): an impostor cannot take over
// a device's name; the rightful agent with a new key waits for the expiry
// (or an operator's Remove).
func (d *Directory) Register(a Announcement) (Agent, error) {
	if err := a.Validate(); err != nil {
		return Agent{}, err
	}
	k, _ := parseHostKey(a.HostKey)
	a.HostKey = normalizeKey(k)
	ttl := a.TTL
	if ttl == 0 {
		ttl = d.defTTL
	}
	ttl = min(ttl, d.maxTTL)
	a.TTL = ttl
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.sweepLocked(now, false)
	cur, ok := d.liveLocked(a.Name, now)
	if ok && cur.HostKey != a.HostKey {
		d.log.Warn("announcement refused: the name is held by an agent with another host key", "agent", a.Name, "address", a.Address, "holder", cur.Address, "expires", cur.Expires)
		return Agent{}, fmt.Errorf("%w: %q is registered with another host key until %s", ErrConflict, a.Name, cur.Expires.Format(time.RFC3339))
	}
	if !ok && len(d.agents) >= d.max {
		d.sweepLocked(now, true)
	}
	if !ok && len(d.agents) >= d.max {
		d.log.Warn("announcement refused: the directory is full", "agent", a.Name, "agents", len(d.agents))
		return Agent{}, fmt.Errorf("%w: %d agents registered (the limit)", ErrFull, len(d.agents))
	}
	if !ok {
		cur = &Agent{Registered: now}
		d.agents[a.Name] = cur
		d.log.Info("agent registered", "agent", a.Name, "address", a.Address, "gnmi", a.GNMIAddress, "domain", a.Domain, "location", a.Location, "ttl", ttl)
	} else if cur.Announcement != a {
		d.log.Info("agent changed", "agent", a.Name, "address", a.Address, "gnmi", a.GNMIAddress, "domain", a.Domain, "location", a.Location, "ttl", ttl)
	}
	cur.Announcement = a
	cur.LastSeen = now
	cur.Expires = now.Add(ttl)
	return *cur, nil
}

// Heartbeat extends a registered agent's life by its TTL.
func (d *Directory) Heartbeat(name string) (Agent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	cur, ok := d.liveLocked(name, now)
	if !ok {
		return Agent{}, fmt.Errorf("%w: %q (announce it first)", ErrNotRegistered, name)
	}
	cur.LastSeen = now
	cur.Expires = now.Add(cur.TTL)
	return *cur, nil
}

// Remove forgets an agent; false when it was not registered.
func (d *Directory) Remove(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.agents[name]
	delete(d.agents, name)
	if ok {
		d.log.Info("agent removed", "agent", name)
	}
	return ok
}

// Lookup returns a live agent.
func (d *Directory) Lookup(name string) (Agent, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.liveLocked(name, d.now())
	if !ok {
		return Agent{}, false
	}
	return *a, true
}

// List returns the live agents, by name.
func (d *Directory) List() []Agent {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweepLocked(d.now(), true)
	out := make([]Agent, 0, len(d.agents))
	for _, n := range slices.Sorted(maps.Keys(d.agents)) {
		out = append(out, *d.agents[n])
	}
	return out
}

// Announcements returns the live agents' announcements, by name (the
// input of Inventory.Merge).
func (d *Directory) Announcements() []Announcement {
	agents := d.List()
	out := make([]Announcement, len(agents))
	for i, a := range agents {
		out[i] = a.Announcement
	}
	return out
}

// liveLocked returns the agent called name unless its TTL passed (then it
// is dropped): O(1), so announcements cost the same in a large directory.
func (d *Directory) liveLocked(name string, now time.Time) (*Agent, bool) {
	a, ok := d.agents[name]
	if ok && !now.Before(a.Expires) {
		d.expire(name, a)
		return nil, false
	}
	return a, ok
}

// sweepLocked drops every expired agent: always when forced (List, a full
// directory), else at most once a second, to free their memory.
func (d *Directory) sweepLocked(now time.Time, force bool) {
	if !force && now.Before(d.nextSweep) {
		return
	}
	d.nextSweep = now.Add(time.Second)
	for n, a := range d.agents {
		if !now.Before(a.Expires) {
			d.expire(n, a)
		}
	}
}

func (d *Directory) expire(name string, a *Agent) {
	delete(d.agents, name)
	d.log.Warn("agent expired: no announcement within its TTL", "agent", name, "address", a.Address, "last-seen", a.LastSeen, "ttl", a.TTL)
}

// Conflict is an announcement that disagrees with the configured
// inventory. The configuration wins; the conflict is reported.
type Conflict struct {
	Device     string
	Field      string // "address", "location", ...
	Configured string
	Announced  string
}

func (c Conflict) String() string {
	return fmt.Sprintf("device %s: %s: configured %q, announced %q (the configuration wins)", c.Device, c.Field, c.Configured, c.Announced)
}

// Merge returns a view of the inventory with discovered devices added.
// Configured entries win: a device or location in the file keeps its
// configuration, and every announced field that disagrees is a Conflict.
// An announced location that the file does not define becomes a location
// whose path (both directions) is the devices announcing it, by name.
// Discovered devices get the defaults' driver and credentials, never
// insecure-ignore-host-key: their host key is pinned from the announcement
// (call PinHostKeys on the view before DeviceConfig). An announcement for
// the address of another device is a conflict, not a device.
func (inv *Inventory) Merge(discovered []Announcement) (*Inventory, []Conflict) {
	out := inv.clone()
	var conflicts []Conflict
	anns := slices.Clone(discovered)
	slices.SortStableFunc(anns, func(a, b Announcement) int { return strings.Compare(a.Name, b.Name) })
	seen := map[string]bool{}
	for _, a := range anns {
		if seen[a.Name] {
			conflicts = append(conflicts, Conflict{Device: a.Name, Field: "name", Announced: a.Address + " (announced twice; the first given is used)"})
			continue
		}
		seen[a.Name] = true
		if err := a.Validate(); err != nil {
			conflicts = append(conflicts, Conflict{Device: a.Name, Field: "announcement", Announced: err.Error()})
			continue
		}
		k, _ := parseHostKey(a.HostKey)
		a.HostKey = normalizeKey(k)
		if i, ok := out.deviceIdx[a.Name]; ok {
			conflicts = append(conflicts, compareConfigured(&out.devices[i], out.domainOf(&out.devices[i]), a)...)
			continue
		}
		if i := slices.IndexFunc(out.devices, func(d Device) bool { return d.Address == a.Address }); i >= 0 {
			// Another device answers there: an impostor or a stale entry;
			// either way not a second device.
			conflicts = append(conflicts, Conflict{Device: a.Name, Field: "address",
				Configured: fmt.Sprintf("%s is device %s's", a.Address, out.devices[i].Name), Announced: a.Address})
			continue
		}
		dev := Device{
			Name: a.Name, Address: a.Address, GNMIAddress: a.GNMIAddress,
			Driver: a.Driver, Protocol: out.defaults.Protocol, Domain: a.Domain, Location: a.Location,
			HostKey: a.HostKey, Credentials: out.defaults.Credentials.clone(),
			Options: maps.Clone(out.defaults.Options), Timeout: out.defaults.Timeout,
			Discovered: true,
		}
		if dev.Driver == "" {
			dev.Driver = out.defaults.Driver
		}
		if dev.Driver == "" {
			dev.Driver = "sami"
		}
		if a.Location != "" {
			if li, ok := out.locationIdx[a.Location]; ok {
				l := &out.locations[li]
				switch {
				case !l.Discovered:
					if !slices.Contains(l.Ingress, a.Name) && !slices.Contains(l.Egress, a.Name) {
						conflicts = append(conflicts, Conflict{Device: a.Name, Field: "location",
							Configured: fmt.Sprintf("%s's path does not name %s", l.Name, a.Name), Announced: a.Location})
					}
					if a.Domain != "" && l.Domain != "" && a.Domain != l.Domain {
						conflicts = append(conflicts, Conflict{Device: a.Name, Field: "domain", Configured: l.Domain + " (the domain of location " + l.Name + ")", Announced: a.Domain})
						dev.Domain = l.Domain
					}
				case a.Domain != l.Domain:
					conflicts = append(conflicts, Conflict{Device: a.Name, Field: "domain",
						Configured: fmt.Sprintf("%s (announced first for location %s)", orDash(l.Domain), l.Name), Announced: orDash(a.Domain)})
					dev.Domain = l.Domain
					fallthrough
				default:
					l.Ingress = append(l.Ingress, a.Name)
					l.Egress = append(l.Egress, a.Name)
				}
			} else {
				out.locations = append(out.locations, Location{Name: a.Location, Domain: a.Domain,
					Ingress: []string{a.Name}, Egress: []string{a.Name}, Discovered: true})
				out.locationIdx[a.Location] = len(out.locations) - 1
			}
		}
		out.devices = append(out.devices, dev)
		out.deviceIdx[dev.Name] = len(out.devices) - 1
	}
	return out, conflicts
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// compareConfigured lists where an announcement disagrees with the
// configured device of its name.
func compareConfigured(d *Device, domain string, a Announcement) []Conflict {
	var out []Conflict
	check := func(field, configured, announced string) {
		if announced != "" && configured != announced {
			out = append(out, Conflict{Device: d.Name, Field: field, Configured: configured, Announced: announced})
		}
	}
	check("address", d.Address, a.Address)
	check("gnmi-address", d.GNMIAddress, a.GNMIAddress)
	check("driver", d.Driver, a.Driver)
	check("domain", domain, a.Domain)
	check("location", d.Location, a.Location)
	if d.HostKey != "" {
		check("host-key", d.HostKey, a.HostKey)
	}
	return out
}
