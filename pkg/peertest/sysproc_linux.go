package peertest

import "syscall"

// sysProcAttr puts a daemon in its own process group (so stop reaches its
// helpers) and has the kernel SIGTERM it when the test binary dies without
// running its cleanups (a test timeout panic, SIGKILL).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
