//go:build linux

package agent

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	ExecIfLaunched()
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
		cmd := exec.Command(os.Args[0], superviseArg, tc.limits, "/bin/sh", "sh", "-c", tc.script)
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
