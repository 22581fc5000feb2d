//go:build race

package netconf_test

// raceEnabled shrinks the 100k-session tests under -race, which slows them ~10x.
const raceEnabled = true
