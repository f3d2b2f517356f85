package agent

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A fence is what an agent without a sandbox still does on a Linux with
// Landlock (5.13 and later; no privileges, no namespaces): the job's
// launcher restricts itself, and so the job it becomes and everything
// that job starts, to reading and running the system folders and using
// its own folder, a few devices and /proc. The cluster key, the agent's
// wallet and configuration, home folders and other jobs' folders cannot
// be opened; from Landlock ABI 4 TCP is refused (unless the job's
// resource allows the network), from ABI 6 so are signals to processes
// outside the fence, and tracing them always is.

// fenceArg marks a command line as the launcher role behind a fence:
// argv: the job's folder, "net" or "-", then as launchArg.
const fenceArg = "__acquire-job-fence"

// landlockABI is the kernel's Landlock version (0: none).
func landlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// checkFence: a fence works here (nil), else why not.
func checkFence() error {
	if v := landlockABI(); v < 1 {
		return errors.New("no Landlock in this kernel")
	}
	return nil
}

// Access rights by the ABI that brought them.
const (
	fsRead  = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	fsRun   = fsRead | unix.LANDLOCK_ACCESS_FS_EXECUTE
	fsABI1  = (unix.LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1
	fsDev   = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE
	fsWrite = fsABI1
)

// fence restricts this thread (and what it execs) to the job's folder dir,
// the system folders, a few devices and /proc.
func fence(dir string, net bool) error {
	abi := landlockABI()
	if abi < 1 {
		return errors.New("no Landlock in this kernel")
	}
	attr := unix.LandlockRulesetAttr{Handled_access_fs: fsABI1}
	all := uint64(fsWrite)
	if abi >= 2 {
		attr.Handled_access_fs |= unix.LANDLOCK_ACCESS_FS_REFER
		all |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		attr.Handled_access_fs |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
		all |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 4 && !net {
		attr.Handled_access_net = unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
	}
	if abi >= 6 {
		attr.Scoped = unix.LANDLOCK_SCOPE_SIGNAL
		if !net {
			attr.Scoped |= unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
		}
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0) //nolint:gosec // the system call's own struct

	if errno != 0 {
		return fmt.Errorf("landlock ruleset: %w", errno)
	}
	defer func() { _ = unix.Close(int(fd)) }()
	rules := map[string]uint64{dir: all, "/proc": fsRead}
	for _, f := range systemFolders {
		rules[f] = fsRun
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		rules["/dev/"+d] = fsDev
	}
	for path, access := range rules {
		if err := allow(int(fd), path, access); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return fmt.Errorf("landlock: %w", errno)
	}
	return nil
}

// allow adds a rule: access beneath path (missing paths are skipped; a
// file takes only the rights a file can have).
func allow(ruleset int, path string, access uint64) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("landlock rule for %s: %w", path, err)
	}
	defer func() { _ = unix.Close(fd) }()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0) //nolint:gosec // the system call's own struct
	if errno != 0 {
		return fmt.Errorf("landlock rule for %s: %w", path, errno)
	}
	return nil
}

// execFenced is the fence role: it fences this process, on the thread that
// then execs the job (Landlock binds a thread and what it execs).
func execFenced(argv []string) {
	runtime.LockOSThread()
	err := errors.New("bad command line")
	if len(argv) >= 5 {
		var l Limits
		if l, err = parseLimits(argv[2]); err == nil {
			if err = fence(argv[0], argv[1] == "net"); err == nil {
				err = execLimited(l, argv[3], argv[4:])
			}
		}
	}
	name := "the job"
	if len(argv) >= 5 {
		name = argv[4]
	}
	fmt.Fprintf(os.Stderr, "acquire agent: could not start %s: %v\n", name, err)
	os.Exit(launchFailed)
}
