package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/sami-netops/sami/pkg/topology"
)

// Inventory describes an inventory over sandbox agents: which agent is
// which device (domain, location, role), the locations endpoints attach to
// and the domain rules. WriteInventory turns it into package topology's
// YAML.
type Inventory struct {
	// Comment is written at the top, one "# " line per line.
	Comment     string
	Devices     []Device
	Locations   []Location
	DomainRules []topology.DomainRule
}

// Device is one agent as an inventory device.
type Device struct {
	Agent *Agent
	// Domain, Location and Role are the inventory's fields (optional).
	Domain, Location, Role string
	// Comment is written above the device.
	Comment string
}

// Location is where an endpoint attaches: the devices (agent names) each
// direction of its traffic crosses.
type Location struct {
	Name, Domain    string
	Ingress, Egress []string
	Comment         string
}

// WriteInventory writes inv as an inventory YAML that topology.Load reads
// back: devices with the "sami" driver, their addresses and the paths of
// their credential files (absolute, so the file works from any directory).
// It checks inv first, by loading what it would write.
func WriteInventory(w io.Writer, inv Inventory) error {
	var b bytes.Buffer
	for _, l := range lines(inv.Comment) {
		b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
	b.WriteString("devices:\n")
	for i, d := range inv.Devices {
		a := d.Agent
		if a == nil {
			return fmt.Errorf("%w: inventory device %d has no agent", ErrInvalid, i)
		}
		for _, l := range lines(d.Comment) {
			b.WriteString(strings.TrimRight("  # "+l, " ") + "\n")
		}
		fmt.Fprintf(&b, "  - name: %s\n", q(a.Name))
		fmt.Fprintf(&b, "    address: %s\n", q(a.Addr))
		if a.GNMIAddr != "" {
			fmt.Fprintf(&b, "    gnmi-address: %s\n", q(a.GNMIAddr))
		}
		b.WriteString("    driver: sami\n")
		field(&b, "    ", "domain", d.Domain)
		field(&b, "    ", "location", d.Location)
		field(&b, "    ", "role", d.Role)
		b.WriteString("    credentials:\n")
		field(&b, "      ", "user", a.User)
		field(&b, "      ", "key-file", a.KeyFile)
		field(&b, "      ", "password-file", a.PasswordFile)
		fmt.Fprintf(&b, "      known-hosts: [%s]\n", q(a.KnownHosts))
		switch {
		case a.CAFile != "":
			field(&b, "      ", "ca-file", a.CAFile)
		case a.GNMIAddr != "":
			b.WriteString("      insecure-plaintext: true\n")
		}
	}
	if len(inv.Locations) > 0 {
		b.WriteString("\nlocations:\n")
	}
	for _, l := range inv.Locations {
		for _, c := range lines(l.Comment) {
			b.WriteString(strings.TrimRight("  # "+c, " ") + "\n")
		}
		fmt.Fprintf(&b, "  - name: %s\n", q(l.Name))
		field(&b, "    ", "domain", l.Domain)
		list(&b, "    ", "ingress", l.Ingress)
		list(&b, "    ", "egress", l.Egress)
	}
	if len(inv.DomainRules) > 0 {
		b.WriteString("\ndomain-rules:\n")
	}
	for _, r := range inv.DomainRules {
		fmt.Fprintf(&b, "  - {from: %s, to: %s}\n", q(r.From), q(r.To))
	}
	if _, err := topology.Load(bytes.NewReader(b.Bytes()), topology.WithName("inventory")); err != nil {
		return fmt.Errorf("%w: the inventory would not load: %w", ErrInvalid, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteInventoryFile writes inv to path (mode 0600: it names key files).
func WriteInventoryFile(path string, inv Inventory) error {
	var b bytes.Buffer
	if err := WriteInventory(&b, inv); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

func field(b *bytes.Buffer, indent, key, val string) {
	if val != "" {
		fmt.Fprintf(b, "%s%s: %s\n", indent, key, q(val))
	}
}

func list(b *bytes.Buffer, indent, key string, vals []string) {
	if len(vals) == 0 {
		return
	}
	qs := make([]string, len(vals))
	for i, v := range vals {
		qs[i] = q(v)
	}
	fmt.Fprintf(b, "%s%s: [%s]\n", indent, key, strings.Join(qs, ", "))
}

// q quotes s for YAML when it needs it: names stay bare, paths and
// addresses get double quotes (Go's escapes are YAML's for these).
func q(s string) string {
	if topology.ValidName(s) == nil && !strings.ContainsAny(s, ":#") && !yamlWord(s) {
		return s
	}
	return strconv.Quote(s)
}

// yamlWord: bare words YAML would read as something other than a string.
func yamlWord(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~":
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}
