package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText prints one line per operation: its store requests by class,
// its invocations, its chunks and its price per million on each cloud.
func (r *CostReport) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "cost per operation: %s, each line the mean of %d operations after one uncounted warm-up; files of %d MiB\n\n",
		r.Store, r.Ops, r.FileBytes>>20)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "operation\tper\tput\tcond put\tget\tlist\tdelete\tstore total\tinvocations\tchunks\tms/invocation\t")
	for _, p := range r.Prices {
		fmt.Fprintf(tw, "%s $/M\t", p.Cloud)
	}
	fmt.Fprintln(tw)
	for _, o := range r.Operations {
		s := o.Store
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t", o.Name, o.Per, num(s.Put), num(s.CondPut), num(s.Get), num(s.List),
			num(s.Delete), num(s.Total()), num(o.Invocations), num(o.ChunkPuts+o.ChunkGets), o.InvokeMs)
		for _, p := range r.Prices {
			fmt.Fprintf(tw, "%.2f\t", o.USDPerMillion[p.Cloud])
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nStore requests are the services' own (every service's bucket together; JSON splits them by service).\n"+
		"Invocations are service calls, those services make to each other included: one function invocation each.\n"+
		"Chunks are file chunks through chunk URLs: on the clouds one store put or get each, straight from the client.\n"+
		"$/M is USD per million operations (per million MiB for files): store requests, chunks and invocations billed\n"+
		"for the time measured here (or the cloud's minimum); list prices as of %s, regions and sources in docs/design/cost.md:\n", r.PricesAsOf)
	for _, p := range r.Prices {
		fmt.Fprintf(w, "  %s: %s\n", p.Cloud, p.Regions)
	}
	return nil
}

// num prints a count, with decimals only where it is a mean.
func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}
