package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/openacquire/acquire/runtime/bench"
)

// capacityFlags are `acquire bench --capacity N`: N transfers through the
// ledger on the file store, then compaction, and the bytes and inodes per
// transfer before and after, extrapolated to 10^8 (issue 24).
type capacityFlags struct {
	cfg bench.CapacityConfig
}

func addCapacityFlags(f *pflag.FlagSet) *capacityFlags {
	c := &capacityFlags{}
	f.IntVar(&c.cfg.Transfers, "capacity", 0, "instead of measuring speed, make this many transfers through the ledger on the file store, compact, and print bytes and inodes per transfer and what 10^8 would take")
	f.StringVar(&c.cfg.Dir, "capacity-dir", "", "with --capacity: folder to run in, on the disk to judge (default: the temp folder)")
	return c
}

func (c *capacityFlags) on() bool { return c.cfg.Transfers != 0 }

func (c *capacityFlags) run(ctx context.Context, g *globals, progress func(string)) error {
	if c.cfg.Transfers < 1 || c.cfg.Transfers > bench.MaxCapacityTransfers {
		return usagef("--capacity: want 1 to %d transfers", bench.MaxCapacityTransfers)
	}
	rep, err := bench.RunCapacity(ctx, c.cfg, progress)
	if err != nil {
		return err
	}
	return g.emit(rep, func(w io.Writer) { _ = rep.WriteText(w) })
}
