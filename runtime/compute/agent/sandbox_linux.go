package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// IDs inside a sandbox. The supervisor is root of the first user
// namespace (it builds the mounts); the job is jobID in a second one,
// nested, whose creator maps only that one ID, so the job has no
// capability over the mounts, the namespaces or the supervisor.
// An agent running as root gives its jobs nobodyID outside (else a
// job would own every root file it can see); any other agent's jobs are
// its own user outside, which sees none of the agent's files.
const (
	jobID    = 1000
	nobodyID = 65534
	// launcherInside is where a sandboxed supervisor finds this binary
	// (bound read-only) to start the launcher role that sets limits.
	launcherInside = "/.acquire-launcher"
	// tmpBytes bounds a sandbox's private /tmp (memory-backed).
	tmpBytes = 64 << 20
	// probeTimeout bounds the sandbox check at start.
	probeTimeout = 20 * time.Second
)

// sandboxFlags are the namespaces of a job's supervisor.
func sandboxFlags(net bool) uintptr {
	f := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	if !net {
		f |= syscall.CLONE_NEWNET
	}
	return f
}

// sandboxAttr starts a job's supervisor in its namespaces, as root of its
// user namespace. For an agent running as root the namespace also maps
// jobID (to nobodyID), which the job becomes, and the supervisor drops
// root's supplementary groups.
func sandboxAttr(a *syscall.SysProcAttr, net bool) {
	a.Cloneflags = sandboxFlags(net)
	uid, gid := os.Getuid(), os.Getgid()
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	if uid == 0 {
		a.UidMappings = append(a.UidMappings, syscall.SysProcIDMap{ContainerID: jobID, HostID: nobodyID, Size: 1})
		a.GidMappings = append(a.GidMappings, syscall.SysProcIDMap{ContainerID: jobID, HostID: nobodyID, Size: 1})
		a.GidMappingsEnableSetgroups = true
		a.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}
	}
}

// jobAttr starts the job, from a sandboxed supervisor, as jobID in a user
// namespace of its own: it execs as an ordinary user, so it keeps no
// capability, and the mounts it sees are locked as the supervisor left
// them.
func jobAttr(a *syscall.SysProcAttr, rootAgent bool) {
	inside := 0 // the supervisor's own ID: the agent's user outside
	if rootAgent {
		inside = jobID // mapped to nobodyID outside
	}
	a.Cloneflags = syscall.CLONE_NEWUSER
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: jobID, HostID: inside, Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: jobID, HostID: inside, Size: 1}}
	// Mapping an ID changes nobody's: the job becomes jobID (the
	// supervisor dropped supplementary groups already where it could).
	a.Credential = &syscall.Credential{Uid: jobID, Gid: jobID, NoSetGroups: true}
}

// rootAgentEnv tells a sandboxed supervisor that its agent runs as root
// (so its jobs are jobID, not its own ID). The supervisor removes it
// from the job's environment.
const rootAgentEnv = "ACQUIRE_SANDBOX_ROOT_AGENT"

// handOver gives a job's folder to the job's user outside: for an agent
// running as root, nobodyID, which can otherwise neither write its folder
// nor read its inputs.
func handOver(dir string) error {
	if os.Getuid() != 0 {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		// Before the job runs: only the agent has written here.
		return os.Lchown(p, nobodyID, nobodyID) //nolint:gosec // see above
	})
}

// enterSandbox builds the job's root and moves this process (the
// supervisor, PID 1 of the job's PID namespace) into it.
func enterSandbox(s *sandboxSpec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private mounts: %w", err)
	}
	// Held open: the new root is built on /tmp, which may hold them.
	dir, err := unix.Open(s.Dir, unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("the job's folder: %w", err)
	}
	defer func() { _ = unix.Close(dir) }()
	exe, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("this binary: %w", err)
	}
	defer func() { _ = unix.Close(exe) }()
	const root = "/tmp"
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("the new root: %w", err)
	}
	steps := []func(string) error{
		bindSystem,
		func(r string) error { return makeDev(r) },
		func(r string) error {
			return mountAt(r+"/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		},
		func(r string) error {
			return mountAt(r+"/tmp", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=1777,size=%d", tmpBytes))
		},
		func(r string) error { return bindFD(r+s.Dir, dir, true, false) },
		func(r string) error { return bindFD(r+launcherInside, exe, false, true) },
		func(r string) error { return hide(r, s.Hide) },
		func(r string) error { return readOnly(r, false) },
	}
	for _, step := range steps {
		if err := step(root); err != nil {
			return err
		}
	}
	if err := pivot(root); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte("job")); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if !s.Net {
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("loopback: %w", err)
		}
	}
	// Nothing below may trace this process or read its memory: it holds
	// the capabilities over the job's mounts.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return err
	}
	return os.Chdir(s.Dir)
}

