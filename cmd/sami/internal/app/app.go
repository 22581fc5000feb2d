// Package app is what every sami verb shares: configuration (file, flags,
// SAMI_* environment), the inventory, the journal, the orchestrator, the
// output format and the streams. Verbs live in their own packages and get
// an *App; nothing here is global.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sami-netops/sami/pkg/device"
	"github.com/sami-netops/sami/pkg/journal"
	"github.com/sami-netops/sami/pkg/orchestrator"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/sami-netops/sami/plugins"
	"github.com/spf13/viper"
)

// Version is set by the build (-ldflags -X).
var Version = "dev"

// Config keys (flags, config file keys and SAMI_* variables share them).
const (
	KeyConfig    = "config"
	KeyInventory = "inventory"
	KeyJournal   = "journal"
	KeyOutput    = "output"
	KeyLogLevel  = "log-level"
	KeyProgress  = "progress"
)

// App is the state of one sami invocation.
type App struct {
	V              *viper.Viper
	In             io.Reader
	Out, Err       io.Writer
	Env            func(string) string
	IsTerminal     func(w io.Writer) bool
	mu             sync.Mutex
	log            *slog.Logger
	inv            *topology.Inventory
	j              *journal.Journal
	orch           *orchestrator.Orchestrator
	reg            *device.Registry
	closers        []func() error
	registryExtras []func(*device.Registry) error
}

// New returns an App over the given streams.
func New(in io.Reader, out, errw io.Writer) *App {
	v := viper.New()
	v.SetEnvPrefix("SAMI")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	v.AutomaticEnv()
	v.SetDefault(KeyOutput, "table")
	v.SetDefault(KeyLogLevel, "warn")
	v.SetDefault(KeyProgress, "auto")
	return &App{V: v, In: in, Out: out, Err: errw, Env: os.Getenv, IsTerminal: isTerminal}
}

// LoadConfig reads the config file named by --config / SAMI_CONFIG, if any.
func (a *App) LoadConfig() error {
	path := a.V.GetString(KeyConfig)
	if path == "" {
		return nil
	}
	a.V.SetConfigFile(path)
	if err := a.V.ReadInConfig(); err != nil {
		return Usage(fmt.Errorf("config %s: %w", path, err))
	}
	return nil
}

// Logger logs to stderr at the configured level.
func (a *App) Logger() *slog.Logger {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log == nil {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(a.V.GetString(KeyLogLevel))); err != nil {
			lvl = slog.LevelWarn
		}
		a.log = slog.New(slog.NewTextHandler(a.Err, &slog.HandlerOptions{Level: lvl}))
	}
	return a.log
}

// Registry is the driver registry with every compiled-in plugin.
func (a *App) Registry() (*device.Registry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reg == nil {
		r := device.NewRegistry()
		if err := plugins.Register(r); err != nil {
			return nil, err
		}
		for _, f := range a.registryExtras {
			if err := f(r); err != nil {
				return nil, err
			}
		}
		a.reg = r
	}
	return a.reg, nil
}

// AddDrivers registers more drivers (tests, the demo) before first use.
func (a *App) AddDrivers(f func(*device.Registry) error) {
	a.registryExtras = append(a.registryExtras, f)
}

// Inventory loads the inventory named by --inventory / SAMI_INVENTORY.
func (a *App) Inventory() (*topology.Inventory, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inv != nil {
		return a.inv, nil
	}
	path := a.V.GetString(KeyInventory)
	if path == "" {
		return nil, Usage(errors.New("no inventory: give --inventory FILE or set SAMI_INVENTORY (see examples/)"))
	}
	reg := a.reg
	var opts []topology.LoadOption
	if reg != nil {
		opts = append(opts, topology.WithDrivers(reg.Names()...))
	}
	inv, err := topology.LoadFile(path, opts...)
	if err != nil {
		return nil, Usage(err)
	}
	a.inv = inv
	return inv, nil
}

// SetInventory uses inv instead of loading one (the demo).
func (a *App) SetInventory(inv *topology.Inventory) {
	a.mu.Lock()
	a.inv = inv
	a.mu.Unlock()
}

// JournalPath is where the journal lives: --journal / SAMI_JOURNAL, else
// the user's state directory.
func (a *App) JournalPath() string {
	if p := a.V.GetString(KeyJournal); p != "" {
		return p
	}
	dir := a.Env("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "sami", "journal.db")
}

// Journal opens the journal (once).
func (a *App) Journal() (*journal.Journal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.j != nil {
		return a.j, nil
	}
	path := a.JournalPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal directory: %w", err)
	}
	j, err := journal.Open(path, journal.WithLogger(a.logNoLock()))
	if err != nil {
		return nil, err
	}
	a.j = j
	a.closers = append(a.closers, j.Close)
	return j, nil
}

func (a *App) logNoLock() *slog.Logger {
	if a.log != nil {
		return a.log
	}
	return slog.New(slog.DiscardHandler)
}

// Orchestrator builds the orchestrator over the inventory, the drivers and
// the journal (once).
func (a *App) Orchestrator(opts ...orchestrator.Option) (*orchestrator.Orchestrator, error) {
	reg, err := a.Registry()
	if err != nil {
		return nil, err
	}
	inv, err := a.Inventory()
	if err != nil {
		return nil, err
	}
	j, err := a.Journal()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.orch == nil {
		o, err := orchestrator.New(inv, reg, j, append([]orchestrator.Option{orchestrator.WithLogger(a.logNoLock()), orchestrator.WithEnv(a.Env)}, opts...)...)
		if err != nil {
			return nil, err
		}
		a.orch = o
		a.closers = append(a.closers, o.Close)
	}
	return a.orch, nil
}

// Open connects to a device of the inventory.
func (a *App) Open(ctx context.Context, name string) (device.Driver, error) {
	o, err := a.Orchestrator()
	if err != nil {
		return nil, err
	}
	return o.Open(ctx, name)
}

// Output is the output format (-o).
func (a *App) Output() string { return a.V.GetString(KeyOutput) }

// Progress reports whether to draw progress bars: "auto" draws them on a
// terminal only.
func (a *App) Progress() bool {
	switch a.V.GetString(KeyProgress) {
	case "always", "true", "on":
		return true
	case "never", "false", "off":
		return false
	}
	return a.IsTerminal(a.Err)
}

// Close releases what the App opened.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
