// Package validate is the `sami validate` verb: it checks vendor mapping
// files against the vendor's YANG modules (goyang) and converts sample
// data with them, for people and for CI (-o json, -o junit).
package validate

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"github.com/sami-netops/sami/cmd/sami/internal/render"
	"github.com/sami-netops/sami/pkg/mapping"
	"github.com/spf13/cobra"
)

// JUnit is the extra output format of this verb.
const JUnit render.Format = "junit"

// New builds the validate verb.
func New(a *app.App) *cobra.Command {
	var yangPath, samples []string
	cmd := &cobra.Command{
		Use:   "validate [flags] MAPPING.yaml...",
		Short: "Check vendor mappings against the vendor's YANG modules and sample data",
		Long: `validate loads the vendor YANG modules the mappings name (from --yang-path,
repeatable) and checks every mapping: the module revisions and namespace, the
session list path and its keys, the RPC and its input, every mapped vendor path
(exists, is a leaf, has a type compatible with the canonical leaf, enum transforms
cover every vendor value), that every mandatory canonical leaf is mapped or
declared unsupported, and the write paths. --sample converts vendor data (XML or
JSON) into canonical sessions that must pass the sami model's validation; give
--sample MAPPING=FILE when several mappings are checked.

Exit codes: 0 all checks passed, 7 a mapping is wrong, 8 the vendor modules cannot
be loaded, 2 bad usage. Output: -o table (default), json, yaml, junit (one
testcase per check). The mapping format is documented in docs/plugins.md.`,
		Example: `  sami validate --yang-path $SAMI_VENDOR_YANG/juniper \
      --sample $SAMI_VENDOR_YANG/juniper/samples/flow-session-brief-srx-15.1I0-ipv6.xml \
      plugins/junos/mapping.yaml
  sami validate -o junit --yang-path yang/ --yang-path vendor/ mappings/*.yaml > report.xml`,
		Args:         cobra.MinimumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := render.ParseFormat(a.Output(), render.Table, render.JSON, render.YAML, JUnit)
			if err != nil {
				return err
			}
			if len(yangPath) == 0 {
				return app.Usage(errors.New("give the folders of the vendor modules with --yang-path DIR (repeatable)"))
			}
			res, err := Run(cmd, args, yangPath, samples)
			if err != nil {
				return err
			}
			if err := write(a.Out, f, res); err != nil {
				return err
			}
			return res.Err()
		},
	}
	cmd.Flags().StringArrayVar(&yangPath, "yang-path", nil, "folder to search for YANG modules (repeatable)")
	cmd.Flags().StringArrayVar(&samples, "sample", nil, "vendor data to convert, XML or JSON: FILE, or MAPPING=FILE (repeatable)")
	return cmd
}

// Outcome is the result of one sami validate run.
type Outcome struct {
	OK      bool             `json:"ok"`
	Modules []string         `json:"modules"`
	LoadMS  int64            `json:"modules_load_ms"`
	TookMS  int64            `json:"took_ms"`
	Results []*MappingResult `json:"mappings"`
	// ModulesErr is set when the modules could not be loaded.
	ModulesErr string `json:"modules_error,omitempty"`
	took       time.Duration
	modsErr    error
}

// MappingResult is one mapping's checks.
type MappingResult struct {
	Mapping string        `json:"mapping"`
	File    string        `json:"file"`
	OK      bool          `json:"ok"`
	TookMS  int64         `json:"took_ms"`
	Checks  []CheckResult `json:"checks"`
	took    time.Duration
}

