//go:build !linux && !darwin

package agent

import (
	"errors"
	"syscall"
)

const rlimitsSupported = false

func execLimited(Limits, string, []string) error { return errors.New("job limits need a unix system") }

func limitSignal(syscall.Signal) string { return "" }
