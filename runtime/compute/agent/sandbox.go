package agent

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// A job's sandbox (Linux): its supervisor starts in new user, mount, PID,
// IPC and UTS namespaces (and a network namespace unless the job's
// resource is one of Config.NetworkResources), builds a root of its own
// (the system folders read-only, the job's folder writable, a private
// /tmp, /dev with a few devices, a /proc of its own PID namespace) and
// starts the job in a further user namespace as an ordinary user, so the
// job holds no capability over any of it. See docs/design/compute.md.

// systemFolders are what a sandboxed job sees of the host: read-only, each
// if it exists (a symbolic link, as on merged-/usr systems, stays one).
// The agent's wallet, its configuration, home folders and the work folder
// with the other jobs' folders are not among them.
var systemFolders = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/etc", "/opt"}

// sandboxSpec is what a supervisor needs to build a job's sandbox: it
// travels as one argument of its command line (String, parseSandbox).
type sandboxSpec struct {
	// Dir is the job's folder, the one writable folder besides /tmp; it
	// keeps its path inside, so the job's environment names it as outside.
	Dir string
	// Net keeps the host's network (the job's resource allows it).
	Net bool
	// Hide are paths under the system folders that the job must not see
	// (the cluster key's folder, the agent's wallet and configuration),
	// covered by an empty folder or file inside.
	Hide []string
	// Fence: no namespaces, a Landlock fence instead (see fence_linux.go).
	Fence bool
}

// noSandbox is the spec argument of a job that runs without one.
const noSandbox = "-"

func (s *sandboxSpec) String() string {
	if s == nil {
		return noSandbox
	}
	v := url.Values{"dir": {s.Dir}, "hide": s.Hide}
	if s.Net {
		v.Set("net", "1")
	}
	if s.Fence {
		v.Set("fence", "1")
	}
	return v.Encode()
}

func parseSandbox(arg string) (*sandboxSpec, error) {
	if arg == noSandbox {
		return nil, nil
	}
	v, err := url.ParseQuery(arg)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &sandboxSpec{Dir: v.Get("dir"), Net: v.Get("net") == "1", Hide: v["hide"], Fence: v.Get("fence") == "1"}
	if !filepath.IsAbs(s.Dir) {
		return nil, errors.New("sandbox: the job's folder must be an absolute path")
	}
	return s, nil
}

// underSystem: path is inside one of the system folders a sandboxed job
// sees.
func underSystem(path string) bool {
	for _, f := range systemFolders {
		if path == f || strings.HasPrefix(path, f+"/") {
			return true
		}
	}
	return false
}

// isolation is what this agent can isolate its jobs with, found once at
// its start (checkIsolation).
type isolation struct {
	// sandbox: jobs run in namespaces; else noSandboxWhy says why not.
	sandbox      bool
	noSandboxWhy string
	// fence: without a sandbox, jobs run behind a Landlock fence (ABI
	// fenceABI); else noFenceWhy says why not.
	fence      bool
	fenceABI   int
	noFenceWhy string
	// cgroups: a cgroup per job (Config.CgroupDir), or nil.
	cgroups *jobCgroups
	// hide are the sandboxSpec.Hide of every job.
	hide []string
	// tenant is, without a sandbox, the one user whose jobs this agent
	// runs (Config.UnsandboxedSingleTenant): the first it claims.
	mu     sync.Mutex
	tenant string
}

// describe is the isolation a job ran under, as its status records it.
func (iso *isolation) describe(net bool) string {
	limits := "; limits: per-process rlimits"
	if iso.cgroups != nil {
		limits += ", " + iso.cgroups.describe()
	}
	if iso.fence {
		return fmt.Sprintf("fence: Landlock ABI %d, no namespaces, single tenant (%s)", iso.fenceABI, iso.noSandboxWhy) + limits
	}
	if !iso.sandbox {
		return "none: no sandbox, single tenant (" + iso.noSandboxWhy + "; " + iso.noFenceWhy + ")" + limits
	}
	ns := "user, mount, pid, ipc, uts, net"
	if net {
		ns = "user, mount, pid, ipc, uts; host network"
	}
	return "sandbox: " + ns + " namespaces" + limits
}

