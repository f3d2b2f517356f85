//go:build linux || darwin

package agent

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	rlimitsSupported = true
	rlimitNproc      = unix.RLIMIT_NPROC
)

// execLimited sets l on this process and execs path with argv. A limit
// above the agent's own hard limit is held to it: an unprivileged process
// can lower its limits but not raise them.
func execLimited(l Limits, path string, argv []string) error {
	for _, r := range []struct {
		resource int
		v        uint64
	}{{syscall.RLIMIT_DATA, uint64(l.MemoryBytes)}, {syscall.RLIMIT_CPU, uint64(l.CPUSeconds)},
		{syscall.RLIMIT_FSIZE, uint64(l.FileBytes)}, {syscall.RLIMIT_NOFILE, uint64(l.OpenFiles)},
		{rlimitNproc, uint64(l.Processes)}} {
		if r.v == 0 {
			continue
		}
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(r.resource, &cur); err != nil {
			return err
		}
		hard := r.v
		if r.resource == syscall.RLIMIT_CPU {
			hard++ // SIGXCPU at the soft limit, SIGKILL a second later
		}
		// syscall.Setrlimit (not x/sys) so that Exec keeps this NOFILE limit
		// instead of restoring the one Go raised at start-up.
		if err := syscall.Setrlimit(r.resource, &syscall.Rlimit{Cur: min(r.v, cur.Max), Max: min(hard, cur.Max)}); err != nil {
			return err
		}
	}
	return syscall.Exec(path, argv, os.Environ()) //nolint:gosec // becoming the job's command is the point
}

// limitSignal names the limit a job's process was stopped by, if the
// signal that killed it says so.
func limitSignal(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGXCPU:
		return "its CPU time limit"
	case syscall.SIGXFSZ:
		return "its file size limit"
	}
	return ""
}
