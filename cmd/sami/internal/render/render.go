// Package render writes what the sami verbs show: sessions, devices,
// capabilities, migration reports and plans, journal records, as a table
// for people or as JSON, YAML (and, for sessions, XML) for programs. The
// table layouts live here so every verb (and the demo, and the daemon's
// logs) shows the same thing the same way.
package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/sami-netops/sami/cmd/sami/internal/app"
	"go.yaml.in/yaml/v3"
)

// Format is an output format (-o).
type Format string

// The output formats.
const (
	Table Format = "table"
	JSON  Format = "json"
	YAML  Format = "yaml"
	XML   Format = "xml"
)

// ErrFormat: the output format is not one the command can write.
var ErrFormat = errors.New("unknown output format")

// Common is what most commands can write; sessions add XML.
var Common = []Format{Table, JSON, YAML}

// ParseFormat checks s against the allowed formats (Common when none are
// given). A bad value is a usage error naming the allowed ones.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	if len(allowed) == 0 {
		allowed = Common
	}
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f == "" {
		f = Table
	}
	if slices.Contains(allowed, f) {
		return f, nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return "", app.Usage(fmt.Errorf("%w %q for -o: use one of %s", ErrFormat, s, strings.Join(names, ", ")))
}

// FormatOf is the App's -o, checked against allowed.
func FormatOf(a *app.App, allowed ...Format) (Format, error) {
	return ParseFormat(a.Output(), allowed...)
}

// writeData writes v as indented JSON or as YAML with the same keys (the
// JSON tags), in the same order.
func writeData(w io.Writer, f Format, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeJSONAs(w, f, b)
}

// writeJSONAs writes JSON text as is, or converted to block-style YAML.
func writeJSONAs(w io.Writer, f Format, b []byte) error {
	switch f {
	case JSON:
		b = append(b, '\n')
		_, err := w.Write(b)
		return err
	case YAML:
		// JSON is YAML: decoding it into a node keeps the key order;
		// clearing the styles makes the output block style.
		var n yaml.Node
		if err := yaml.Unmarshal(b, &n); err != nil {
			return err
		}
		plain(&n)
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&n); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	return fmt.Errorf("%w %q here", ErrFormat, f)
}

func plain(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Value == "" {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		plain(c)
	}
}

// table is a tabwriter with sami's spacing.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// kv writes "key  value" lines, aligned.
func kv(w io.Writer, pairs ...[2]string) error {
	t := newTable(w)
	for _, p := range pairs {
		fmt.Fprintf(t.tw, "%s\t%s\n", p[0], p[1])
	}
	return t.flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
