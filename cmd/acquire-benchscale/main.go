// Command acquire-benchscale prints, for each line of issue 24's table
// (the operations whose cost grew with history), the median time of the
// operation on the local file store at growing sizes of history, and the
// growth class fitted to those times (docs/design/scale.md). Data sets are
// written straight into the store, without fsyncs, where building them
// through the API is not what is measured.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/bench"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/filestore"
)

// line is one measured row: build grows the data set to n, op is timed.
type line struct {
	name  string
	build func(ctx context.Context, e *env, from, to int) error
	op    func(ctx context.Context, e *env, n int) error
	// max is the largest size the line runs at (0: every size).
	max int
	// data names the data set when consecutive lines time different reads
	// of the same one: it is built once per size for all of them.
	data string
}

type env struct {
	d    *filestore.Driver
	b    *store.Bucket
	root string
	aux  map[string]any
}

var lines []line // registered by the files of this command

var zeroTime time.Time

func main() {
	sizesFlag := flag.String("sizes", "1000,10000,100000", "history sizes, comma separated")
	reps := flag.Int("reps", 5, "timed repetitions per size (median reported)")
	dir := flag.String("dir", os.TempDir(), "where to build the stores")
	only := flag.String("only", "", "run only lines whose name contains this (or one of several, separated by '|')")
	auditN := flag.String("audit-n", "", "instead of the lines: audit synthetic ledgers of these many objects (comma separated) and print the audit's peak memory")
	auditBudget := flag.Int("audit-budget", 0, "transfer entries the audit may hold at once (0: the ledger's default)")
	flag.IntVar(&workers, "workers", workers, "goroutines that build a data set")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (builds and timed operations) to this file")
	flag.Parse()
	ctx := context.Background()
	if *cpuProfile != "" {
		stop, err := startProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer stop()
	}
	if *auditN != "" {
		sizes, err := parseSizes(*auditN)
		if err == nil {
			err = auditMemory(ctx, sizes, *auditBudget)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	fmt.Printf("acquire-benchscale: local file store, %d CPUs, load %s, sizes %v, median of %d\n\n", runtime.NumCPU(), loadAvg(), sizes, *reps)
	fmt.Printf("| line | %s | growth |\n|---|%s---|\n", strings.Join(names(sizes), " | "), strings.Repeat("---|", len(sizes)))
	for _, group := range groups(lines, *only) {
		rows, err := run(ctx, group, sizes, *reps, *dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", group[0].name, err)
			exit(1)
		}
		for _, row := range rows {
			fmt.Println(row)
		}
	}
	fmt.Printf("\nload average after: %s\n", loadAvg())
}

// groups picks the lines whose name contains one of only's '|'-separated
// parts (all when empty) and groups consecutive lines of one data set.
// parseSizes reads a comma-separated list of positive counts.
func parseSizes(list string) ([]int, error) {
	var sizes []int
	for s := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q", s)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func groups(all []line, only string) [][]line {
	var out [][]line
	for _, l := range all {
		if only != "" && !slices.ContainsFunc(strings.Split(only, "|"), func(s string) bool { return strings.Contains(l.name, s) }) {
			continue
		}
		if n := len(out); n > 0 && l.data != "" && out[n-1][0].data == l.data {
			out[n-1] = append(out[n-1], l)
			continue
		}
		out = append(out, []line{l})
	}
	return out
}

// run builds the group's data set to each size in turn (one store, grown)
// and times each line's operation on it, returning one row per line.
func run(ctx context.Context, group []line, sizes []int, reps int, dir string) ([]string, error) {
	root, err := os.MkdirTemp(dir, "benchscale-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(root) }()
	d, err := filestore.Open(root)
	if err != nil {
		return nil, err
	}
	d.UnsafeSkipFlush() // building history; the timed operations are reads
	e := &env{d: d, b: store.NewBucket(d), root: root, aux: map[string]any{}}
	defer func() { _ = e.b.Close() }()
	cells := make([][]string, len(group))
	xs, ys := make([][]float64, len(group)), make([][]float64, len(group))
	have := 0
	for _, n := range sizes {
		if !slices.ContainsFunc(group, func(l line) bool { return l.max == 0 || n <= l.max }) {
			for i := range group {
				cells[i] = append(cells[i], "not run")
			}
			continue
		}
		t0 := time.Now()
		if err := group[0].build(ctx, e, have, n); err != nil {
			return nil, fmt.Errorf("building %d: %w", n, err)
		}
		have = n
		fmt.Fprintf(os.Stderr, "%s: built %d in %v (load %s)\n", group[0].name, n, time.Since(t0).Round(time.Second), loadAvg())
		for i, l := range group {
			if l.max > 0 && n > l.max {
				cells[i] = append(cells[i], "not run")
				continue
			}
			med, read, err := timeOp(ctx, l, e, n, reps)
			if err != nil {
				return nil, fmt.Errorf("%s at %d: %w", l.name, n, err)
			}
			fmt.Fprintf(os.Stderr, "%s at %d: %.2f ms, %d directory entries read (load %s)\n", l.name, n, float64(med)/float64(time.Millisecond), read, loadAvg())
			cells[i] = append(cells[i], fmt.Sprintf("%.2f ms (%d read)", float64(med)/float64(time.Millisecond), read))
			xs[i], ys[i] = append(xs[i], math.Log(float64(n))), append(ys[i], math.Log(float64(med)))
		}
	}
	rows := make([]string, len(group))
	for i, l := range group {
		rows[i] = fmt.Sprintf("| %s | %s | %s |", l.name, strings.Join(cells[i], " | "), growth(xs[i], ys[i]))
	}
	return rows, nil
}

// timeOp returns the median time of reps runs of l's operation and the
// median count of directory entries the file store's listings read in one
// run: a cost that, unlike the time, the machine's load does not change.
func timeOp(ctx context.Context, l line, e *env, n, reps int) (time.Duration, int64, error) {
	var times []time.Duration
	var reads []int64
	for range reps {
		r0, t0 := e.d.EntriesRead(), time.Now()
		if err := l.op(ctx, e, n); err != nil {
			return 0, 0, err
		}
		times, reads = append(times, time.Since(t0)), append(reads, e.d.EntriesRead()-r0)
	}
	slices.Sort(times)
	slices.Sort(reads)
	return times[len(times)/2], reads[len(reads)/2], nil
}

// growth fits log(time) = a + k log(n) by least squares and names k.
func growth(xs, ys []float64) string {
	if len(xs) < 2 {
		return "–"
	}
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/float64(len(xs)), my/float64(len(xs))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	k := num / den
	class := "flat (O(1) or O(log n))"
	switch {
	case k >= 1.3:
		class = "superlinear"
	case k >= 0.7:
		class = "linear O(n)"
	case k >= 0.25:
		class = "sublinear"
	}
	return fmt.Sprintf("%s, k=%.2f", class, k)
}

func names(sizes []int) []string {
	var out []string
	for _, n := range sizes {
		out = append(out, fmt.Sprintf("10^%d", int(math.Round(math.Log10(float64(n))))))
	}
	return out
}

// loadAvg is the load average to print beside a figure.
func loadAvg() string {
	if l := bench.LoadAverage(); l != "" {
		return l
	}
	return "unknown"
}

// workers is how many goroutines parallel runs.
var workers = 8

// parallel runs fn(i) for i in [from, to) on workers goroutines.
func parallel(from, to int, fn func(i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var first atomic.Value
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= to || first.Load() != nil {
					return
				}
				if err := fn(i); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return err
	}
	return nil
}

// page lists one page and fails unless it holds want items.
func page(ctx context.Context, b *store.Bucket, prefix, token string, size, want int) (store.Page, error) {
	p, err := b.List(ctx, prefix, token, size)
	if err == nil && len(p.Items) != want {
		err = fmt.Errorf("page of %q: %d items, want %d", prefix, len(p.Items), want)
	}
	return p, err
}

// stopProfile ends the CPU profile, if any, before an early exit.
var stopProfile = func() {}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	stopProfile = func() { pprof.StopCPUProfile(); _ = f.Close() }
	return stopProfile, nil
}

func exit(code int) {
	stopProfile()
	os.Exit(code)
}
