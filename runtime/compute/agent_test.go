package compute_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
	"github.com/openacquire/acquire/runtime/storage"
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
	if got := read(id + "/out/result.txt"); got != "HELLO\n" {
		t.Fatalf("result %q", got)
	}
	if got := read(id + "/out/sub/env.txt"); got != "hi there" {
		t.Fatalf("env %q", got)
	}
	log := read(id + "/logs/stdout.txt")
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

// Through the storage service: the job reads its input drive through a
// read PAR and writes its outputs and logs through a write PAR; the owner
// reads them back with its own session.
func TestAgentThroughStoragePARs(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	sc := &storage.Client{C: f.env.Client, URL: f.env.Host.ServiceURL(storage.Kind)}
	for _, d := range []string{"jobin", "jobout"} {
		if _, err := sc.CreateDrive(ctx, f.alice, d, storage.DriveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	data := "hello from a drive\n"
	if _, err := sc.Upload(ctx, f.alice, "jobin", "sub/data.txt", strings.NewReader(data), int64(len(data)), storage.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	exp := f.env.Clock.Now().Add(2 * time.Hour)
	in, err := sc.CreatePAR(ctx, f.alice, "jobin", "", storage.PARRead, exp)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sc.CreatePAR(ctx, f.alice, "jobout", "", storage.PARWrite, exp)
	if err != nil {
		t.Fatal(err)
	}
	f.startAgentWith(t, agent.Config{Client: f.agentClient("a"), Drive: &agent.PARDrive{C: f.env.Client}})
	spec := sh(`tr a-z A-Z < in/sub/data.txt > out/result.txt && echo done`)
	spec.Input, spec.Output = in.Link, out.Link
	id, err := f.submit(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	j := f.wait(t, id, "ended", func(j *compute.Job) bool { return compute.Final(j.State) && j.Settled })
	if j.State != compute.StateSucceeded {
		t.Fatalf("job %+v", j)
	}
	for name, want := range map[string]string{"out/result.txt": strings.ToUpper(data), "logs/stdout.txt": "done\n", "logs/stderr.txt": ""} {
		var b bytes.Buffer
		if _, err := sc.Download(ctx, f.alice, "jobout", compute.OutputName(id, name), &b, storage.DownloadOptions{}); err != nil || b.String() != want {
			t.Fatalf("%s: %q, %v; want %q", name, b.String(), err, want)
		}
	}
	f.money(t, "98", "0", "2")
}
