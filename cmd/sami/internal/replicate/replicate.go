// Package replicate is `sami replicate DEVICE...`: keep standby copies of
// devices' session tables in the journal (checkpoints), so that `sami
// migrate --unplanned` can install them when a device is gone. It runs
// until interrupted and prints every checkpoint.
package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/caps"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/migrate"
	"github.com/sami-netops/sami/pkg/topology"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Line is one printed status: a checkpoint or a connection change.
type Line struct {
	Time       time.Time  `json:"time" yaml:"time"`
	Device     string     `json:"device" yaml:"device"`
	Sessions   int        `json:"sessions" yaml:"sessions"`
	Checkpoint *time.Time `json:"checkpoint,omitempty" yaml:"checkpoint,omitempty"`
	Connected  bool       `json:"connected" yaml:"connected"`
	Error      string     `json:"error,omitempty" yaml:"error,omitempty"`
}

// New returns the replicate command.
func New(a *app.App) *cobra.Command {
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "replicate DEVICE...",
		Short: "Keep checkpoints of devices' sessions for unplanned moves (runs until Ctrl-C)",
		Example: `  sami replicate fw1 fw2 --interval 5s
  sami replicate fw1 -o json   # one JSON object per line`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return app.Usage(errors.New("replicate needs at least one DEVICE"))
			}
			return nil
		},
		ValidArgsFunction: caps.DeviceNames(a),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := render.FormatOf(a)
			if err != nil {
				return err
			}
			if interval <= 0 {
				return app.Usage(fmt.Errorf("--interval %s: must be positive", interval))
			}
			o, err := a.Orchestrator()
			if err != nil {
				return err
			}
			inv := o.Inventory()
			for _, d := range args {
				if _, ok := inv.Device(d); !ok {
					return app.Usage(fmt.Errorf("%w %q (sami devices lists them)", topology.ErrUnknownDevice, d))
				}
			}
			var mu sync.Mutex
			header := false
			print := func(st migrate.ReplicaStatus) {
				l := Line{Time: time.Now().UTC(), Device: st.Device, Sessions: st.Sessions, Connected: st.Connected}
				if !st.Checkpoint.IsZero() {
					c := st.Checkpoint.UTC()
					l.Checkpoint = &c
				}
				if st.Err != nil {
					l.Error = st.Err.Error()
				}
				mu.Lock()
				defer mu.Unlock()
				write(a, f, l, &header)
			}
			ctx := cmd.Context()
			errs := make([]error, len(args))
			var wg sync.WaitGroup
			for i, d := range args {
				wg.Go(func() {
					errs[i] = o.Engine().Replicate(ctx, d, migrate.ReplicateOptions{Interval: interval, Status: print})
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil && ctx.Err() == nil {
				return err
			}
			return nil // interrupted: the checkpoints are in the journal
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between checkpoints while the table changes")
	return cmd
}

// write prints one line: aligned columns for people, one JSON object (or
// YAML document) per line for programs.
func write(a *app.App, f render.Format, l Line, header *bool) {
	switch f {
	case render.JSON:
		b, _ := json.Marshal(l)
		fmt.Fprintf(a.Out, "%s\n", b)
		return
	case render.YAML:
		b, _ := yaml.Marshal(l)
		fmt.Fprintf(a.Out, "---\n%s", b)
		return
	}
	if !*header {
		fmt.Fprintf(a.Out, "%-20s  %-12s  %8s  %-20s  %s\n", "TIME", "DEVICE", "SESSIONS", "CHECKPOINT", "STREAM")
		*header = true
	}
	cp, stream := "-", "down"
	if l.Checkpoint != nil {
		cp = l.Checkpoint.Format(time.RFC3339)
	}
	if l.Connected {
		stream = "up"
	}
	if l.Error != "" {
		stream += ": " + l.Error
	}
	fmt.Fprintf(a.Out, "%-20s  %-12s  %8d  %-20s  %s\n", l.Time.Format(time.RFC3339), l.Device, l.Sessions, cp, stream)
}
