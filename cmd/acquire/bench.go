package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var cfg bench.Config
	var levels, cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure calls, login approvals and authorisation checks beside their crypto bounds",
		Long: `Start a host in this process on a temporary local folder (or --store), serve it
on a loopback port, and measure through real HTTP:

  - encrypted calls per second (ping through the full envelope),
  - login approvals per second (password + second factor),
  - authorisation verifications per second by a service's verifier (warm cache),

at each concurrency level, with p50/p99 latency. The same run measures the RSA
and argon2id costs on this machine and prints each figure beside its bound,
min(clients, cores) / cost, and the share of the bound it reached.`,
		Example: `  acquire bench
  acquire bench --duration 10s --clients 1,8,32 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := parseLevels(levels)
			if err != nil {
				return usagef("--clients: %v", err)
			}
			cfg.Concurrency = n
			progress := func(s string) { fmt.Fprintf(g.stderr, "bench: %s\n", s) }
			if cpuProfile != "" {
				stop, err := startProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			rep, err := bench.Run(cmd.Context(), cfg, progress)
			if err != nil {
				return err
			}
			return g.emit(rep, func(w io.Writer) { _ = rep.WriteText(w) })
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long each timed level runs")
	f.StringVar(&levels, "clients", "1,32", "comma-separated concurrency levels")
	f.IntVar(&cfg.Logins, "logins", 120, "login approvals per level")
	f.StringVar(&cfg.StoreURL, "store", "", "store URL (default: a temporary local folder)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	return cmd
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("%q is not a client count from 1 to 1024", p)
		}
		out = append(out, n)
	}
	return out, nil
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
