package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// superviseSupported: the kernel can signal a process when its parent
// dies (Pdeathsig), which is what a supervisor is for.
const superviseSupported = true

// statusFD is the descriptor a supervisor reports its job's end on.
const statusFD = 3

// supervise is the supervisor role: it runs the launcher (argv: sandbox,
// limits, path, name, args) as its child in this process's group, the job's, and
// reports how the job ended on statusFD. The job's processes end with it:
// when the job's own process ends, and when the agent dies without
// stopping (the agent starts the supervisor with SIGTERM as its
// parent-death signal), the supervisor kills every process below it. As a
// child subreaper it inherits what leaves the group (setsid, a double
// fork), so those are killed too. A sandboxed supervisor (a sandbox
// argument other than noSandbox) is PID 1 of the job's namespaces: it
// builds the job's root first, and starts the job as an ordinary user.
func supervise(argv []string) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	syscall.CloseOnExec(statusFD) // the job must not hold the agent's pipe
	status := os.NewFile(statusFD, "status")
	argv, box, err := sandboxArg(argv)
	if err != nil {
		superviseFailed(status, argv, err)
	}
	rootAgent := os.Getenv(rootAgentEnv) != ""
	_ = os.Unsetenv(rootAgentEnv)
	if box != nil && !box.Fence {
		if err := enterSandbox(box); err != nil {
			superviseFailed(status, argv, fmt.Errorf("sandbox: %w", err))
		}
	}
	if err := becomeSubreaper(); err != nil {
		superviseFailed(status, argv, err)
	}
	cmd, err := supervisedCmd(argv, box)
	if err != nil {
		superviseFailed(status, argv, err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// If this process is killed outright, the launcher (then the job) goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if box != nil && !box.Fence {
		jobAttr(cmd.SysProcAttr, rootAgent)
	}
	if err := cmd.Start(); err != nil {
		superviseFailed(status, argv, err)
	}
	done, stopReaping := make(chan struct{}), make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	go reapOrphans(cmd.Process.Pid, stopReaping)
	select {
	case <-term:
		endTree()
		os.Exit(128 + int(syscall.SIGKILL))
	case <-done:
	}
	close(stopReaping)
	endTree()
	end := endOf(cmd.ProcessState)
	_, _ = fmt.Fprint(status, end.report())
	os.Exit(end.exitCode())
}

// supervisedCmd is the job's command itself when it has no limits, else
// this binary in its launcher role, which sets them first: each start of
// this binary costs about 20 ms of CPU (its packages' init), so a job
// without limits is spared the second one.
// A sandboxed supervisor finds this binary where it bound it; a fenced
// job always starts through it (in its fence role).
func supervisedCmd(argv []string, box *sandboxSpec) (*exec.Cmd, error) {
	l, err := parseLimits(argv[0])
	if err != nil {
		return nil, err
	}
	fenced := box != nil && box.Fence
	if !l.set() && !fenced {
		return commandAs(context.Background(), argv[1], argv[2], argv[3:]), nil
	}
	self := launcherInside
	if box == nil || fenced {
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if fenced {
		net := "-"
		if box.Net {
			net = "net"
		}
		return exec.Command(self, append([]string{fenceArg, box.Dir, net}, argv...)...), nil //nolint:gosec // this binary, in its fence role
	}
	return exec.Command(self, append([]string{launchArg}, argv...)...), nil //nolint:gosec // this binary, in its launcher role
}

// sandboxArg takes the sandbox argument off a supervisor's command line.
func sandboxArg(argv []string) ([]string, *sandboxSpec, error) {
	box, err := parseSandbox(argv[0])
	return argv[1:], box, err
}

func superviseFailed(status *os.File, argv []string, err error) {
	name := "the job"
	if len(argv) > 2 {
		name = argv[2]
	}
	fmt.Fprintf(os.Stderr, "acquire agent: could not start %s: %v\n", name, err)
	_, _ = fmt.Fprint(status, ended{code: launchFailed}.report())
	os.Exit(launchFailed)
}
