package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/clock"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// Capacity of the local store (issue 24): how many bytes and inodes a
// transfer leaves on the file store, before and after the ledger's
// compaction, measured on a run of CapacityConfig.Transfers and
// extrapolated to 10^8 beside this machine's file system.
const (
	DefaultCapacityTransfers = 100_000
	MaxCapacityTransfers     = 10_000_000
	capacityAccounts         = 8
	capacityWorkers          = 8
	capacityTarget           = 100_000_000
	// capacityHorizon is the retry horizon the run sets (the ledger's
	// default is a day): the clock is moved past it, so every record of
	// the run is old enough to move into a run, as at steady state.
	capacityHorizon = time.Hour
)

// CapacityConfig of a capacity run.
type CapacityConfig struct {
	Transfers int    // transfers to make (0: DefaultCapacityTransfers)
	Dir       string // folder to run in (default: a temp folder), on the disk to judge
}

// Usage is what a folder holds on disk.
type Usage struct {
	Objects     int64 `json:"files"`
	Inodes      int64 `json:"inodes"`
	Bytes       int64 `json:"bytes"`           // apparent size
	BlocksBytes int64 `json:"allocated_bytes"` // what the file system allocated
}

// CapacityReport is a capacity run.
type CapacityReport struct {
	Transfers int     `json:"transfers"`
	Accounts  int     `json:"accounts"`
	Segments  int     `json:"segments"`
	Records   int     `json:"records_compacted"`
	Before    Usage   `json:"before"`
	After     Usage   `json:"after"`
	Seconds   float64 `json:"transfer_seconds"`
	// CompactSeconds is how long both compactions took: the segments,
	// then each record round (the first stores the runs, the second
	// deletes the record objects, the third merges runs).
	CompactSeconds float64   `json:"compact_seconds"`
	SegmentSeconds float64   `json:"segment_compact_seconds"`
	RoundSeconds   []float64 `json:"record_round_seconds"`
	// After compaction, by kind: what grows with the transfers (segments,
	// record runs) and what does not (each account's newest items, kept
	// as objects; records younger than the horizon; the folders).
	Segment Usage `json:"segments_usage"`
	Runs    Usage `json:"record_runs_usage"`
	Tail    Usage `json:"tail_usage"`
	// RecordObjects is what is left of the records as objects (part of
	// the tail): the transfers' own files, which compaction removes.
	RecordObjects Usage `json:"record_objects_usage"`
	// Steady state: per transfer, what grows with the transfers; and the
	// extrapolation to 10^8 (the growing part times 10^8 plus the tail).
	SteadyInodesPer float64 `json:"steady_inodes_per_transfer"`
	SteadyBytesPer  float64 `json:"steady_allocated_bytes_per_transfer"`
	TargetInodes    float64 `json:"target_inodes"`
	TargetBytes     float64 `json:"target_allocated_bytes"`
	// Per transfer, after compaction, and what 10^8 would take.
	InodesPerTransfer float64 `json:"inodes_per_transfer"`
	BytesPerTransfer  float64 `json:"allocated_bytes_per_transfer"`
	BeforeInodesPer   float64 `json:"inodes_per_transfer_before"`
	BeforeBytesPer    float64 `json:"allocated_bytes_per_transfer_before"`
	// The file system the run was on.
	DiskBytes, DiskFreeBytes, DiskInodes, DiskFreeInodes uint64
	// The machine: cores, load averages (1, 5, 15 min; /proc/loadavg,
	// empty where there is none) at the start and at the end, and the
	// whole run's wall time.
	Cores       int     `json:"cores"`
	LoadStart   string  `json:"load_average_start"`
	LoadEnd     string  `json:"load_average_end"`
	WallSeconds float64 `json:"wall_seconds"`
}

