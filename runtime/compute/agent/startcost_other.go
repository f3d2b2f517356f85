//go:build !linux

package agent

import (
	"context"
	"errors"
	"time"
)

// StartCost is what starting a trivial job costs (Measure).
type StartCost struct {
	Walls []time.Duration
	CPU   time.Duration
}

// MeasureStart needs job supervisors, which need Linux.
func MeasureStart(context.Context, string, string, bool, int) (*StartCost, error) {
	return nil, errors.New("agent: job supervisors need Linux")
}

// SandboxWorks: job sandboxes need Linux.
func SandboxWorks(launcher, workDir string) error { return checkSandbox(launcher, workDir) }
