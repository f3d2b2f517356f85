package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Per-job cgroups (Config.CgroupDir): a cgroup v2 folder the agent may
// write (a delegated subtree). Each job's supervisor starts in a cgroup of
// its own below it (CLONE_INTO_CGROUP), which takes every process the job
// starts: memory.max and pids.max there are totals for the job, where the
// folder has those controllers, and cgroup.kill ends the whole job, even
// what escaped its supervisor.

// cgroupControllers are the controllers whose limits the agent sets.
var cgroupControllers = []string{"memory", "pids"}

// cgroupRmTries bounds the tries to remove a job's cgroup after its kill.
const cgroupRmTries = 100

// jobCgroups is a usable cgroup folder and the controllers it has.
type jobCgroups struct {
	dir         string
	controllers []string
}

// checkCgroups checks dir at start: a cgroup v2 folder this agent can
// make cgroups in. It enables what it can of cgroupControllers for them.
func checkCgroups(dir string) (*jobCgroups, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return nil, err
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("%s is not a cgroup v2 folder", dir)
	}
	have, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")) //nolint:gosec // the folder the agent was given
	if err != nil {
		return nil, err
	}
	cg := &jobCgroups{dir: dir}
	for _, c := range cgroupControllers {
		if !slices.Contains(strings.Fields(string(have)), c) {
			continue
		}
		// Fails if processes live in dir itself (cgroup v2 allows
		// controllers only over leaves): then the limits are not set.
		if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0); err == nil {
			cg.controllers = append(cg.controllers, c)
		}
	}
	probe, err := cg.make()
	if err != nil {
		return nil, fmt.Errorf("cannot make a cgroup in %s: %w", dir, err)
	}
	probe.remove()
	return cg, nil
}

// describe is what the cgroups give, for the logs and job status.
func (cg *jobCgroups) describe() string {
	if len(cg.controllers) == 0 {
		return "a cgroup per job (no memory or pids controller there: no totals)"
	}
	return "a cgroup per job with " + strings.Join(cg.controllers, ", ") + " totals"
}

// jobCgroup is one job's cgroup, open for CLONE_INTO_CGROUP.
type jobCgroup struct {
	dir string
	fd  *os.File
}

// make makes a job's cgroup.
func (cg *jobCgroups) make() (*jobCgroup, error) {
	dir, err := os.MkdirTemp(cg.dir, "acquire-job-")
	if err != nil {
		return nil, err
	}
	fd, err := os.Open(dir) //nolint:gosec // the cgroup just made
	if err != nil {
		_ = os.Remove(dir)
		return nil, err
	}
	return &jobCgroup{dir: dir, fd: fd}, nil
}

// limit sets the job's totals the folder has controllers for.
func (cg *jobCgroups) limit(j *jobCgroup, l Limits) error {
	for _, f := range []struct {
		controller, file string
		v                int64
	}{{"memory", "memory.max", l.MemoryBytes}, {"memory", "memory.swap.max", l.MemoryBytes}, {"pids", "pids.max", l.Processes}} {
		if f.v == 0 || !slices.Contains(cg.controllers, f.controller) {
			continue
		}
		v := strconv.FormatInt(f.v, 10)
		if f.file == "memory.swap.max" {
			v = "0" // the memory total is the job's whole memory
		}
		if err := os.WriteFile(filepath.Join(j.dir, f.file), []byte(v), 0); err != nil && f.file != "memory.swap.max" {
			return err
		}
	}
	return nil
}

// into starts the command in the job's cgroup.
func (j *jobCgroup) into(a *syscall.SysProcAttr) {
	a.UseCgroupFD, a.CgroupFD = true, int(j.fd.Fd())
}

// remove kills what is left in the job's cgroup and removes it.
func (j *jobCgroup) remove() {
	_ = j.fd.Close()
	_ = os.WriteFile(filepath.Join(j.dir, "cgroup.kill"), []byte("1"), 0)
	for range cgroupRmTries {
		if err := os.Remove(j.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
