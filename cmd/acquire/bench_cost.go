package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/openacquire/acquire/runtime/bench"
)

// costFlags are `acquire bench --cost` and its options: instead of the
// throughput steps, count each operation's store requests and function
// invocations and price them on the clouds (docs/design/cost.md).
type costFlags struct {
	on  bool
	cfg bench.CostConfig
}

func addCostFlags(f *pflag.FlagSet) *costFlags {
	c := &costFlags{}
	f.BoolVar(&c.on, "cost", false, "count store requests (put, conditional put, get, list, delete) and function invocations per operation, and price them on AWS, GCP and Azure, instead of measuring speed")
	f.IntVar(&c.cfg.Ops, "cost-ops", bench.DefaultCostOps, "with --cost: operations counted per line (after one warm-up)")
	f.Int64Var(&c.cfg.FileBytes, "cost-file-bytes", bench.DefaultCostFileBytes, "with --cost: size of the file the upload and download lines move")
	return c
}

// run counts and prints; the caller has checked that --cost was given.
func (c *costFlags) run(ctx context.Context, g *globals, progress func(string)) error {
	if c.cfg.Ops < 1 || c.cfg.Ops > bench.MaxCostOps {
		return usagef("--cost-ops: want 1 to %d", bench.MaxCostOps)
	}
	if c.cfg.FileBytes < 1<<20 || c.cfg.FileBytes > 1<<30 {
		return usagef("--cost-file-bytes: want 1 MiB to 1 GiB")
	}
	rep, err := bench.RunCost(ctx, c.cfg, progress)
	if err != nil {
		return err
	}
	return g.emit(rep, func(w io.Writer) { _ = rep.WriteText(w) })
}