// LoadAverage is the system's 1, 5 and 15 minute load averages, or "" where
// the system does not say (benchmarks print it beside their figures).
func LoadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// RunCapacity makes the transfers through the ledger alone on a file
// store, with a clock that then moves past CompactAfter, and compacts
// every account.
func RunCapacity(ctx context.Context, cfg CapacityConfig, progress func(string)) (*CapacityReport, error) {
	if cfg.Transfers == 0 {
		cfg.Transfers = DefaultCapacityTransfers
	}
	if cfg.Transfers < 1 || cfg.Transfers > MaxCapacityTransfers {
		return nil, fmt.Errorf("bench: %d transfers (want 1 to %d)", cfg.Transfers, MaxCapacityTransfers)
	}
	if progress == nil {
		progress = func(string) {}
	}
	wall, load := time.Now(), LoadAverage()
	dir, err := os.MkdirTemp(cfg.Dir, "acquire-capacity-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	b, err := store.Open(ctx, "file://"+dir)
	if err != nil {
		return nil, err
	}
	defer func() { _ = b.Close() }()
	clk := clock.NewManual(time.Now().UTC())
	l, err := ledger.New(ctx, b, ledger.WithClock(clk.Now), ledger.WithRetryHorizon(capacityHorizon))
	if err != nil {
		return nil, err
	}
	defer func() { _ = l.Close() }()
	accounts := make([]string, capacityAccounts)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("cap-%d", i)
		if _, err := l.CreateAccount(ctx, ledger.AccountSpec{ID: accounts[i], Owner: "capacity", Name: accounts[i]}); err != nil {
			return nil, err
		}
		if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: "fund-" + accounts[i], From: ledger.MintAccount, To: accounts[i], Amount: ledger.MustParse("1000000")}); err != nil {
			return nil, err
		}
	}
	progress(fmt.Sprintf("capacity: %d transfers on the file store", cfg.Transfers))
	start := time.Now()
	if err := capacityTransfers(ctx, l, accounts, cfg.Transfers); err != nil {
		return nil, err
	}
	rep := &CapacityReport{Transfers: cfg.Transfers, Accounts: len(accounts), Seconds: time.Since(start).Seconds(),
		Cores: runtime.NumCPU(), LoadStart: load}
	if err := l.Close(); err != nil {
		return nil, err
	}
	if rep.Before, err = usage(dir); err != nil {
		return nil, err
	}
	progress("capacity: compacting every account, then every record")
	compactStart := time.Now()
	if err := capacityCompact(ctx, b, clk, accounts, rep); err != nil {
		return nil, err
	}
	rep.CompactSeconds = time.Since(compactStart).Seconds()
	if rep.After, err = usage(dir); err != nil {
		return nil, err
	}
	if err := rep.split(dir); err != nil {
		return nil, err
	}
	t := float64(rep.Transfers)
	rep.InodesPerTransfer, rep.BytesPerTransfer = float64(rep.After.Inodes)/t, float64(rep.After.BlocksBytes)/t
	rep.BeforeInodesPer, rep.BeforeBytesPer = float64(rep.Before.Inodes)/t, float64(rep.Before.BlocksBytes)/t
	rep.SteadyInodesPer = float64(rep.Segment.Inodes+rep.Runs.Inodes) / t
	rep.SteadyBytesPer = float64(rep.Segment.BlocksBytes+rep.Runs.BlocksBytes) / t
	rep.TargetInodes = rep.SteadyInodesPer*capacityTarget + float64(rep.Tail.Inodes)
	rep.TargetBytes = rep.SteadyBytesPer*capacityTarget + float64(rep.Tail.BlocksBytes)
	rep.DiskBytes, rep.DiskFreeBytes, rep.DiskInodes, rep.DiskFreeInodes = diskOf(dir)
	rep.LoadEnd, rep.WallSeconds = LoadAverage(), time.Since(wall).Seconds()
	return rep, nil
}

// capacityCompact runs both compactions as a host's sweep would, with the
// clock moved past CompactAfter and the retry horizon, then past
// RecordDeleteDelay for the record deletes and run merges.
func capacityCompact(ctx context.Context, b *store.Bucket, clk *clock.Manual, accounts []string, rep *CapacityReport) error {
	clk.Advance(2*ledger.CompactAfter + capacityHorizon)
	l, err := ledger.New(ctx, b, ledger.WithClock(clk.Now), ledger.WithRetryHorizon(capacityHorizon))
	if err != nil {
		return err
	}
	defer func() { _ = l.Close() }()
	start := time.Now()
	for _, acc := range append(accounts, ledger.MintAccount) {
		for {
			n, err := l.Compact(ctx, acc)
			if err != nil {
				return err
			}
			rep.Segments += n
			if n == 0 {
				break
			}
		}
	}
	// Every record is looked at once per round: the first round stores
	// the runs, the later ones (each RecordDeleteDelay on) delete the
	// record objects and merge and delete runs.
	rep.SegmentSeconds = time.Since(start).Seconds()
	for range 3 {
		start := time.Now()
		n, err := l.CompactRecords(ctx, rep.Transfers+2*len(accounts)+16)
		if err != nil {
			return err
		}
		rep.RoundSeconds = append(rep.RoundSeconds, time.Since(start).Seconds())
		rep.Records += n
		clk.Advance(ledger.RecordDeleteDelay + time.Minute)
	}
	return nil
}

// under matches the files of the file store under a key prefix (a
// folder of that name in each segment's place, bare or with the file
// store's ".dir"); one name matches anywhere in the path.
func under(names ...string) func(rel string) bool {
	return func(rel string) bool {
		segs := strings.Split(rel, "/")
		strip := func(s string) string { return strings.TrimSuffix(s, ".dir") }
		if len(names) == 1 {
			for _, s := range segs[:len(segs)-1] {
				if strip(s) == names[0] {
					return true
				}
			}
			return false
		}
		if len(segs) <= len(names) {
			return false
		}
		for i, n := range names {
			if strip(segs[i]) != n {
				return false
			}
		}
		return true
	}
}

