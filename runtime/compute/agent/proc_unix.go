//go:build unix

package agent

import (
	"os/exec"
	"syscall"
)

// ownGroup runs the command in its own process group and kills the whole
// group on cancel, so the children it started die with it. Where the
// system can (Linux), the group also dies when the agent dies without
// cancelling it (SIGKILL, a crash), so a job whose lease passes does not
// run on beside its next attempt: a supervisor (supervised) is told with
// SIGTERM and kills the group; a command started directly is killed.
func ownGroup(cmd *exec.Cmd, supervised bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithAgent(cmd.SysProcAttr, supervised)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
