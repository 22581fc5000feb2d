//go:build !race

package netconf_test

const raceEnabled = false
