package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
	"github.com/openacquire/acquire/runtime/storage"
)

const envComputeURL = "ACQUIRE_COMPUTE_URL"

// The compute service's refusals exit 7 like the access service's; an
// unknown cluster 5 like other unknown names; a cluster's bad statement
// 3 like other authentication failures.
func init() {
	for _, c := range []string{"BadJobError", "JobTooLongError", "LeaseLostError", "JobFinishedError"} {
		exitCodes[c] = exitRefused
	}
	exitCodes["UnknownClusterError"] = exitNotFound
	exitCodes["ClusterAuthError"] = exitAuth
	exitCodes["SettleConflictError"] = exitRefused
}

type jobFlags struct {
	accessFlags
	computeURL string
}

func newJobCmd(g *globals) *cobra.Command {
	jf := &jobFlags{}
	cmd := groupCmd("job", "Submit jobs to a cluster, follow and cancel them",
		`Submit a job through the access service (paid by a cheque: kept if the job
succeeds, refunded if it fails or is cancelled), read its state, find its logs,
and cancel it. A registered cluster's agents ('acquire cluster agent') run it.

The compute service is --compute, else $`+envComputeURL+`, else the identity
service's URL with its last path segment replaced by "compute"; the access and
accounting services are found as for 'acquire access'.

Besides the exit codes listed in 'acquire --help', these commands exit 7 when
a job is refused or already ended (FulfilmentFailedError when the job spec or
cluster is refused, with the payment refunded; JobFinishedError; BadJobError;
JobTooLongError) and 5 for an unknown job or cluster.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&jf.computeURL, "compute", "", "compute service URL (default $"+envComputeURL+", else derived from the identity URL)")
	pf.StringVar(&jf.accessURL, "access", "", "access service URL (default $"+envAccessURL+", else derived from the identity URL)")
	pf.StringVar(&jf.accountingURL, "accounting", "", "accounting service URL (default $"+envAccountingURL+", else derived from the identity URL)")
	pf.StringVarP(&jf.username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
	cmd.AddCommand(newJobSubmitCmd(g, jf), newJobListCmd(g, jf), newJobStatusCmd(g, jf), newJobLogsCmd(g, jf), newJobCancelCmd(g, jf))
	return cmd
}

// computeClient finds the compute service beside the saved session.
func (g *globals) computeClient(jf *jobFlags) (*accessSession, *compute.Client, error) {
	x, err := g.access(&jf.accessFlags)
	if err != nil {
		return nil, nil, err
	}
	u := strings.TrimSpace(jf.computeURL)
	if u == "" {
		u = strings.TrimSpace(g.getenv(envComputeURL))
	}
	if u == "" {
		if u, err = siblingURL(x.s.IdentityURL, compute.Kind); err != nil {
			return nil, nil, err
		}
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, nil, usagef("compute service URL %q must start with http:// or https://", u)
	}
	return x, &compute.Client{C: x.c.C, URL: u}, nil
}

// computeCall runs one call to the compute service under --timeout, as
// storageCall does for storage.
func computeCall[T any](g *globals, cmd *cobra.Command, jf *jobFlags, fn func(context.Context, *accessSession, *compute.Client) (T, error)) (T, error) {
	var zero T
	x, cc, err := g.computeClient(jf)
	if err != nil {
		return zero, err
	}
	ctx, cancel := g.callContext(cmd)
	defer cancel()
	out, err := fn(ctx, x, cc)
	if err != nil {
		return zero, g.accountError(x.accountingSession, err)
	}
	return out, nil
}

// submitted is what job submit prints.
type submitted struct {
	JobID     string `json:"job_id"`
	RequestID string `json:"request_id"`
	Resource  string `json:"resource"`
	Cluster   string `json:"cluster"`
	State     string `json:"state"`
	Price     string `json:"price"`
	Transfer  string `json:"transfer"`
}

func newJobSubmitCmd(g *globals, jf *jobFlags) *cobra.Command {
	var o chequeOptions
	var spec compute.JobSpec
	var resource, max, id string
	var env []string
	var inputFile, outputFile string
	cmd := &cobra.Command{
		Use:   "submit --account ACCOUNT --cluster NAME [--resource job] [--time-limit-s N] [--env K=V]... [--input-link-file PATH] [--output-link-file PATH] [--memory-mb N] [--cpu-s N] [--file-mb N] [--open-files N] [--id ID] -- COMMAND [ARG...]",
		Short: "Submit a job, paying with a cheque",
		Long: `Request RESOURCE (default "job") from the access service with a job spec as
its details: COMMAND runs with ARGs as they are (no shell) on a registered
cluster's agent, in a fresh folder, for at most --time-limit-s seconds. Files
behind the --input-link drive link are placed in in/; what the job writes to
out/, and its stdout and stderr, go to the --output-link drive link, under a
folder named for the job (JOB/out/, JOB/logs/), so jobs can share one.
A link on the command line is visible to other users in the process list:
prefer --input-link-file and --output-link-file, which read the link from the
first line of a file ("-": stdin).

--memory-mb, --cpu-s, --file-mb and --open-files bound each of the job's
processes (memory, CPU time, size of any file written, open files); the agent
applies the tighter of these and its own, so they narrow its limits, never
widen them. A job stopped at a limit fails and is refunded.

The price is held until the job ends: kept if it exits 0, refunded if it fails,
times out or is cancelled. --id makes the submission idempotent (default: a
fresh one, printed): the same command again with the same --id answers the
first submission's job and pays once (the cheque's uid is derived from the id,
as for 'acquire access request').`,
		Example: `  acquire job submit --account main --cluster lab -- /usr/bin/env
  acquire job submit --account main --cluster lab --output-link-file results.link -- ./run.sh
  acquire job submit --account main --cluster lab --time-limit-s 600 --env N=4 -o json -- python3 train.py --epochs 3`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs a COMMAND after --", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			spec.Command, spec.Args = args[0], args[1:]
			if inputFile == "-" && outputFile == "-" {
				return usagef("only one link can come from stdin")
			}
			var err error
			if spec.Input, err = g.jobLink("input-link", spec.Input, inputFile); err != nil {
				return err
			}
			if spec.Output, err = g.jobLink("output-link", spec.Output, outputFile); err != nil {
				return err
			}
			if err := spec.Limits.Check(); err != nil {
				return usagef("%v", err)
			}
			for _, kv := range env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return usagef("--env %q must be NAME=VALUE", kv)
				}
				if spec.Env == nil {
					spec.Env = map[string]string{}
				}
				spec.Env[k] = v
			}
			details, err := json.Marshal(&spec)
			if err != nil {
				return err
			}
			if id == "" {
				id = "job-" + randomHex(16)
				if g.output == outputText {
					fmt.Fprintf(g.stderr, "request id %s (give it as --id to retry)\n", id)
				}
			}
			x, err := g.access(&jf.accessFlags)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			ch, err := requestCheque(ctx, g, x, &o, id, resource, max, "")
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			gr, err := x.request(ctx, id, resource, string(details), ch)
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			var sub compute.Submitted
			if err := json.Unmarshal(gr.Result, &sub); err != nil || sub.JobID == "" {
				return fmt.Errorf("the fulfilling service of %s answered no job (%s)", resource, clipText(string(gr.Result)))
			}
			out := submitted{JobID: sub.JobID, RequestID: gr.RequestID, Resource: gr.Resource, Cluster: sub.Cluster,
				State: sub.State, Price: gr.Price.String(), Transfer: gr.Transfer}
			return g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "Job %s %s on cluster %s; %s held by transfer %s until it ends.\n", out.JobID, out.State,
					out.Cluster, out.Price, out.Transfer)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.account, "account", "", "your account to pay from (id or name)")
	fl.StringVar(&o.expires, "expires", defaultChequeLife.String(), "when the cheque expires (a duration from now, at most 24h)")
	fl.StringVar(&resource, "resource", "job", "the catalogue's resource to request")
	fl.StringVar(&max, "max", "", "the cheque's maximum (default: the catalogue's price)")
	fl.StringVar(&id, "id", "", "request id (idempotency key): [A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
	fl.StringVar(&spec.Cluster, "cluster", "", "the cluster to run on")
	fl.Int64Var(&spec.TimeoutS, "time-limit-s", 3600, "the job's hard time limit, in seconds")
	fl.StringArrayVar(&env, "env", nil, "NAME=VALUE for the job's environment (repeatable)")
	fl.StringVar(&spec.Input, "input-link", "", "read link (PAR) of a drive whose files are placed in in/")
	fl.StringVar(&spec.Output, "output-link", "", "write link (PAR) of a drive for the job's out/ and logs (under JOB/)")
	fl.StringVar(&inputFile, "input-link-file", "", `read --input-link from the first line of this file ("-": stdin); not visible in ps`)
	fl.StringVar(&outputFile, "output-link-file", "", `read --output-link from the first line of this file ("-": stdin); not visible in ps`)
	fl.Int64Var(&spec.Limits.MemoryMB, "memory-mb", 0, "memory of each job process, MiB (0: the agent's limit)")
	fl.Int64Var(&spec.Limits.CPUS, "cpu-s", 0, "CPU time of each job process, seconds (0: the agent's limit)")
	fl.Int64Var(&spec.Limits.FileMB, "file-mb", 0, "size of any file a job process writes, MiB (0: the agent's limit)")
	fl.Int64Var(&spec.Limits.OpenFiles, "open-files", 0, "open files of each job process (0: the agent's limit)")
	fl.Int64Var(&spec.Limits.Processes, "processes", 0, "processes of the job at once, in total (0: the agent's limit)")
	_ = cmd.MarkFlagRequired("account")
	_ = cmd.MarkFlagRequired("cluster")
	return cmd
}

func clipText(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func newJobStatusCmd(g *globals, jf *jobFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "status JOB",
		Short:   "Show a job's state",
		Example: "  acquire job status 3f2a... -o json",
		Args:    exactArgs(1, "exactly one JOB id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := computeCall(g, cmd, jf, func(ctx context.Context, x *accessSession, cc *compute.Client) (*compute.Job, error) {
				return cc.Status(ctx, x.s, args[0])
			})
			if err != nil {
				return err
			}
			return g.emit(j, func(w io.Writer) { printJob(w, j) })
		},
	}
}

func newJobListCmd(g *globals, jf *jobFlags) *cobra.Command {
	var page string
	var limit int
	cmd := &cobra.Command{
		Use:     "list [--limit N] [--page TOKEN]",
		Short:   "List your jobs, newest first",
		Example: "  acquire job list\n  acquire job list --limit 10 -o json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := computeCall(g, cmd, jf, func(ctx context.Context, x *accessSession, cc *compute.Client) (*compute.JobList, error) {
				return cc.ListJobs(ctx, x.s, page, limit)
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) { printJobs(w, list) })
		},
	}
	pageFlags(cmd, &page, &limit)
	return cmd
}

func printJobs(w io.Writer, list *compute.JobList) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tCLUSTER\tRESOURCE\tPRICE\tCREATED\tFINISHED")
	for _, j := range list.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.State, shown(j.Spec.Cluster), shown(j.Resource), j.Price, when(j.Created), when(j.Finished))
	}
	_ = tw.Flush()
	if list.Next != "" {
		fmt.Fprintf(w, "more: --page %s\n", list.Next)
	}
}

func printJob(w io.Writer, j *compute.Job) {
	fmt.Fprintf(w, "job %s: %s (attempt %d, cluster %s)\n", j.ID, j.State, j.Attempt, shown(j.Spec.Cluster))
	if j.ExitCode != nil {
		fmt.Fprintf(w, "exit code %d\n", *j.ExitCode)
	}
	if j.Message != "" {
		fmt.Fprintf(w, "%s\n", shown(j.Message))
	}
	if j.Isolation != "" {
		fmt.Fprintf(w, "isolation: %s\n", j.Isolation)
	}
	if j.CancelRequested && !compute.Final(j.State) {
		fmt.Fprintln(w, "cancel requested")
	}
	if compute.Final(j.State) {
		paid := "refunded"
		if j.State == compute.StateSucceeded {
			paid = "paid"
		}
		if !j.Settled {
			paid += " (settlement pending)"
		}
		fmt.Fprintf(w, "%s %s, ended %s\n", j.Price, paid, j.Finished.Format(time.RFC3339))
	}
}

// jobLog is what job logs prints with --output json.
type jobLog struct {
	JobID   string `json:"job_id"`
	State   string `json:"state"`
	Stream  string `json:"stream"`
	Drive   string `json:"drive"`
	Name    string `json:"name"`
	Content string `json:"content"`
}

// maxLogFetch bounds what job logs downloads: the agent keeps at most
// 1 MiB per stream, plus its note of what it dropped.
const maxLogFetch = agent.DefaultMaxLogBytes + 4096

func newJobLogsCmd(g *globals, jf *jobFlags) *cobra.Command {
	var stream string
	cmd := &cobra.Command{
		Use:   "logs JOB [--stream stdout|stderr]",
		Short: "Print a job's log",
		Long: `Print a job's stdout (or --stream stderr) log. The agent writes the logs, once
the job has ended, to JOB/logs/stdout.txt and JOB/logs/stderr.txt behind the
job's --output-link (its files go to JOB/out/); they are read here with your
own session from the drive that link writes to (the link itself only writes).`,
		Example: "  acquire job logs 3f2a...\n  acquire job logs 3f2a... --stream stderr -o json",
		Args:    exactArgs(1, "exactly one JOB id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stream != "stdout" && stream != "stderr" {
				return usagef("--stream must be stdout or stderr")
			}
			x, cc, err := g.computeClient(jf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			j, err := cc.Status(ctx, x.s, args[0])
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			if j.Spec.Output == "" {
				return call.Errorf(call.ErrNotFound, "job %s has no output link: its logs were not kept", j.ID)
			}
			p, err := storage.OpenPAR(x.c.C, j.Spec.Output)
			if err != nil {
				return err
			}
			info, err := p.Info(ctx)
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			out := jobLog{JobID: j.ID, State: j.State, Stream: stream, Drive: info.Drive, Name: compute.OutputName(j.ID, "logs/"+stream+".txt")}
			var b limitedBuffer
			b.max = maxLogFetch
			sc := &storage.Client{C: x.c.C, URL: p.URL}
			if _, err := sc.Download(ctx, x.s, info.Drive, out.Name, &b, storage.DownloadOptions{}); err != nil {
				return g.accountError(x.accountingSession, err)
			}
			out.Content = b.String()
			return g.emit(out, func(w io.Writer) { _, _ = io.WriteString(w, out.Content) })
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "stdout", "stdout or stderr")
	return cmd
}

// limitedBuffer refuses to grow past max: a log is bounded by the agent,
// but the drive may hold anything under its name.
type limitedBuffer struct {
	strings.Builder
	max int64
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len()+len(p)) > b.max {
		return 0, fmt.Errorf("the log is over %d bytes; fetch it with 'acquire file download'", b.max)
	}
	return b.Builder.Write(p)
}

func newJobCancelCmd(g *globals, jf *jobFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a job (refunded)",
		Long: `Cancel a job: a pending one ends at once and is refunded. A running one is
stopped by its agent at its next heartbeat (within a few seconds); once the
agent reports, the job shows as cancelled and the payment is refunded. If its
agent is gone, the job ends cancelled when its lease passes and another agent
of the cluster looks.`,
		Example: "  acquire job cancel 3f2a...",
		Args:    exactArgs(1, "exactly one JOB id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := computeCall(g, cmd, jf, func(ctx context.Context, x *accessSession, cc *compute.Client) (*compute.Job, error) {
				return cc.Cancel(ctx, x.s, args[0])
			})
			if err != nil {
				return err
			}
			return g.emit(j, func(w io.Writer) {
				if j.State == compute.StateCancelled {
					fmt.Fprintf(w, "Cancelled job %s; the payment is refunded.\n", j.ID)
				} else {
					fmt.Fprintf(w, "Asked the agent to stop job %s: it hears within %s, stops the command and reports, and the payment is refunded then.\n",
						j.ID, agent.CancelCheck)
					fmt.Fprintf(w, "'acquire job status %s' shows cancelled once that is done (if the agent is gone: after its lease, %s).\n",
						j.ID, when(j.LeaseUntil))
				}
			})
		},
	}
}
