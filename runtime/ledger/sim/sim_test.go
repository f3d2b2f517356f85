package sim_test

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/ledger/sim"
	"github.com/openacquire/acquire/runtime/store/faultstore"
)

// CISeeds is how many seeds (1..CISeeds) every `go test` runs.
const CISeeds = 32

var (
	seedFlag  = flag.String("seed", os.Getenv("SIM_SEED"), "run only this seed (also SIM_SEED)")
	seedsFlag = flag.String("seeds", os.Getenv("SIM_SEEDS"), "run this many seeds from -first (also SIM_SEEDS)")
	firstFlag = flag.Uint64("first", 1, "first seed of -seeds")
	stepsFlag = flag.Int("steps", 0, "client steps per run (0: the default)")
	accsFlag  = flag.Int("accounts", 0, "accounts per run (0: the default); fewer means more contention")
	procsFlag = flag.Int("processes", 0, "processes per run (0: the default)")
)

// seeds returns the seeds to run: -seed alone, else -seeds many, else the
// CI set.
func seeds(t *testing.T) []uint64 {
	if *seedFlag != "" {
		s, err := strconv.ParseUint(*seedFlag, 10, 64)
		if err != nil {
			t.Fatalf("-seed %q: %v", *seedFlag, err)
		}
		return []uint64{s}
	}
	n := uint64(CISeeds)
	if *seedsFlag != "" {
		v, err := strconv.ParseUint(*seedsFlag, 10, 64)
		if err != nil || v == 0 || v > 10_000_000 {
			t.Fatalf("-seeds %q: want 1..10000000", *seedsFlag)
		}
		n = v
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = *firstFlag + uint64(i)
	}
	return out
}

// TestSimulation runs the seeds; a failing seed is named with the command
// that replays it.
func TestSimulation(t *testing.T) {
	ctx := context.Background()
	list := seeds(t)
	start := time.Now()
	faults, crashes, races := 0, 0, 0
	kinds := map[faultstore.Fault]int{}
	points := map[string]bool{}
	for _, seed := range list {
		cfg := sim.Config{Seed: seed, Steps: *stepsFlag, Accounts: *accsFlag, Processes: *procsFlag}
		if len(list) == 1 && os.Getenv("SIM_TRACE") != "" {
			cfg.Trace = os.Stderr
		}
		res, err := sim.Run(ctx, cfg)
		if err != nil {
			extra, args := "", ""
			if cfg.Steps != 0 || cfg.Accounts != 0 || cfg.Processes != 0 {
				extra = fmt.Sprintf(" -steps %d -accounts %d -processes %d", cfg.Steps, cfg.Accounts, cfg.Processes)
				args = fmt.Sprintf(" SIM_ARGS='%s'", extra[1:])
			}
			t.Fatalf("%v\nreproduce: make sim SEED=%d%s (go test ./runtime/ledger/sim -run TestSimulation -v -seed %d%s)",
				err, seed, args, seed, extra)
		}
		if len(list) == 1 {
			t.Logf("seed %d: %d steps, %d transfers, %d faults %v, %d crashes %v, %d restarts, %d races",
				seed, res.Steps, res.Transfers, res.Faults, res.ByKind, res.Crashes, res.CrashPoints, res.Restarts, res.Races)
		}
		faults, crashes, races = faults+res.Faults, crashes+res.Crashes, races+res.Races
		for k, v := range res.ByKind {
			kinds[k] += v
		}
		for p := range res.CrashPoints {
			points[p] = true
		}
	}
	el := time.Since(start)
	n := float64(len(list))
	t.Logf("%d seeds in %v: %.1f seeds/s; per run %.1f faults injected (%s), %.1f crashes, %.1f races; %d crash points hit: %s",
		len(list), el.Round(time.Millisecond), n/el.Seconds(), float64(faults)/n, perRun(kinds, n), float64(crashes)/n, float64(races)/n,
		len(points), strings.Join(slices.Sorted(maps.Keys(points)), " "))
	if faults == 0 || crashes == 0 || races == 0 {
		t.Fatalf("the runs injected %d faults, %d crashes and %d races: the simulation is not exercising recovery", faults, crashes, races)
	}
}

func perRun(kinds map[faultstore.Fault]int, n float64) string {
	var parts []string
	for k, v := range kinds {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, float64(v)/n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// A seed is its own reproduction: two runs of one seed do the same thing
// (the trace hashes every step and every answer), and seeds differ.
func TestSeedReplaysExactly(t *testing.T) {
	ctx := context.Background()
	traces := map[uint64]uint64{}
	for seed := uint64(1); seed <= 4; seed++ {
		a, errA := sim.Run(ctx, sim.Config{Seed: seed})
		b, errB := sim.Run(ctx, sim.Config{Seed: seed})
		if fmt.Sprint(a, errA) != fmt.Sprint(b, errB) {
			t.Fatalf("seed %d ran twice differently:\n%+v %v\n%+v %v", seed, a, errA, b, errB)
		}
		if other, ok := traces[a.Trace]; ok {
			t.Fatalf("seeds %d and %d ran the same schedule", other, seed)
		}
		traces[a.Trace] = seed
	}
}
