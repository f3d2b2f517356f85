package agent

import (
	"bytes"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds on ending a job's process tree: a process that forks faster than
// it is killed (a fork bomb) is given up on after treeRounds passes.
const (
	treeRounds = 200
	treePause  = 2 * time.Millisecond
	// reapEvery spaces the scans that reap a running job's orphans.
	reapEvery = 50 * time.Millisecond
)

// becomeSubreaper makes this process inherit the orphans of its
// descendants instead of init: a job's process that leaves its group
// (setsid) or whose parent exits (a double fork) stays below the
// supervisor, where endTree finds it.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// endTree kills every live process below this one and reaps what it can,
// pass after pass, until none is left: killing a parent hands its children
// to this process, so each pass finds what the last one's kills orphaned.
func endTree() {
	self := os.Getpid()
	for range treeRounds {
		live := descendants(self)
		for _, p := range live {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		reapAny()
		if len(live) == 0 {
			return
		}
		time.Sleep(treePause)
	}
}

// reapAny reaps every child of this process that has ended. Only once the
// job's own process is reaped (its cmd.Wait returned), or when nothing
// will wait for it any more, since it would take that status too.
func reapAny() {
	var ws syscall.WaitStatus
	for {
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// reapOrphans reaps, while the job runs, the orphans this process inherits
// as they end (not the job's own process, which cmd.Wait reaps), so a job
// that daemonises many short-lived processes does not fill the process
// table with zombies. It runs until stop is closed.
func reapOrphans(main int, stop <-chan struct{}) {
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	defer signal.Stop(chld)
	for {
		select {
		case <-stop:
			return
		case <-chld:
		}
		for _, p := range zombieChildren(os.Getpid()) {
			if p != main {
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(p, &ws, syscall.WNOHANG, nil)
			}
		}
		time.Sleep(reapEvery)
	}
}

// proc is one process's parent and state, from /proc/PID/stat.
type proc struct {
	pid, ppid int
	zombie    bool
}

// processes reads every process's parent and state. Processes that end
// while it reads are skipped.
func processes() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]proc, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if p, ok := parseStat(pid, b); ok {
			out = append(out, p)
		}
	}
	return out
}

// parseStat reads "PID (COMM) STATE PPID …"; COMM may hold spaces and
// parentheses, so the fields are taken after its last ')'.
func parseStat(pid int, b []byte) (proc, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return proc{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return proc{}, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, zombie: f[0][0] == 'Z' || f[0][0] == 'X'}, true
}

// descendants are the live processes below root.
func descendants(root int) []int {
	children := map[int][]proc{}
	for _, p := range processes() {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var live []int
	queue := []int{root}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			if !c.zombie {
				live = append(live, c.pid)
			}
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return live
}

// zombieChildren are root's children that have ended and wait to be reaped.
func zombieChildren(root int) []int {
	var z []int
	for _, p := range processes() {
		if p.ppid == root && p.zombie {
			z = append(z, p.pid)
		}
	}
	return z
}