// CheckResult is one check.
type CheckResult struct {
	Name     string `json:"name"`
	OK       bool   `json:"ok"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Path     string `json:"vendor_path,omitempty"`
	Error    string `json:"error,omitempty"`
	Sessions int    `json:"sessions,omitempty"`
}

// Err is the run's error with its exit code: modules that cannot be loaded
// (8) before wrong mappings (7).
func (o *Outcome) Err() error {
	if o.modsErr != nil {
		return &app.ExitError{Code: app.ExitModules, Err: o.modsErr}
	}
	if o.OK {
		return nil
	}
	var bad []string
	for _, r := range o.Results {
		if !r.OK {
			bad = append(bad, r.Mapping)
		}
	}
	return &app.ExitError{Code: app.ExitMapping, Err: fmt.Errorf("%w: %s", mapping.ErrMapping, strings.Join(bad, ", "))}
}

// Run validates the mapping files. Only usage problems are returned as
// errors; wrong mappings and unloadable modules are in the Outcome.
func Run(cmd *cobra.Command, files, yangPath, samples []string) (*Outcome, error) {
	ctx := cmd.Context()
	start := time.Now()
	out := &Outcome{OK: true}
	var ms []*mapping.Mapping
	byName := map[string]*MappingResult{}
	for _, f := range files {
		m, err := mapping.LoadFile(f)
		if err != nil {
			r := &MappingResult{Mapping: f, File: f}
			for _, e := range splitErr(err) {
				c := CheckResult{Name: "load", File: f, Error: e.Error()}
				var me *mapping.Error
				if errors.As(e, &me) {
					c.Line = me.Line
					if me.Key != "" {
						c.Name = "load " + me.Key
					}
				}
				r.Checks = append(r.Checks, c)
			}
			out.Results = append(out.Results, r)
			out.OK = false
			continue
		}
		if byName[m.Name] != nil {
			return nil, app.Usage(fmt.Errorf("mapping %s given twice (%s and %s)", m.Name, byName[m.Name].File, f))
		}
		r := &MappingResult{Mapping: m.Name, File: f}
		byName[m.Name] = r
		out.Results = append(out.Results, r)
		ms = append(ms, m)
	}
	sampleOf := map[string][]string{}
	for _, s := range samples {
		name, file, ok := strings.Cut(s, "=")
		if !ok {
			if len(ms) != 1 {
				return nil, app.Usage(fmt.Errorf("--sample %s: with several mappings say which one: --sample MAPPING=FILE", s))
			}
			name, file = ms[0].Name, s
		}
		if byName[name] == nil {
			return nil, app.Usage(fmt.Errorf("--sample %s: no mapping named %q among the files given", s, name))
		}
		sampleOf[name] = append(sampleOf[name], file)
	}
	if len(ms) > 0 {
		out.Modules = mapping.ModuleNames(ms...)
		mods, err := mapping.LoadModules(ctx, out.Modules, yangPath)
		if err != nil {
			out.OK, out.modsErr, out.ModulesErr = false, err, err.Error()
			out.took = time.Since(start)
			out.TookMS = out.took.Milliseconds()
			return out, nil
		}
		out.LoadMS = mods.Took.Milliseconds()
		for _, m := range ms {
			rep, err := mapping.Validate(ctx, m, mods, mapping.WithSamples(sampleOf[m.Name]...))
			if err != nil {
				return nil, err
			}
			r := byName[m.Name]
			r.OK, r.took, r.TookMS = true, rep.Took, rep.Took.Milliseconds()
			for _, c := range rep.Checks {
				cr := CheckResult{Name: c.Name, OK: c.Passed(), File: c.File, Line: c.Line, Path: c.Path, Sessions: c.Sessions}
				if c.Err != nil {
					cr.Error = c.Err.Error()
					r.OK = false
				}
				r.Checks = append(r.Checks, cr)
			}
			out.OK = out.OK && r.OK
		}
	}
	out.took = time.Since(start)
	out.TookMS = out.took.Milliseconds()
	return out, nil
}

func splitErr(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if _, isMapping := err.(*mapping.Error); !isMapping {
			return j.Unwrap()
		}
	}
	return []error{err}
}

func write(w io.Writer, f render.Format, o *Outcome) error {
	switch f {
	case JUnit:
		var suites []render.JUnitSuite
		if o.ModulesErr != "" {
			suites = append(suites, render.JUnitSuite{Name: "modules", Cases: []render.JUnitCase{{Name: "load " + strings.Join(o.Modules, " "), Class: "modules", Failure: o.ModulesErr}}})
		}
		for _, r := range o.Results {
			s := render.JUnitSuite{Name: r.Mapping, Time: r.took}
			for _, c := range r.Checks {
				jc := render.JUnitCase{Name: c.Name, Class: "mapping." + r.Mapping, Failure: c.Error}
				if c.Sessions > 0 {
					jc.Output = fmt.Sprintf("%d sessions", c.Sessions)
				}
				s.Cases = append(s.Cases, jc)
			}
			suites = append(suites, s)
		}
		return render.JUnit(w, suites)
	case render.JSON, render.YAML:
		return render.Value(w, f, o)
	}
	var cs []render.Check
	if o.ModulesErr != "" {
		cs = append(cs, render.Check{Name: "modules", Detail: o.ModulesErr})
	}
	for _, r := range o.Results {
		passed := 0
		for _, c := range r.Checks {
			if c.OK {
				passed++
				if c.Sessions > 0 {
					cs = append(cs, render.Check{Name: r.Mapping + ": " + c.Name, OK: true, Detail: fmt.Sprintf("%d sessions", c.Sessions)})
				}
				continue
			}
			cs = append(cs, render.Check{Name: r.Mapping + ": " + c.Name, Detail: c.Error})
		}
		cs = append(cs, render.Check{Name: r.Mapping, OK: r.OK, Detail: fmt.Sprintf("%d of %d checks passed (%s)", passed, len(r.Checks), r.File)})
	}
	if o.ModulesErr == "" && len(o.Modules) > 0 {
		cs = append(cs, render.Check{Name: "modules", OK: true, Detail: fmt.Sprintf("%s loaded in %d ms; total %d ms", strings.Join(o.Modules, ", "), o.LoadMS, o.TookMS)})
	}
	return render.Checks(w, render.Table, cs)
}
