package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	DefaultCapacityTransfers = 20_000
	MaxCapacityTransfers     = 10_000_000
	capacityAccounts         = 8
	capacityWorkers          = 8
	capacityTarget           = 100_000_000
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
	Before    Usage   `json:"before"`
	After     Usage   `json:"after"`
	Seconds   float64 `json:"transfer_seconds"`
	// Per transfer, after compaction, and what 10^8 would take.
	InodesPerTransfer float64 `json:"inodes_per_transfer"`
	BytesPerTransfer  float64 `json:"allocated_bytes_per_transfer"`
	BeforeInodesPer   float64 `json:"inodes_per_transfer_before"`
	BeforeBytesPer    float64 `json:"allocated_bytes_per_transfer_before"`
	// The file system the run was on.
	DiskBytes, DiskFreeBytes, DiskInodes, DiskFreeInodes uint64
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
	l, err := ledger.New(ctx, b, ledger.WithClock(clk.Now))
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
	rep := &CapacityReport{Transfers: cfg.Transfers, Accounts: len(accounts), Seconds: time.Since(start).Seconds()}
	if err := l.Close(); err != nil {
		return nil, err
	}
	if rep.Before, err = usage(dir); err != nil {
		return nil, err
	}
	progress("capacity: compacting every account")
	clk.Advance(2 * ledger.CompactAfter)
	l2, err := ledger.New(ctx, b, ledger.WithClock(clk.Now))
	if err != nil {
		return nil, err
	}
	defer func() { _ = l2.Close() }()
	for _, acc := range append(accounts, ledger.MintAccount) {
		for {
			n, err := l2.Compact(ctx, acc)
			if err != nil {
				return nil, err
			}
			rep.Segments += n
			if n == 0 {
				break
			}
		}
	}
	if rep.After, err = usage(dir); err != nil {
		return nil, err
	}
	t := float64(rep.Transfers)
	rep.InodesPerTransfer, rep.BytesPerTransfer = float64(rep.After.Inodes)/t, float64(rep.After.BlocksBytes)/t
	rep.BeforeInodesPer, rep.BeforeBytesPer = float64(rep.Before.Inodes)/t, float64(rep.Before.BlocksBytes)/t
	rep.DiskBytes, rep.DiskFreeBytes, rep.DiskInodes, rep.DiskFreeInodes = diskOf(dir)
	return rep, nil
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
	fmt.Fprintf(w, "capacity: %d transfers among %d accounts on the file store (ledger alone, %.0f/s), then compaction (%d segments)\n",
		r.Transfers, r.Accounts, float64(r.Transfers)/r.Seconds, r.Segments)
	row := func(name string, u Usage, inodes, bytes float64) {
		fmt.Fprintf(w, "  %-17s %9d files %9d inodes %12d bytes (%d allocated): %.3f inodes and %.0f bytes allocated per transfer; 10^8: %.2e inodes, %.0f GB\n",
			name, u.Objects, u.Inodes, u.Bytes, u.BlocksBytes, inodes, bytes, inodes*capacityTarget, bytes*capacityTarget/1e9)
	}
	row("before compaction", r.Before, r.BeforeInodesPer, r.BeforeBytesPer)
	row("after compaction", r.After, r.InodesPerTransfer, r.BytesPerTransfer)
	if r.DiskInodes > 0 {
		fmt.Fprintf(w, "  this file system: %d inodes (%d free), %.0f GB (%.0f GB free): holds about %.2e transfers by inodes, %.2e by bytes (free space)\n",
			r.DiskInodes, r.DiskFreeInodes, float64(r.DiskBytes)/1e9, float64(r.DiskFreeBytes)/1e9,
			float64(r.DiskFreeInodes)/r.InodesPerTransfer, float64(r.DiskFreeBytes)/r.BytesPerTransfer)
	}
	return nil
}

// usage walks dir: files, inodes (files and folders), bytes, and the bytes
// allocated to them where the platform says (allocatedBytes).
func usage(dir string) (Usage, error) {
	var u Usage
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
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
