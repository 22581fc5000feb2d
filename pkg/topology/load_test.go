package topology

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sami-netops/sami/pkg/device"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestLoadLab(t *testing.T) {
	inv := loadLab(t)
	if got := len(inv.Devices()); got != 10 {
		t.Errorf("%d devices, want 10", got)
	}
	if got := len(inv.Locations()); got != 15 {
		t.Errorf("%d locations, want 15", got)
	}
	defCreds := Credentials{User: "sami", KeyFile: "/etc/sami/id_ed25519", KnownHosts: []string{"/etc/sami/known_hosts"}}
	tests := []struct {
		name string
		want Device
	}{
		{"fw1", Device{Name: "fw1", Address: "192.0.2.1:830", Driver: "sami", Protocol: "netconf", Domain: "east",
			Role: "firewall", Credentials: defCreds, Timeout: 20 * time.Second, Line: 12}},
		{"fw6", Device{Name: "fw6", Address: "[2001:db8::6]:830", GNMIAddress: "[2001:db8::6]:9339", Driver: "sami",
			Protocol: "netconf", Domain: "west", Location: "west-b", Role: "firewall", Credentials: defCreds,
			Timeout: 20 * time.Second, Line: 17}},
		{"edge", Device{Name: "edge", Address: "203.0.113.1:830", Driver: "ietf-nat", Protocol: "netconf", Domain: "partner",
			Credentials: Credentials{User: "admin", PasswordEnv: "EDGE_PASSWORD", InsecureIgnoreHostKey: true},
			Options:     map[string]string{"instance-id": "1"}, Timeout: 20 * time.Second, Line: 26}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := inv.Device(tt.name)
			if !ok {
				t.Fatal("missing")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := inv.DomainOf("fw5"); got != "west" {
		t.Errorf("DomainOf(fw5) = %q, want west (its location's)", got)
	}
	l, _ := inv.Location("in-only")
	if diff := cmp.Diff(Location{Name: "in-only", Domain: "east", Ingress: []string{"fw3"}, Line: 49}, l); diff != "" {
		t.Errorf("in-only (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]DomainRule{{From: "east", To: "west"}}, inv.DomainRules()); diff != "" {
		t.Errorf("rules: %s", diff)
	}
	if !inv.Allowed("east", "west") || inv.Allowed("west", "east") || !inv.Allowed("west", "west") {
		t.Error("Allowed: east->west only, and within a domain")
	}
	// Accessors hand out copies.
	d, _ := inv.Device("edge")
	d.Options["instance-id"] = "changed"
	if d2, _ := inv.Device("edge"); d2.Options["instance-id"] != "1" {
		t.Error("Device returned a map shared with the inventory")
	}
}

// TestLoadErrors: each bad inventory's errors, golden (go test -update).
func TestLoadErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadFile(f)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !errors.Is(err, ErrInventory) {
				t.Errorf("error does not wrap ErrInventory: %v", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		opts []LoadOption
		yaml string
		want string
		is   error
	}{
		{"unnamed reader: line only", nil, "defaults: {driver: sami}\ndevices:\n  - name: fw1\n", "line 3: devices[0].address: missing", nil},
		{"named", []LoadOption{WithName("inventory.yaml")}, "defaults: {driver: sami}\ndevices:\n  - name: fw1\n    addres: x\n",
			`inventory.yaml:4: devices[0]: unknown field "addres" (did you mean "address"?)`, nil},
		{"unknown driver", []LoadOption{WithDrivers("sami", "ietf-nat")}, "devices:\n  - name: fw1\n    address: h:830\n    driver: junos\n",
			`line 4: devices[0].driver: unknown driver "junos" (registered: sami, ietf-nat)`, nil},
		{"unknown default driver", []LoadOption{WithDrivers("sami")}, "defaults:\n  driver: junos\n",
			`line 2: defaults.driver: unknown driver "junos" (registered: sami)`, nil},
		{"path names an unknown device", nil, "locations:\n  - name: s1\n    ingress: [fw9]\n",
			`line 3: locations[0].ingress[0]: unknown device "fw9"`, ErrUnknownDevice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.yaml), tt.opts...)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Line == 0 || fe.Field == "" {
				t.Errorf("not a *FieldError with line and field: %#v", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error does not wrap %v", tt.is)
			}
		})
	}
}

func TestLoadEmptyAndDriversKnown(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "{}\n"} {
		inv, err := Load(strings.NewReader(src))
		if err != nil || len(inv.Devices()) != 0 {
			t.Errorf("Load(%q) = %v, %v; want an empty inventory", src, inv, err)
		}
	}
	if _, err := LoadFile("testdata/lab.yaml", WithDrivers("sami", "ietf-nat")); err != nil {
		t.Errorf("lab with its drivers registered: %v", err)
	}
	if _, err := LoadFile("testdata/none.yaml"); !errors.Is(err, ErrInventory) || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// An alias "billion laughs" must stop at the visit budget, not expand.
func TestLoadAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("locations:\n  - name: s1\n    ingress: *a8\n")
	start := time.Now()
	_, err := Load(strings.NewReader(b.String()))
	if err == nil {
		t.Fatal("loaded")
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func hostKey(t testing.TB) (ssh.Signer, string) {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func TestDeviceConfig(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "fw1.pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	_, hk := hostKey(t)
	src := `defaults:
  driver: sami
  credentials: {user: sami, key-file: /k, known-hosts: [/kh]}
devices:
  - name: fw1
    address: 192.0.2.1:830
    gnmi-address: 192.0.2.1:9339
    protocol: netconf
    timeout: 5s
    options: {confirm-timeout: 60s}
    credentials: {user: admin, password-file: ` + pw + `, known-hosts: [/kh1, /kh2]}
  - name: fw2
    address: 192.0.2.2:830
    host-key: ` + hk + ` fw2-comment
    credentials: {user: admin, password-env: FW2_PW, key-file: /k2, key-passphrase-env: FW2_PASS}
  - name: fw3
    address: 192.0.2.3:830
    credentials: {password-file: ` + filepath.Join(dir, "missing") + `}
  - name: fw4
    address: 192.0.2.4:830
    credentials: {password-env: UNSET}
  - name: fw5
    address: 192.0.2.5:830
`
	inv, err := Load(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FW2_PW": "env-secret", "FW2_PASS": "phrase"}
	tests := []struct {
		name    string
		want    device.Config
		wantErr string
	}{
		{name: "fw1", want: device.Config{Name: "fw1", Driver: "sami", Address: "192.0.2.1:830", Protocol: "netconf",
			GNMIAddress: "192.0.2.1:9339", Timeout: 5 * time.Second, Options: map[string]string{"confirm-timeout": "60s"},
			Credentials: device.Credentials{User: "admin", Password: "s3cret", KnownHosts: []string{"/kh1", "/kh2"}}}},
		{name: "fw2", wantErr: "device fw2: its host key is pinned (host-key or announcement) but no known_hosts file holds it yet (PinHostKeys)"},
		{name: "fw5", want: device.Config{Name: "fw5", Driver: "sami", Address: "192.0.2.5:830",
			Credentials: device.Credentials{User: "sami", KeyFile: "/k", KnownHosts: []string{"/kh"}}}},
		{name: "fw3", wantErr: "device fw3: credentials.password-file: open "},
		{name: "fw4", wantErr: "device fw4: credentials.password-env: environment variable UNSET is unset or empty"},
		{name: "fw9", wantErr: `unknown device "fw9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := inv.DeviceConfig(tt.name, func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Pinned: fw2 is verified against the pinned file alone.
	pinDir := filepath.Join(dir, "pinned")
	os.Mkdir(pinDir, 0o755)
	pinned := filepath.Join(pinDir, "fw2.known_hosts")
	view, err := inv.PinHostKeys(pinDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := view.DeviceConfig("fw2", func(k string) string { return env[k] })
	want := device.Config{Name: "fw2", Driver: "sami", Address: "192.0.2.2:830",
		Credentials: device.Credentials{User: "admin", Password: "env-secret", KeyFile: "/k2", KeyPassphrase: "phrase", KnownHosts: []string{pinned}}}
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("pinned fw2: %v (-want +got):\n%s", err, diff)
	}
	if b, err := os.ReadFile(pinned); err != nil || !strings.HasPrefix(string(b), "[192.0.2.2]:830 ssh-ed25519 ") {
		t.Errorf("pinned file: %q, %v", b, err)
	}
	// The inventory never holds the secrets, so nothing prints them.
	for _, d := range inv.Devices() {
		for _, s := range []string{d.String(), inv.String()} {
			if strings.Contains(s, "s3cret") || strings.Contains(s, "env-secret") {
				t.Errorf("secret in %q", s)
			}
		}
	}
	d, _ := inv.Device("fw1")
	if want := "fw1 (driver sami, 192.0.2.1:830 netconf, gnmi 192.0.2.1:9339, credentials {user=admin password-file=" + pw + " known-hosts=/kh1,/kh2})"; d.String() != want {
		t.Errorf("String:\n got %s\nwant %s", d, want)
	}
}

func TestWriteKnownHosts(t *testing.T) {
	signer, hk := hostKey(t)
	inv, err := Load(strings.NewReader("defaults: {driver: sami}\ndevices:\n  - {name: fw1, address: \"127.0.0.1:8830\", host-key: " + hk + "}\n  - {name: fw2, address: \"127.0.0.1:8831\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := inv.WriteKnownHosts(&b); err != nil {
		t.Fatal(err)
	}
	want := knownhosts.Line([]string{"127.0.0.1:8830"}, signer.PublicKey()) + "\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// The full example of docs/topology.md loads and resolves.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/topology.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in docs/topology.md")
	}
	inv, err := Load(strings.NewReader(block), WithName("docs/topology.md"), WithDrivers("sami", "ietf-nat"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := inv.Resolve("rack-a", "rack-b")
	if err != nil {
		t.Fatal(err)
	}
	want := []Pair{in("fw-a1", "fw-b1"), out("fw-a2", "fw-b1")}
	if diff := cmp.Diff(want, m.Pairs); diff != "" || m.Case != AsymmetricToSymmetric || !cmp.Equal(m.Stranded, []string{"nat-a"}) {
		t.Errorf("%s\npairs (-want +got):\n%s", m, diff)
	}
	if c := inv.CrossDomain(m); len(c) != 2 || !c[0].Allowed {
		t.Errorf("CrossDomain: %v", c)
	}
}

func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Load(strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}
