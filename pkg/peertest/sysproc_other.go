//go:build !linux

package peertest

import "syscall"

// sysProcAttr puts a daemon in its own process group, so stop reaches its
// helpers.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
