package compute_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
)

// The agent fetches inputs into in/, runs the command (no shell: the
// arguments reach it as they are) with the job's environment, uploads
// out/ and the logs (bounded), and enforces the timeout.
func TestAgentFilesLogsTimeout(t *testing.T) {
	f := setup(t)
	in, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "data.txt"), []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	drive := &agent.DirDrive{Dirs: map[string]string{"https://drive.example/par/in#in-secret-1234": in, "https://drive.example/par/out#out-secret-5678": out}}
	f.startAgentWith(t, agent.Config{Client: f.agentClient("a"), Drive: drive, MaxLogBytes: 1000})
	spec := sh(`tr a-z A-Z < in/data.txt > out/result.txt && mkdir out/sub && printf %s "$GREETING" > out/sub/env.txt && ` +
		`printf '%s\n' "$0" && head -c 5000 /dev/zero | tr '\0' x`)
	spec.Args = append(spec.Args, "a $literal; not expanded")
	spec.Env = map[string]string{"GREETING": "hi there"}
	spec.Input, spec.Output = "https://drive.example/par/in#in-secret-1234", "https://drive.example/par/out#out-secret-5678"
	id, err := f.submit(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	f.wait(t, id, "settled", settled(compute.StateSucceeded))
	// The links' secrets are sealed at rest; the owner reads them back.
	raw, _, err := f.env.Host.Compute.Service().Bucket().Get(context.Background(), "compute/jobs/"+id)
	if err != nil || strings.Contains(string(raw), "secret") || !strings.Contains(string(raw), "sealed_output") {
		t.Fatalf("stored job (%v): %s", err, raw)
	}
	if j, err := f.cc.Status(context.Background(), f.alice, id); err != nil || j.Spec.Output != spec.Output {
		t.Fatalf("status %+v %v", j, err)
	}
	if j, err := f.cc.Status(context.Background(), f.carol, id); err != nil || strings.Contains(j.Spec.Output, "secret") {
		t.Fatalf("admin status %+v %v", j, err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("out/result.txt"); got != "HELLO\n" {
		t.Fatalf("result %q", got)
	}
	if got := read("out/sub/env.txt"); got != "hi there" {
		t.Fatalf("env %q", got)
	}
	log := read("logs/stdout.txt")
	if !strings.HasPrefix(log, "a $literal; not expanded\nxxx") || !strings.Contains(log, "more bytes dropped") || len(log) > 1200 {
		t.Fatalf("stdout log (%d bytes): %.200q", len(log), log)
	}
	f.money(t, "98", "0", "2")

	// A job over its timeout is killed and failed (refunded).
	slow := sh("sleep 30")
	slow.TimeoutS = 1
	id2, err := f.submit(t, slow)
	if err != nil {
		t.Fatal(err)
	}
	j := f.wait(t, id2, "settled", settled(compute.StateFailed))
	if !strings.Contains(j.Message, "timed out") {
		t.Fatalf("job %+v", j)
	}
	f.money(t, "98", "0", "2")
}
