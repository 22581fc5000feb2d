package peertest

import (
	"strings"
	"testing"
)

// ReportCheck turns one line printed by a peer script ("ok NAME" or
// "FAIL NAME: detail") into a subtest of t, so CI shows every check of the
// third-party client by name; any other line is logged. It reports whether
// the line was a check and whether it passed.
func ReportCheck(t *testing.T, line string) (check, passed bool) {
	t.Helper()
	var name, detail string
	if n, ok := strings.CutPrefix(line, "ok "); ok {
		name, passed = n, true
	} else if rest, ok := strings.CutPrefix(line, "FAIL "); ok {
		name, detail, _ = strings.Cut(rest, ": ")
	} else {
		t.Log(line)
		return false, false
	}
	t.Run(name, func(t *testing.T) {
		if !passed {
			t.Error(detail)
		}
	})
	return true, passed
}
