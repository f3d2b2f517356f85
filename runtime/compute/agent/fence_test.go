//go:build linux

package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/compute"
)

// TestUnsandboxedAgent acts as a Linux without user namespaces: the agent
// refuses to start unless told to run one user's jobs, then runs them
// behind a Landlock fence: a job cannot read a key file of the agent's
// user, list the work folder or signal the agent, yet uses its own
// folder; another user's job is refused; a process limit is refused.
func TestUnsandboxedAgent(t *testing.T) {
	if landlockABI() < 1 {
		t.Skip("no Landlock in this kernel")
	}
	sandboxCheck = func(string, string) error { return errors.New("no user namespaces (test)") }
	defer func() { sandboxCheck = checkSandbox }()
	key, err := compute.GenerateClusterKey("c")
	if err != nil {
		t.Fatal(err)
	}
	wallet := t.TempDir()
	keyFile := filepath.Join(wallet, "c.key")
	if err := os.WriteFile(keyFile, []byte("the cluster key"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	const link = "https://drive.example/par/out#s"
	cfg := Config{Client: &compute.AgentClient{Key: key}, Launcher: os.Args[0], WorkDir: t.TempDir(),
		Drive: &DirDrive{Dirs: map[string]string{link: out}}, Logger: slog.New(slog.DiscardHandler)}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	if _, err := checkIsolation(&cfg); err == nil || !strings.Contains(err.Error(), "--unsandboxed-single-tenant") {
		t.Fatalf("an agent without a sandbox started without being told: %v", err)
	}
	cfg.UnsandboxedSingleTenant, cfg.Limits.Processes = true, 10
	if _, err := checkIsolation(&cfg); err == nil {
		t.Fatal("an agent without a sandbox took a process limit")
	}
	cfg.Limits.Processes = 0
	iso, err := checkIsolation(&cfg)
	if err != nil || !iso.fence || iso.sandbox {
		t.Fatalf("isolation %+v, %v: want a fence", iso, err)
	}
	w := &worker{cfg: &cfg, iso: iso, log: cfg.Logger}
	script := fmt.Sprintf(`cat %s; ls %s; kill -0 %d && echo SIGNALLED; echo own > out/r.txt && cat out/r.txt`, keyFile, cfg.WorkDir, os.Getpid())
	job := &compute.Job{ID: "j1", IdentityURL: "https://id.example", UserUID: "alice", Attempt: 1,
		Spec: compute.JobSpec{Command: "/bin/sh", Args: []string{"-c", script}, TimeoutS: 30, Output: link}}
	o := w.execute(t.Context(), job)
	stdout, _ := os.ReadFile(filepath.Join(out, "j1", "logs", "stdout.txt"))
	stderr, _ := os.ReadFile(filepath.Join(out, "j1", "logs", "stderr.txt"))
	if o.state != compute.StateSucceeded || string(stdout) != "own\n" || strings.Contains(string(stdout), "the cluster key") {
		t.Fatalf("fenced job %+v\nstdout %q\nstderr %q", o, stdout, stderr)
	}
	for _, want := range []string{"c.key: Permission denied", "cannot open directory", "kill"} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("the fenced job's stderr lacks %q: %q", want, stderr)
		}
	}
	if d := iso.describe(false); !strings.HasPrefix(d, "fence: Landlock ABI") {
		t.Errorf("isolation %q", d)
	}
	job.ID, job.UserUID = "j2", "mallory"
	if o := w.execute(t.Context(), job); o.state != compute.StateFailed || !strings.Contains(o.message, "serves another user only") {
		t.Fatalf("another user's job on an unsandboxed agent: %+v", o)
	}
}
