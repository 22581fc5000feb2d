package device

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Config is what a driver needs to connect to one device: the inventory
// entry with its credentials resolved.
type Config struct {
	Name    string // inventory name
	Driver  string // registry name of the driver
	Address string // host:port of the management endpoint
	// Protocol selects among the driver's transports ("netconf", "gnmi");
	// empty means the driver's default.
	Protocol string
	// GNMIAddress is the gNMI endpoint for drivers that read or watch over
	// gNMI next to NETCONF (empty: not used).
	GNMIAddress string
	Credentials Credentials
	// Options are driver-specific settings (documented by each driver).
	Options map[string]string
	// Timeout bounds connecting (0: 30 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Credentials authenticate both ways (R2): the device's identity is checked
// against KnownHosts (SSH) or CA (TLS); sami's against the device with a
// key, a password or a client certificate.
type Credentials struct {
	User     string
	Password string
	KeyFile  string
	// KeyPassphrase decrypts KeyFile.
	KeyPassphrase string
	KnownHosts    []string
	// InsecureIgnoreHostKey skips host-key verification; only when the
	// inventory says so explicitly for this device.
	InsecureIgnoreHostKey bool
	// TLS for gNMI.
	CAFile, CertFile, CertKeyFile string
	InsecurePlaintext             bool
}

// Redacted is c without secrets, for logs and errors.
func (c Credentials) Redacted() Credentials {
	if c.Password != "" {
		c.Password = "REDACTED"
	}
	if c.KeyPassphrase != "" {
		c.KeyPassphrase = "REDACTED"
	}
	return c
}

// Factory connects a driver to the device cfg describes.
type Factory func(ctx context.Context, cfg Config) (Driver, error)

// Info describes a registered driver.
type Info struct {
	Name        string
	Description string
	Factory     Factory
}

// Registry maps driver names to factories. It is built explicitly by the
// program (see plugins.Register), so what is compiled in is visible in one
// place and tests can register fakes.
type Registry struct {
	mu      sync.RWMutex
	drivers map[string]Info
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{drivers: make(map[string]Info)} }

// Register adds a driver; registering a name twice is an error.
func (r *Registry) Register(info Info) error {
	if info.Name == "" || info.Factory == nil {
		return fmt.Errorf("%w: driver needs a name and a factory", ErrConfig)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[info.Name]; dup {
		return fmt.Errorf("%w: driver %q registered twice", ErrConfig, info.Name)
	}
	r.drivers[info.Name] = info
	return nil
}

// Names lists the registered drivers, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.drivers))
}

// Lookup returns a driver's description.
func (r *Registry) Lookup(name string) (Info, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	info, ok := r.drivers[name]
	return info, ok
}

// Open connects to the device cfg describes with the driver it names.
func (r *Registry) Open(ctx context.Context, cfg Config) (Driver, error) {
	info, ok := r.Lookup(cfg.Driver)
	if !ok {
		return nil, fmt.Errorf("device %s: %w %q (registered: %v)", cfg.Name, ErrUnknownDriver, cfg.Driver, r.Names())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return info.Factory(ctx, cfg)
}
