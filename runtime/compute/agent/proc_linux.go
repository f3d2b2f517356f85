package agent

import "syscall"

// dieWithAgent has the kernel SIGKILL the job's process when the agent's
// thread that started it ends. Go ends a thread only with the process (or
// a goroutine that exits while locked to its thread, which the agent's
// workers never are), and execve keeps the setting, so it holds through
// the launcher. Only that process: what it started itself is left to run
// out (a clean stop kills the whole group).
func dieWithAgent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