// split measures the compacted store by kind: segments, record runs, and
// the tail (everything else).
func (r *CapacityReport) split(dir string) error {
	var err error
	if r.Segment, err = usageMatching(dir, under("segments")); err != nil {
		return err
	}
	if r.Runs, err = usageMatching(dir, under("ledger", "records")); err != nil {
		return err
	}
	if r.RecordObjects, err = usageMatching(dir, under("ledger", "transfers")); err != nil {
		return err
	}
	r.Tail = Usage{
		Objects: r.After.Objects - r.Segment.Objects - r.Runs.Objects, Inodes: r.After.Inodes - r.Segment.Inodes - r.Runs.Inodes,
		Bytes: r.After.Bytes - r.Segment.Bytes - r.Runs.Bytes, BlocksBytes: r.After.BlocksBytes - r.Segment.BlocksBytes - r.Runs.BlocksBytes,
	}
	return nil
}

// capacityTransfers pays round a ring of accounts from several workers.
func capacityTransfers(ctx context.Context, l *ledger.Ledger, accounts []string, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, capacityWorkers)
	for range capacityWorkers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				from := accounts[int(i)%len(accounts)]
				to := accounts[(int(i)+1)%len(accounts)]
				if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: fmt.Sprintf("cap-%d", i), From: from, To: to, Amount: ledger.MustParse("0.01"),
					Description: "capacity"}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// WriteText prints the run and its extrapolation to 10^8 transfers.
func (r *CapacityReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "capacity: %d transfers among %d accounts on the file store (ledger alone, %.0f/s), then compaction in %.1f s (%d segments, %d records into runs)\n",
		r.Transfers, r.Accounts, float64(r.Transfers)/r.Seconds, r.CompactSeconds, r.Segments, r.Records)
	rounds := make([]string, len(r.RoundSeconds))
	for i, s := range r.RoundSeconds {
		rounds[i] = fmt.Sprintf("%.1f s", s)
	}
	fmt.Fprintf(w, "  compaction: segments %.1f s; record passes %s (the first stores the runs, the second deletes the record objects); whole run %.0f s on %d cores, load average %s at the start, %s at the end\n",
		r.SegmentSeconds, strings.Join(rounds, ", "), r.WallSeconds, r.Cores, orUnknown(r.LoadStart), orUnknown(r.LoadEnd))
	row := func(name string, u Usage, inodes, bytes float64) {
		fmt.Fprintf(w, "  %-17s %9d files %9d inodes %12d bytes (%d allocated): %.4f inodes and %.0f bytes allocated per transfer; 10^8: %.3g inodes, %.0f GB\n",
			name, u.Objects, u.Inodes, u.Bytes, u.BlocksBytes, inodes, bytes, inodes*capacityTarget, bytes*capacityTarget/1e9)
	}
	row("before compaction", r.Before, r.BeforeInodesPer, r.BeforeBytesPer)
	row("after compaction", r.After, r.InodesPerTransfer, r.BytesPerTransfer)
	part := func(name string, u Usage) {
		fmt.Fprintf(w, "    %-15s %9d files %9d inodes %12d allocated bytes\n", name, u.Objects, u.Inodes, u.BlocksBytes)
	}
	part("segments", r.Segment)
	part("record runs", r.Runs)
	part("tail", r.Tail)
	part("  of it records", r.RecordObjects)
	fmt.Fprintf(w, "  steady state: %.4f inodes and %.1f bytes allocated per transfer (segments and runs) plus the tail, which does not grow with transfers; 10^8: %.3g inodes, %.1f GB\n",
		r.SteadyInodesPer, r.SteadyBytesPer, r.TargetInodes, r.TargetBytes/1e9)
	if r.DiskInodes > 0 {
		fits := "fits"
		if r.TargetInodes > float64(r.DiskFreeInodes) || r.TargetBytes > float64(r.DiskFreeBytes) {
			fits = "does NOT fit"
		}
		fmt.Fprintf(w, "  this file system: %d inodes (%d free), %.0f GB (%.0f GB free): 10^8 transfers %s (%.2g%% of the free inodes, %.2g%% of the free bytes); it holds about %.2e transfers by inodes, %.2e by bytes\n",
			r.DiskInodes, r.DiskFreeInodes, float64(r.DiskBytes)/1e9, float64(r.DiskFreeBytes)/1e9, fits,
			100*r.TargetInodes/float64(r.DiskFreeInodes), 100*r.TargetBytes/float64(r.DiskFreeBytes),
			float64(r.DiskFreeInodes)/r.SteadyInodesPer, float64(r.DiskFreeBytes)/r.SteadyBytesPer)
		fmt.Fprintf(w, "  not counted: records younger than the retry horizon (a day by default) stay objects: one inode and one 4 KiB block per transfer of the last day\n")
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// usage walks dir: files, inodes (files and folders), bytes, and the bytes
// allocated to them where the platform says (allocatedBytes).
func usage(dir string) (Usage, error) {
	return usageMatching(dir, func(string) bool { return true })
}

// usageMatching is usage of the files and folders whose path relative to
// dir (slash-separated, folders ending in a slash) match says.
func usageMatching(dir string, match func(rel string) bool) (Usage, error) {
	var u Usage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		if !match(rel) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		u.Inodes++
		if !d.IsDir() {
			u.Objects++
			u.Bytes += info.Size()
		}
		u.BlocksBytes += allocatedBytes(info)
		return nil
	})
	return u, err
}
