//go:build unix

package agent

import (
	"os/exec"
	"syscall"
)

// ownGroup runs the command in its own process group and kills the whole
// group on cancel, so the children it started die with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
