//go:build !linux

package agent

import (
	"errors"
	"syscall"
)

// Cgroups are Linux's: elsewhere an agent has per-process limits only.

type jobCgroups struct{ dir string }

type jobCgroup struct{}

func checkCgroups(string) (*jobCgroups, error) { return nil, errors.New("cgroups need Linux") }

func (*jobCgroups) describe() string { return "" }

func (*jobCgroups) make() (*jobCgroup, error) { return nil, errors.New("cgroups need Linux") }

func (*jobCgroups) limit(*jobCgroup, Limits) error { return nil }

func (*jobCgroup) into(*syscall.SysProcAttr) {}

func (*jobCgroup) remove() {}