// bindSystem binds the system folders read-only under root.
func bindSystem(root string) error {
	for _, f := range systemFolders {
		fi, err := os.Lstat(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(f)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, root+f); err != nil {
				return err
			}
			continue
		}
		if !fi.IsDir() {
			continue
		}
		if err := mountAt(root+f, f, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		if err := readOnly(root+f, true); err != nil {
			return err
		}
	}
	return nil
}

// makeDev is a /dev of a few devices (bound from the host's), a private
// /dev/shm and the usual links.
func makeDev(root string) error {
	dev := root + "/dev"
	if err := mountAt(dev, "tmpfs", "tmpfs", unix.MS_NOSUID, "mode=0755,size=64k"); err != nil {
		return err
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := os.WriteFile(dev+"/"+d, nil, 0o644); err != nil { //nolint:gosec // a mount point in the job's private /dev
			return err
		}
		if err := unix.Mount("/dev/"+d, dev+"/"+d, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("/dev/%s: %w", d, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return err
		}
	}
	return mountAt(dev+"/shm", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("mode=1777,size=%d", tmpBytes))
}

// mountAt makes the folder at and mounts there.
func mountAt(at, src, fstype string, flags uintptr, data string) error {
	// The job, another user for a root agent, must pass through.
	if err := os.MkdirAll(at, 0o755); err != nil { //nolint:gosec // in the job's private root
		return err
	}
	if err := unix.Mount(src, at, fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s: %w", at, err)
	}
	return nil
}

// bindFD binds the file or folder open as fd at path (made first),
// read-only unless writable.
func bindFD(path string, fd int, dir, readonly bool) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil { //nolint:gosec // in the job's private root, for the job to pass
		return err
	}
	if dir {
		if err := os.Mkdir(path, 0o755); err != nil { //nolint:gosec // a mount point in the job's private root
			return err
		}
	} else if err := os.WriteFile(path, nil, 0o755); err != nil { //nolint:gosec // a mount point in the job's private root
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding %s: %w", path, err)
	}
	if readonly {
		return readOnly(path, false)
	}
	return unix.MountSetattr(-1, path, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV})
}

// hide covers each path the job must not see that its root shows (one
// under a system folder) with an empty read-only folder, or /dev/null.
func hide(root string, paths []string) error {
	for _, p := range paths {
		fi, err := os.Stat(root + p) //nolint:gosec // paths the agent named
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
			continue
		} else if err != nil {
			return err
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", root+p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=4k")
		} else {
			err = unix.Mount(root+"/dev/null", root+p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("hiding %s: %w", p, err)
		}
	}
	return nil
}

// readOnly makes the mount at path read-only, with what is mounted below
// it if recursive, without set-user-ID programs or devices.
func readOnly(path string, recursive bool) error {
	flags := 0
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(-1, path, uint(flags), attr); err != nil {
		return fmt.Errorf("read-only %s: %w", path, err)
	}
	return nil
}

// pivot makes root this mount namespace's root and detaches the old one,
// so nothing of the host outside the new root is reachable by path.
func pivot(root string) error {
	old, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(old) }()
	if err := os.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(old); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return os.Chdir("/")
}

// loopbackUp brings up the new network namespace's loopback, so a job
// can talk to itself (and to nothing else).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(fd) }()
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// probeArg makes the launcher exit 0 at once: checkSandbox runs it as a
// job in a sandbox, which proves every step works here.
const probeArg = "__acquire-sandbox-probe"

// checkSandbox runs a throw-away job in a sandbox: nil if it works here.
func checkSandbox(launcher, workDir string) error {
	dir, err := os.MkdirTemp(workDir, "acquire-sandbox-check-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := handOver(dir); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	spec := &sandboxSpec{Dir: dir}
	cmd := launch(ctx, launcher, superviseArg, spec, Limits{}, launcherInside, probeArg, nil)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	sandboxAttr(cmd.SysProcAttr, false)
	cmd.Env = sandboxEnv(nil)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	_, err = runJob(cmd, true)
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// sandboxEnv is env for a sandboxed supervisor.
func sandboxEnv(env []string) []string {
	if os.Getuid() == 0 {
		return append(env, rootAgentEnv+"=1")
	}
	return env
}

// isProbe: this process is checkSandbox's throw-away job.
func isProbe() bool { return len(os.Args) == 1 && os.Args[0] == probeArg }
