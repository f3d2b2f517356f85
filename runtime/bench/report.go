package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText prints the report as a table: each figure beside its bound.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "machine: %d cores (GOMAXPROCS %d); store %s\n", r.Cores, r.GoMaxP, r.Store)
	c := r.Costs
	fmt.Fprintf(w, "costs at start: RSA-2048 decrypt %.2f ms, sign %.2f ms, encrypt %.3f ms, verify %.3f ms; argon2id %.1f ms on one core, %.1f/s on all cores together\n\n",
		c.DecryptMs, c.SignMs, c.EncryptMs, c.VerifyMs, c.PasswordMs, c.PasswordParallelPerSec)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tclients\tops\tper s\tp50 ms\tp99 ms\tbound/s\tof bound\ttarget\tcpu ms\t")
	for _, f := range r.Figures {
		bound, of, target, cpu := "-", "-", "-", "-"
		switch {
		case f.CPUms >= 10:
			cpu = fmt.Sprintf("%.0f", f.CPUms)
		case f.CPUms > 0:
			cpu = fmt.Sprintf("%.3f", f.CPUms)
		}
		if f.BoundPerSec > 0 {
			bound, of = fmt.Sprintf("%.0f", f.BoundPerSec), fmt.Sprintf("%.0f%%", 100*f.OfBound)
		}
		switch {
		case f.Floor > 0:
			target = fmt.Sprintf("≥%.0f/s", f.Floor)
		case f.Target > 0 && f.BoundPerSec > 0:
			target = fmt.Sprintf("≥%.0f%%", 100*f.Target)
		case f.Target > 0:
			target = fmt.Sprintf("≥%.0f/s", f.Target)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t\n", f.Name, f.Concurrency, f.Ops, f.PerSecond, f.P50ms, f.P99ms, bound, of, target, cpu)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nA call's crypto is 2 RSA decrypts + 1 RSA sign: the service decrypts the request and signs the reply, the client\n"+
		"decrypts the reply, all on these cores. One client keeps at most one core busy, so its bound is one core's rate;\n"+
		"with as many clients as cores the bound is the rate measured with every core doing that work at once.\n"+
		"A transfer adds the caller signing its authorisation and the service verifying it: 2 decrypts + 2 signs + 1 verify.\n"+
		"Targets apply where the clients can keep every core busy; one client also pays each call's serial latency.\n"+
		"The hot account's target is relative: its \"hot vs distinct\" line is bounded by the distinct figure at the same clients.\n"+
		"The ledger lines have no envelope and no network: durable transfers/s on the store, beside its own put rate.\n"+
		"Fast path (docs/design/fastpath.md): the same users' balance reads through the envelope and on their sessions' channels\n"+
		"(AES-GCM, no RSA per call), beside each other; transfers between distinct accounts on channels, bounded by the ledger\n"+
		"alone at the same clients; floors in ops/s. Every fast-path call also reads its session's end marker: its line is that read.\n"+
		"Jobs: 4 users submit /bin/true jobs through access for the duration while N agents claim, run, finish and settle them;\n"+
		"per s counts jobs from the first submission until the last is settled, p50/p99 are queued → finished (including the wait\n"+
		"in the queue); the bound is the RSA work of a job's 7 envelope calls and 6 signed authorisations on all cores.\n"+
		"Empty claims are timed after each jobs level: finished jobs leave no queue pointer, so they should not slow down.\n"+
		"A job's start: 20 /bin/true jobs one after another through the agent's supervisor, without and with the job sandbox\n"+
		"(namespaces, its own root); p50/p99 are start to report, cpu ms the supervisor's, the job's and the agent's clone per job.\n"+
		"Each bound is the mean of samples taken between rounds of its figure's load, so both see the same machine (JSON output has them).\n"+
		"Timed figures (calls, verify, transfers) count, per round, the operations completed while every client was busy: from the\n"+
		"N-th completion to the round's end, not the start-up or the drain after it; p50/p99 cover every operation.\n"+
		"File transfers: cpu ms is this process's CPU time per transfer (median), client and host together; a transfer whose\n"+
		"CPU time is near cores × its wall time is bound by the CPU, not the disk. SHA-256 alone is one core hashing as many\n"+
		"bytes as the file, from memory: every transfer hashes its whole file in one pass that cannot be split, so no transfer\n"+
		"is faster, and on 2 cores that pass shares them with the transfer's reading, sending and writing.\n")
	return nil
}
