//go:build !linux

package agent

import (
	"errors"
	"syscall"
)

// Other systems have no namespaces this agent can use: jobs run without a
// sandbox (see Config.UnsandboxedSingleTenant).

func checkSandbox(string, string) error { return errors.New("job sandboxes need Linux") }

func sandboxAttr(*syscall.SysProcAttr, bool) {}

func sandboxEnv(env []string) []string { return env }

func handOver(string) error { return nil }

func isProbe() bool { return false }

const fenceArg = "__acquire-job-fence"

func checkFence() error { return errors.New("job fences need Linux (Landlock)") }

func landlockABI() int { return 0 }

func execFenced([]string) {}
