package render

import (
	"io"
)

// Check is one verified claim (the demo's after-migration checks).
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Checks writes checks as a CHECK/RESULT/DETAIL table, or as data.
func Checks(w io.Writer, f Format, cs []Check) error {
	if f != Table {
		return writeData(w, f, cs)
	}
	t := newTable(w, "CHECK", "RESULT", "DETAIL")
	for _, c := range cs {
		res := "ok"
		if !c.OK {
			res = "FAILED"
		}
		t.row(c.Name, res, c.Detail)
	}
	return t.flush()
}

// Value writes any value with JSON tags as indented JSON or as YAML with
// the same keys (for composite outputs such as the demo's).
func Value(w io.Writer, f Format, v any) error { return writeData(w, f, v) }
