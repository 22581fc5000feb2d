package topology

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: no input panics or hangs the loader; an accepted inventory is
// consistent (every path names a device) and resolves between any two of
// its locations.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, p := range append(seeds, bad...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("devices: [{name: x, address: 'h:1', driver: d}]\nlocations: [{name: l, ingress: [x]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Load(strings.NewReader(string(data)))
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for _, l := range inv.Locations() {
			for _, n := range append(append([]string{}, l.Ingress...), l.Egress...) {
				if _, ok := inv.Device(n); !ok {
					t.Fatalf("location %s names unknown device %s", l.Name, n)
				}
			}
		}
		locs := inv.Locations()
		for i := 0; i < len(locs) && i < 4; i++ {
			for j := 0; j < len(locs) && j < 4; j++ {
				m, err := inv.Resolve(locs[i].Name, locs[j].Name)
				if err != nil {
					t.Fatal(err)
				}
				_ = inv.CrossDomain(m)
				_ = m.String()
			}
		}
	})
}

// FuzzAnnouncement: the directory's wire parser never panics, and what it
// accepts and validates survives a round trip.
func FuzzAnnouncement(f *testing.F) {
	_, hk := hostKey(f)
	good, _ := json.Marshal(Announcement{Name: "fw", Address: "127.0.0.1:830", HostKey: hk, TTL: 30e9})
	f.Add(good)
	f.Add([]byte(`{"name":"fw","ttl":"-5s"}`))
	f.Add([]byte(`{"name":"fw","host-key":"ssh-ed25519 AAAA"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a Announcement
		if json.Unmarshal(data, &a) != nil || a.Validate() != nil {
			return
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var back Announcement
		if err := json.Unmarshal(b, &back); err != nil || back != a {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", a, b, back, err)
		}
		d := NewDirectory()
		if _, err := d.Register(a); err != nil {
			t.Fatalf("a valid announcement was refused: %v", err)
		}
	})
}
