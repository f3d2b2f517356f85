//go:build unix && !linux

package agent

import "syscall"

// dieWithAgent: other unix systems have no parent-death signal here; a
// job of an agent that died runs on until it ends.
func dieWithAgent(*syscall.SysProcAttr, bool) {}
