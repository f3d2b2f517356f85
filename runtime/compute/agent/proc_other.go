//go:build !unix

package agent

import "os/exec"

// ownGroup: elsewhere only the command itself is killed on cancel.
func ownGroup(*exec.Cmd, bool) {}
