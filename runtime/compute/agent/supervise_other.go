//go:build !linux

package agent

import (
	"fmt"
	"os"
)

// superviseSupported: without a parent-death signal a supervisor would
// not learn that its agent died, so jobs start without one.
const superviseSupported = false

const statusFD = 3

func supervise([]string) {
	fmt.Fprintln(os.Stderr, "acquire agent: job supervisors need Linux")
	os.Exit(launchFailed)
}
