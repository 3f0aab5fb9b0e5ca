package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when probebench dies, so no exporter outlives a crash.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
