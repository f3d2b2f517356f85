package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
)

func newClusterCmd(g *globals) *cobra.Command {
	jf := &jobFlags{}
	cmd := groupCmd("cluster", "Register a cluster and run its agent",
		`A cluster runs jobs. 'register' makes the cluster's own key pair here and
registers its public key with the compute service (admins of the compute
service; 'acquire host --admin NAME' makes one); 'key' only makes the key pair
and prints the public key, for registering it another way (the Terraform
provider's acquire_cluster); 'agent' runs the cluster's agent, which claims
the cluster's jobs and runs them as local processes.

The private key is kept (mode 0600) in clusters/NAME.key in the wallet folder
(see 'acquire --help'), or at --key.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&jf.computeURL, "compute", "", "compute service URL (default $"+envComputeURL+", else derived from the identity URL)")
	pf.StringVarP(&jf.username, "username", "u", "", "register with this user's saved session (default: the last one logged in)")
	cmd.AddCommand(newClusterKeyCmd(g), newClusterRegisterCmd(g, jf), newClusterAgentCmd(g, jf))
	return cmd
}

// clusterKeyPath is --key, or clusters/NAME.key in the wallet folder.
func (g *globals) clusterKeyPath(name, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	w, err := g.wallet()
	if err != nil {
		return "", err
	}
	return filepath.Join(w.Folder(), "clusters", name+".key"), nil
}

// clusterKey reads the key at path, or makes and keeps a new one when
// create is set and there is none (so registering again reuses it).
func clusterKey(name, path string, create bool) (*compute.ClusterKey, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the user's own key file
	if err == nil {
		return compute.ParseClusterKey(name, b)
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, err
	}
	k, err := compute.GenerateClusterKey(name)
	if err != nil {
		return nil, usagef("%v", err)
	}
	pemBytes, err := k.MarshalPEM()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // see above
	if errors.Is(err, os.ErrExist) {
		return clusterKey(name, path, false) // made meanwhile by another run
	} else if err != nil {
		return nil, err
	}
	if _, err := f.Write(pemBytes); err != nil {
		_ = f.Close()
		return nil, err
	}
	return k, f.Close()
}

// clusterRegistered is what cluster register prints.
type clusterRegistered struct {
	compute.Cluster
	KeyFile string `json:"key_file"`
}

func newClusterKeyCmd(g *globals) *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "key NAME [--key FILE]",
		Short: "Make the cluster's key pair (or reuse it) and print its public key",
		Long: `Make an Ed25519 key pair for cluster NAME unless its key file exists, and
print the public key. Register it with 'acquire cluster register' or give it to
the Terraform provider's acquire_cluster (public_key); the private key stays in
the key file here and never leaves this machine.`,
		Example: "  acquire cluster key lab -o json",
		Args:    exactArgs(1, "exactly one cluster NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			path, err := g.clusterKeyPath(args[0], keyFile)
			if err != nil {
				return err
			}
			k, err := clusterKey(args[0], path, true)
			if err != nil {
				return err
			}
			out := clusterKeyJSON{Name: k.Name, PublicKey: k.PublicKey(), KeyFile: path}
			return g.emit(out, func(w io.Writer) { fmt.Fprintln(w, out.PublicKey) })
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the cluster's key file (default: clusters/NAME.key in the wallet folder)")
	return cmd
}

// clusterKeyJSON is what cluster key prints.
type clusterKeyJSON struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	KeyFile   string `json:"key_file"`
}

func newClusterRegisterCmd(g *globals, jf *jobFlags) *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "register NAME [--key FILE]",
		Short: "Make the cluster's key pair and register its public key (admins)",
		Long: `Make an Ed25519 key pair for cluster NAME ([a-z0-9][a-z0-9_-]{0,62}) unless
its key file exists, and register the public key with the compute service.
Registering again with the same key answers the registration; another key for
a registered name is refused (AlreadyExistsError): register a new name.`,
		Example: "  acquire cluster register lab",
		Args:    exactArgs(1, "exactly one cluster NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := g.clusterKeyPath(args[0], keyFile)
			if err != nil {
				return err
			}
			x, cc, err := g.computeClient(jf)
			if err != nil {
				return err
			}
			k, err := clusterKey(args[0], path, true)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			cl, err := cc.RegisterCluster(ctx, x.s, args[0], k.PublicKey())
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			out := clusterRegistered{Cluster: *cl, KeyFile: path}
			return g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "Registered cluster %s (public key %s); its private key is in %s.\n", cl.Name, cl.PublicKey, path)
			})
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "the cluster's key file (default: clusters/NAME.key in the wallet folder)")
	return cmd
}

func newClusterAgentCmd(g *globals, jf *jobFlags) *cobra.Command {
	var keyFile, workDir, name string
	var workers int
	var unsandboxed bool
	var cgroupDir string
	var netResources []string
	var jl compute.JobLimits
	cmd := &cobra.Command{
		Use:   "agent NAME [--workers N] [--work-dir DIR] [--key FILE] [--job-memory-mb N] [--job-cpu-s N] [--network-resource R]... [--unsandboxed-single-tenant]",
		Short: "Run cluster NAME's agent: claim its jobs and run them here",
		Long: `Run the agent of cluster NAME until SIGINT or SIGTERM: --workers jobs at a time,
each as a local process (no shell) in a fresh folder under --work-dir, killed
at its time limit, its lease kept by heartbeats. No login is needed: the agent
signs its calls with the cluster's key.

Stopping the agent abandons the jobs it is running (their processes are
killed): after their lease (a minute, or the host's --job-lease-s) another
agent runs them again, and they are paid once. On Linux, an agent that dies
without stopping (killed, crashed) takes its jobs' processes with it: each
job runs under a supervisor that kills every process the job started then,
even those that left its process group (setsid). The same happens when a
job ends: nothing it started runs on after it. The job
folders such an agent leaves in --work-dir are removed by the next agent
there (at its start and every 10 minutes).

A job's input and output drive links (PARs) are used as they are: the agent
needs no access to the drives beyond them. A job's files and logs go under a
folder named for the job behind its output link (JOB/out/, JOB/logs/).

The --job-* flags bound every process of every job (POSIX resource limits,
each process its own): memory (heap and private mappings), CPU time (the
process is stopped with SIGXCPU), the size of any file written, and open
files. A job may ask for tighter limits ('acquire job submit --memory-mb' and
the like), never looser. A job stopped at a limit fails and is refunded.
--job-processes caps the processes a job has at once, in total (sandbox only).

On Linux each job runs in a sandbox, without root: its own user, mount, PID,
IPC, UTS and network namespaces; it sees the system folders read-only, its
own folder, a private /tmp, and nothing else: not the agent's wallet,
configuration or cluster key, not other jobs, not the agent's processes. A job
bought through a --network-resource keeps the host's network; others have
none. The agent checks at start that a sandbox works here and logs what it
uses. Where none does (no unprivileged user namespaces, another system), the
agent does not start unless --unsandboxed-single-tenant says to run the jobs
of one user only (the first it claims): without a sandbox a job can read
whatever the agent's user can. Each job's status says how it was isolated.

--job-cgroup DIR (a cgroup v2 folder delegated to the agent's user, with the
agent inside it, e.g. under 'systemd-run --user --scope -p Delegate=yes')
runs each job in a cgroup of its own there: --job-memory-mb and
--job-processes become totals for the job where DIR has the memory and pids
controllers, and everything in the job's cgroup is killed when it ends. The
agent says at start which it could use, or that it falls back to
per-process limits.`,
		Example: "  acquire cluster agent lab --workers 4",
		Args:    exactArgs(1, "exactly one cluster NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 || workers > agent.MaxWorkers {
				return usagef("--workers must be in [1, %d]", agent.MaxWorkers)
			}
			limits, err := jobLimits(jl)
			if err != nil {
				return err
			}
			path, err := g.clusterKeyPath(args[0], keyFile)
			if err != nil {
				return err
			}
			if path, err = filepath.Abs(path); err != nil {
				return err
			}
			// Read once, here: a sandboxed job never sees the file.
			k, err := clusterKey(args[0], path, false)
			if errors.Is(err, os.ErrNotExist) {
				return usagef("no key for cluster %s at %s: run 'acquire cluster register %s' first", args[0], path, args[0])
			} else if err != nil {
				return err
			}
			u, err := g.agentComputeURL(jf)
			if err != nil {
				return err
			}
			c, err := g.callClient()
			if err != nil {
				return err
			}
			if name == "" {
				host, _ := os.Hostname()
				name = fmt.Sprintf("%s-%d", host, os.Getpid())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(g.stderr, "agent %s of cluster %s: %d workers on %s; Ctrl-C stops\n", name, args[0], workers, u)
			// main starts with agent.ExecIfLaunched, so this binary can
			// launch the jobs that ask for limits even when the agent has none.
			launcher, _ := os.Executable()
			hide := []string{path, filepath.Dir(path)}
			if w, err := g.wallet(); err == nil {
				hide = append(hide, w.Folder())
			}
			return agent.Run(ctx, agent.Config{Client: &compute.AgentClient{C: c, URL: u, Key: k, Agent: name},
				Workers: workers, WorkDir: workDir, Drive: &agent.PARDrive{C: c}, Limits: limits, Launcher: launcher, Logger: g.log,
				UnsandboxedSingleTenant: unsandboxed, NetworkResources: netResources, Hide: hide, CgroupDir: cgroupDir})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&keyFile, "key", "", "the cluster's key file (default: clusters/NAME.key in the wallet folder)")
	fl.IntVar(&workers, "workers", agent.DefaultWorkers, "jobs run at once")
	fl.StringVar(&workDir, "work-dir", "", "folder for the jobs' folders (default: the system's temp folder)")
	fl.StringVar(&name, "agent-name", "", "this agent's name (default: host-pid)")
	fl.Int64Var(&jl.MemoryMB, "job-memory-mb", 0, "memory of each job process, MiB (0: no limit)")
	fl.Int64Var(&jl.CPUS, "job-cpu-s", 0, "CPU time of each job process, seconds (0: no limit; the job's timeout still holds)")
	fl.Int64Var(&jl.FileMB, "job-file-mb", 0, "size of any file a job process writes, MiB (0: no limit)")
	fl.Int64Var(&jl.OpenFiles, "job-open-files", 0, "open files of each job process (0: as the agent's)")
	fl.Int64Var(&jl.Processes, "job-processes", 0, "processes of each job at once, in total (0: no limit; needs the sandbox)")
	fl.StringArrayVar(&netResources, "network-resource", nil, "an access resource whose jobs keep the host's network (repeatable; others have none)")
	fl.StringVar(&cgroupDir, "job-cgroup", "", "a cgroup v2 folder the agent may write (delegated, the agent inside): a cgroup per job, memory and processes totals")
	fl.BoolVar(&unsandboxed, "unsandboxed-single-tenant", false,
		"where jobs cannot be sandboxed, run them anyway, those of ONE user only: each job can read what the agent's user can")
	return cmd
}

// jobLimits checks the --job-* flags by the rules a job's own limits
// follow (compute.JobLimits.Check) and turns them into the agent's.
func jobLimits(jl compute.JobLimits) (agent.Limits, error) {
	if err := jl.Check(); err != nil {
		return agent.Limits{}, usagef("--job-* flags: %v", err)
	}
	l := agent.LimitsOf(jl)
	if err := l.Validate(); err != nil {
		return agent.Limits{}, usagef("--job-*: %v", err)
	}
	return l, nil
}

// agentComputeURL: the agent has no session, so the compute URL comes
// from --compute, $ACQUIRE_COMPUTE_URL, or beside the identity URL.
func (g *globals) agentComputeURL(jf *jobFlags) (string, error) {
	u := jf.computeURL
	if u == "" {
		u = g.getenv(envComputeURL)
	}
	if u == "" {
		id, err := g.identity()
		if err != nil {
			return "", err
		}
		return siblingURL(id, compute.Kind)
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", usagef("compute service URL %q must start with http:// or https://", u)
	}
	return u, nil
}
