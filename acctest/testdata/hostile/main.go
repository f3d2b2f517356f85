// Command hostile is a job that attacks its agent, the cluster key and
// other jobs. It prints one line per attack, "blocked <what>: <error>"
// or "BREACH <what>", and a last line "breaches N".
//
// Usage: hostile KEYFILE OTHER_JOB_DIR AGENT_PID TCP_ADDR FORKS
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

var breaches int

func check(what string, err error) {
	if err != nil {
		fmt.Printf("blocked %s: %v\n", what, err)
		return
	}
	breaches++
	fmt.Printf("BREACH %s\n", what)
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: hostile KEYFILE OTHER_JOB_DIR AGENT_PID TCP_ADDR FORKS")
		os.Exit(2)
	}
	key, other, addr := os.Args[1], os.Args[2], os.Args[4]
	agent, _ := strconv.Atoi(os.Args[3])
	forks, _ := strconv.Atoi(os.Args[5])

	_, err := os.ReadFile(key)
	check("reading the cluster key", err)
	_, err = os.ReadDir(filepath.Dir(key))
	check("listing the agent's wallet", err)
	_, err = os.ReadDir(other)
	check("listing another job's folder", err)
	_, err = os.ReadFile(filepath.Join(other, "out", "secret.txt"))
	check("reading another job's output", err)
	check("signalling the agent", syscall.Kill(agent, syscall.SIGTERM))
	check("tracing the agent", syscall.PtraceAttach(agent))
	check("tracing the supervisor (pid 1)", syscall.PtraceAttach(1))
	for _, p := range []string{"/etc/hostile", "/usr/hostile", "/hostile"} {
		check("writing "+p, os.WriteFile(p, []byte("x"), 0o644))
	}
	// Beside its folder: inside, that path lies in its private /tmp when
	// the agent's work folder is under /tmp, so the test looks outside.
	beside := filepath.Join(filepath.Dir(os.Getenv("HOME")), "hostile")
	fmt.Printf("tried writing %s: %v\n", beside, os.WriteFile(beside, []byte("x"), 0o644))
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = conn.Close()
	}
	check("reaching "+addr, err)
	// Processes: start children until one fails (or forks of them ran).
	var kids []int
	var ferr error
	for range forks {
		pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "30"}, &syscall.ProcAttr{})
		if err != nil {
			ferr = err
			break
		}
		kids = append(kids, pid)
	}
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
		_, _ = syscall.Wait4(k, nil, 0, nil)
	}
	check(fmt.Sprintf("starting %d processes (%d started)", forks, len(kids)), ferr)
	// What it sees of the host's processes: only its own namespace's.
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	fmt.Printf("processes seen %d\n", n)
	// Its /tmp is its own: the test looks for this outside.
	if err := os.WriteFile("/tmp/hostile-"+os.Getenv("ACQUIRE_JOB_ID"), []byte("x"), 0o644); err != nil {
		fmt.Printf("private tmp: %v\n", err)
	}
	fmt.Printf("breaches %d\n", breaches)
}
