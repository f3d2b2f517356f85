package agent

import "syscall"

// dieWithAgent has the kernel signal the job's first process when the
// agent's thread that started it ends: SIGTERM for a supervisor, which
// then kills the job's group, else SIGKILL. Go ends a thread only with the
// process (or a goroutine that exits while locked to its thread, which the
// agent's workers never are), and execve keeps the setting. A command
// started directly takes only itself: what it started runs out.
func dieWithAgent(a *syscall.SysProcAttr, supervised bool) {
	a.Pdeathsig = syscall.SIGKILL
	if supervised {
		a.Pdeathsig = syscall.SIGTERM
	}
}
