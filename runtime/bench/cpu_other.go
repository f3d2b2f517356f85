//go:build !unix

package bench

import "time"

// processCPU is not measured here; file figures then show no CPU time.
func processCPU() time.Duration { return 0 }
