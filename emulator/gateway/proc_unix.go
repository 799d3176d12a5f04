//go:build unix

package gateway

import (
	"os/exec"
	"syscall"
)

// isolate puts the handler in its own process group so a kill reaches any
// children it started too.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// kill stops the process and its group.
func kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Process.Kill()
}
