package peertest

import (
	"slices"
	"testing"
)

// WithModulePath directories come first in --modpath, then the modules'
// own directories, then yuma's, each once.
func TestNetconfdModulePath(t *testing.T) {
	var c netconfdConfig
	for _, o := range []NetconfdOption{
		WithModulePath("/vendor/ietf"),
		WithModule("/tmp/x/ietf-nat.yang"),
		WithModule("/vendor/ietf/other.yang"),
	} {
		o(&c)
	}
	n := &Netconfd{cfg: c}
	args := n.netconfdArgs()
	if !slices.Contains(args, "--modpath=/vendor/ietf:/tmp/x:"+yumaModules) {
		t.Errorf("args %q", args)
	}
	if !slices.Contains(args, "--module=/tmp/x/ietf-nat.yang") || !slices.Contains(args, "--module=/vendor/ietf/other.yang") {
		t.Errorf("args %q", args)
	}
}
