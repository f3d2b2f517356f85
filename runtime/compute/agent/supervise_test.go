//go:build linux

package agent

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// escapeEnv makes this test binary a job's process that leaves its
// group: it starts a session of its own, prints its pid and sleeps.
const escapeEnv = "AGENT_TEST_ESCAPE"

func TestMain(m *testing.M) {
	ExecIfLaunched()
	if os.Getenv(escapeEnv) != "" {
		_, _ = syscall.Setsid()
		fmt.Println(os.Getpid())
		_ = os.Stdout.Close()
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSupervisor runs this test binary in the supervisor role, as the agent
// does: it reports how the job ended on descriptor 3 (an exit code, or the
// signal a limit sent), and the job does not inherit that descriptor.
func TestSupervisor(t *testing.T) {
	for _, tc := range []struct {
		limits, script, status string
	}{
		{"memory=0,cpu=0,file=0,nofile=0", "readlink /proc/$$/fd/3; exit 0", "exit 0\n"},
		{"memory=0,cpu=0,file=0,nofile=0", "exit 3", "exit 3\n"},
		{"memory=0,cpu=1,file=0,nofile=0", "while :; do :; done", fmt.Sprintf("signal %d\n", int(syscall.SIGXCPU))},
		{"memory=0,cpu=0,file=0,nofile=0", "kill -KILL $$", fmt.Sprintf("signal %d\n", int(syscall.SIGKILL))},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Fstat(int(w.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		pipe := fmt.Sprintf("pipe:[%d]", st.Ino)
		cmd := exec.Command(os.Args[0], superviseArg, noSandbox, tc.limits, "/bin/sh", "sh", "-c", tc.script)
		cmd.ExtraFiles = []*os.File{w}
		var out strings.Builder
		cmd.Stdout = &out
		err = cmd.Start()
		_ = w.Close()
		if err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		status, _ := io.ReadAll(r)
		_ = r.Close()
		if string(status) != tc.status {
			t.Errorf("%q: status %q, want %q", tc.script, status, tc.status)
		}
		if strings.Contains(out.String(), pipe) {
			t.Errorf("%q: the job holds the status pipe: %q", tc.script, out.String())
		}
	}
}

// TestSupervisorEndsTree: what a job started ends with it, even what left
// its group (setsid) or lost its parent (a double fork): when the job's
// own process exits, and when the supervisor is told its agent died.
func TestSupervisorEndsTree(t *testing.T) {
	// Two escapees, one started by the job's shell, one by a subshell
	// that exits at once; the shell prints its own pid last.
	script := `"$0" & ( "$0" & ); echo $$; ` + "%s"
	for _, tc := range []struct {
		name, tail string
		term       bool
	}{
		{"the job exits", "sleep 0.5; exit 0", false},
		{"the agent dies", "sleep 300", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, out := startSupervised(t, []string{escapeEnv + "=1"}, fmt.Sprintf(script, tc.tail), os.Args[0])
			pids := readPIDs(t, out, 3)
			for _, p := range pids {
				if gone(p) {
					t.Fatalf("process %d ended before the job did", p)
				}
			}
			if tc.term {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			_ = cmd.Wait()
			for _, p := range pids {
				waitGone(t, p)
			}
		})
	}
}

// startSupervised starts this test binary as the supervisor of a job
// running sh -c script args, with descriptor 3 as the agent gives it, and
// answers the command and the job's output.
func startSupervised(t *testing.T, env []string, script string, args ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	argv := append([]string{superviseArg, noSandbox, "memory=0,cpu=0,file=0,nofile=0", "/bin/sh", "sh", "-c", script}, args...)
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(os.Environ(), env...)
	_, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

func readPIDs(t *testing.T, r io.Reader, n int) []int {
	t.Helper()
	var pids []int
	sc := bufio.NewScanner(r)
	for len(pids) < n && sc.Scan() {
		p, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil {
			t.Fatalf("not a pid: %q", sc.Text())
		}
		pids = append(pids, p)
	}
	if len(pids) < n {
		t.Fatalf("got pids %v, want %d", pids, n)
	}
	return pids
}

// gone: no such process, or one that has ended and waits to be reaped
// (by init, which in a container may never do it).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	p, ok := parseStat(pid, b)
	return ok && p.zombie
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if gone(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("process %d outlived its job", pid)
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want proc
		ok   bool
	}{
		{"42 (sh) S 7 42 42 0", proc{42, 7, false}, true},
		{"42 (a) b) (c) Z 9 1", proc{42, 9, true}, true},
		{"42 (x) X 3", proc{42, 3, true}, true},
		{"42 (x", proc{}, false},
		{"42 (x) S notanumber", proc{}, false},
	} {
		got, ok := parseStat(42, []byte(tc.line))
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestSupervisorReapsOrphans: orphans the supervisor inherits are reaped
// as they end, while the job still runs, not left as zombies.
func TestSupervisorReapsOrphans(t *testing.T) {
	script := `for i in 1 2 3 4 5 6 7 8; do ( sleep 0.01 & ); done; echo go; sleep 2`
	cmd, out := startSupervised(t, nil, script)
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if z := zombieChildren(cmd.Process.Pid); len(z) > 0 {
		t.Errorf("the supervisor left %d orphans unreaped: %v", len(z), z)
	}
}
