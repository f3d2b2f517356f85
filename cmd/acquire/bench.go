package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/bench"
)

func newBenchCmd(g *globals) *cobra.Command {
	var cfg bench.Config
	var levels, only, cpuProfile, tracePath string
	var cost *costFlags
	var anchors *anchorFlags
	var capacity *capacityFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure calls, logins, authorisation checks, transfers and file transfers beside their bounds",
		Long: `Start a host in this process on a temporary local folder (or --store), serve it
on a loopback port, and measure through real HTTP:

  - encrypted calls per second (ping through the full envelope),
  - login approvals per second (password + second factor),
  - authorisation verifications per second by a service's verifier (warm cache),
  - transfers per second through the accounting service, each client its own
    user: between distinct accounts, and all into one hot account,
  - the session fast path (docs/design/fastpath.md): the same users' balance
    reads through the envelope and on fast-path channels, and transfers on
    channels beside the ledger's own rate, with each one's CPU time per call,
  - file uploads and downloads (MB/s) of one --file-bytes file through the
    storage service and through a PAR, beside a plain copy of the same file
    on the same disk (copy_file_range, as cp does, then fsync) in the same rounds,

at each concurrency level, with p50/p99 latency. The same run measures the RSA
and argon2id costs on this machine and prints each figure beside its bound,
min(clients, cores) / cost, and the share of the bound it reached.

Steps (--only): ` + stepsHelp() + `.`,
		Example: `  acquire bench
  acquire bench --only transfers
  acquire bench --duration 10s --clients 1,8,32 -o json
  acquire bench --cost -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if levels != "" {
				n, err := parseLevels(levels)
				if err != nil {
					return usagef("--clients: %v", err)
				}
				cfg.Concurrency = n
			}
			steps, err := parseSteps(only)
			if err != nil {
				return usagef("--only: %v", err)
			}
			cfg.Steps = steps
			progress := func(s string) { fmt.Fprintf(g.stderr, "bench: %s\n", s) }
			if cost.on {
				return cost.run(cmd.Context(), g, progress)
			}
			if capacity.on() {
				return capacity.run(cmd.Context(), g, progress)
			}
			stopAnchors, err := anchors.start(cmd.Context(), &cfg, progress)
			if err != nil {
				return err
			}
			defer stopAnchors()
			if cpuProfile != "" {
				stop, err := startRecording(cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			if tracePath != "" {
				stop, err := startRecording(tracePath, trace.Start, trace.Stop)
				if err != nil {
					return err
				}
				defer stop()
			}
			oversubscribe(g.getenv) // as 'acquire host' does: the bench runs one in this process
			registerCloudStores()
			// Jobs run through this binary's supervisor and launcher, as
			// under 'acquire cluster agent' (main calls agent.ExecIfLaunched).
			cfg.JobLauncher, _ = os.Executable()
			rep, err := bench.Run(cmd.Context(), cfg, progress)
			if err != nil {
				return err
			}
			return g.emit(rep, func(w io.Writer) { _ = rep.WriteText(w) })
		},
	}
	f := cmd.Flags()
	cost = addCostFlags(f)
	anchors = addAnchorFlags(f)
	capacity = addCapacityFlags(f)
	f.DurationVar(&cfg.Duration, "duration", 5*time.Second, "how long each timed level runs")
	f.StringVar(&levels, "clients", "", "comma-separated concurrency levels for every step (default: each step's own, see above)")
	f.StringVar(&only, "only", "", "comma-separated steps to run (default: all): "+strings.Join(bench.StepNames(), ", "))
	f.IntVar(&cfg.Logins, "logins", 240, "login approvals per level")
	f.Int64Var(&cfg.FileBytes, "file-bytes", bench.DefaultFileBytes, "size of the file the files step moves")
	f.StringVar(&cfg.StoreURL, "store", "", "store URL (default: a temporary local folder)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	f.StringVar(&tracePath, "trace", "", "write an execution trace of the run to this file (go tool trace): where goroutines wait and cores idle")
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

// parseSteps reads --only; the names are checked against the steps here
// so that a typo is a usage error before any host starts.
func parseSteps(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		name := strings.TrimSpace(p)
		if bench.DefaultClients(name) == nil {
			return nil, fmt.Errorf("%q is not a step (steps: %s)", name, strings.Join(bench.StepNames(), ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

// stepsHelp lists each step with the client counts it runs by default.
func stepsHelp() string {
	var parts []string
	for _, name := range bench.StepNames() {
		var levels []string
		for _, n := range bench.DefaultClients(name) {
			levels = append(levels, strconv.Itoa(n))
		}
		parts = append(parts, fmt.Sprintf("%s (clients %s)", name, strings.Join(levels, ",")))
	}
	return strings.Join(parts, ", ")
}

// startRecording creates path and starts a recorder (a CPU profile, an
// execution trace) writing to it; the answer stops it and closes the file.
func startRecording(path string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { stop(); _ = f.Close() }, nil
}