// checkLimits finds, and logs, how job limits apply: in a cgroup per job
// where Config.CgroupDir is usable, else per process only.
func checkLimits(cfg *Config, iso *isolation) {
	if cfg.CgroupDir == "" {
		cfg.Logger.Info("job limits: per-process rlimits only (no cgroup folder given)")
		return
	}
	cg, err := checkCgroups(cfg.CgroupDir)
	if err != nil {
		cfg.Logger.Warn("job limits: per-process rlimits only: the cgroup folder is not usable", "dir", cfg.CgroupDir, "err", err)
		return
	}
	iso.cgroups = cg
	cfg.Logger.Info("job limits: "+cg.describe()+", and per-process rlimits", "dir", cg.dir)
}

// admit is whether the job of user may run here: always with a sandbox;
// without one, only the jobs of the first user this agent ran (a job of
// another could read that user's files and the agent's).
func (iso *isolation) admit(user string) error {
	if iso.sandbox {
		return nil
	}
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.tenant == "" {
		iso.tenant = user
	}
	if iso.tenant != user {
		return errors.New("this agent runs jobs without a sandbox and serves another user only")
	}
	return nil
}

// netFor: a job bought through resource keeps the host's network.
func (c *Config) netFor(resource string) bool {
	return slices.Contains(c.NetworkResources, resource)
}

// checkIsolation finds once, at the agent's start, how it can isolate
// jobs here, and logs it: a sandbox if it has a launcher and a sandbox
// works here (it runs a throw-away one), else none, which it accepts only
// with UnsandboxedSingleTenant (and then without a process limit, which
// would count the agent's own processes).
func checkIsolation(cfg *Config) (*isolation, error) {
	iso := &isolation{hide: cfg.Hide}
	checkLimits(cfg, iso)
	var why error
	switch {
	case cfg.Launcher == "":
		why = errors.New("the agent has no launcher")
	case underSystem(cfg.WorkDir):
		why = fmt.Errorf("the work folder %s is inside %s, which sandboxed jobs see", cfg.WorkDir, systemFolders)
	default:
		why = sandboxCheck(cfg.Launcher, cfg.WorkDir)
	}
	iso.sandbox = why == nil
	if iso.sandbox {
		cfg.Logger.Info("job isolation: a sandbox per job", "namespaces", "user, mount, pid, ipc, uts, net",
			"network_resources", cfg.NetworkResources, "limits", "per-process rlimits (no cgroup)")
		return iso, nil
	}
	iso.noSandboxWhy = why.Error()
	if !cfg.UnsandboxedSingleTenant {
		return nil, fmt.Errorf("agent: cannot sandbox jobs here (%v); a job could read the files of the agent's user and of other jobs: "+
			"run the jobs of a single user only with UnsandboxedSingleTenant (--unsandboxed-single-tenant)", why)
	}
	if cfg.Limits.Processes != 0 {
		return nil, errors.New("agent: a process limit needs a sandbox (without one it would count the agent's own processes)")
	}
	var noFence error
	switch {
	case cfg.Launcher == "" || !superviseSupported:
		noFence = errors.New("no fence without a job supervisor")
	default:
		noFence = checkFence()
	}
	if noFence == nil {
		iso.fence, iso.fenceABI = true, landlockABI()
		cfg.Logger.Warn("job isolation: no sandbox, a Landlock fence; jobs run as the agent's user, of one user only (single tenant)",
			"why", iso.noSandboxWhy, "landlock_abi", iso.fenceABI, "limits", "per-process rlimits")
		return iso, nil
	}
	iso.noFenceWhy = noFence.Error()
	cfg.Logger.Warn("job isolation: NONE; jobs run as the agent's user and can read what it can (the cluster key file too), of one user only (single tenant)",
		"why", iso.noSandboxWhy, "no_fence", iso.noFenceWhy, "limits", "per-process rlimits")
	return iso, nil
}

// sandboxCheck is checkSandbox; tests replace it to act as a system
// without namespaces.
var sandboxCheck = checkSandbox
