//go:build unix

package agent

import (
	"os/exec"
	"syscall"
)

// ownGroup runs the command in its own process group and, on cancel (a
// timeout, a cancelled job, the agent stopping), ends what the job
// started: a supervisor (supervised) is sent SIGTERM and kills every
// process below it, those that left the group too, then exits (if it has
// not within killGrace, exec kills it, and its parent-death signal the
// job's first process); without one the whole group is killed. Where the
// system can (Linux), the same happens when the agent dies without
// cancelling (SIGKILL, a crash), so a job whose lease passes does not run
// on beside its next attempt.
func ownGroup(cmd *exec.Cmd, supervised bool) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithAgent(cmd.SysProcAttr, supervised)
	if supervised {
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	} else {
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
}
