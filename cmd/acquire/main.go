// Command acquire is Acquire's command-line client and local host.
//
// See 'acquire --help' for the commands, the wallet, the output modes and
// the exit codes scripts can rely on.
package main

import (
	"io"
	"os"
	"time"

	"github.com/openacquire/acquire/runtime/compute/agent"
)

func main() {
	// An agent with job limits launches each job through this binary: in
	// that role it sets the limits and becomes the job's command.
	agent.ExecIfLaunched()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line (without the program name) and returns its
// exit code. Tests call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := newGlobals(stdin, stdout, stderr, os.Getenv, time.Now)
	g.setDefault = true
	return execute(g, args)
}
