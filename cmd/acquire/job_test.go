package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
)

func TestJobAndClusterCommands(t *testing.T) {
	t.Parallel()
	alice, h := newHostCLI(t)
	bob := alice.other()
	aSecret, aReg := alice.register("alice")
	bSecret, _ := bob.register("bob")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
	bob.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", bob.code(bSecret), "--password-stdin")
	ctx := context.Background()
	uid := aReg["user_uid"].(string)
	for _, add := range []func(context.Context, string, string) error{h.Accounting.AddAdmin, h.Access.AddAdmin, h.Compute.AddAdmin} {
		if err := add(ctx, alice.url, uid); err != nil {
			t.Fatal(err)
		}
	}
	alice.mustJSON("", "account", "create", "main")
	alice.mustJSON("", "account", "deposit", "main", "--amount", "100", "--id", "dep-1")
	alice.mustJSON("", "access", "resource", "set", "job", "--price", "3", "--service", "compute", "--function", "submit_job",
		"--hold-s", "21600")

	// Registering makes the cluster's key (0600) and is repeatable; only admins may.
	reg := alice.mustJSON("", "cluster", "register", "lab")
	keyFile, _ := reg["key_file"].(string)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || reg["name"] != "lab" {
		t.Fatalf("register %v: %v", reg, err)
	}
	if again := alice.mustJSON("", "cluster", "register", "lab"); again["public_key"] != reg["public_key"] {
		t.Fatalf("register again %v", again)
	}
	// 'key' prints the same key pair's public half, and makes one for a new name.
	if k := bob.mustJSON("", "cluster", "key", "lab", "--key", keyFile); k["public_key"] != reg["public_key"] || k["key_file"] != keyFile {
		t.Fatalf("cluster key %v", k)
	}
	if k := bob.mustJSON("", "cluster", "key", "lab9"); k["public_key"] == reg["public_key"] || k["name"] != "lab9" {
		t.Fatalf("cluster key of a new name %v", k)
	}
	bob.wantError(exitError, "PermissionError", "", "cluster", "register", "lab2")
	if e, _ := submitJSON(t, alice, exitUsage, "job", "submit", "--account", "main", "--cluster", "lab")["error"].(map[string]any); e["class"] != "UsageError" {
		t.Fatalf("no command: %v", e)
	}
	if e, _ := submitJSON(t, alice, exitUsage, "job", "submit", "--account", "main", "--cluster", "lab", "--memory-mb", "1", "--", "/bin/true")["error"].(map[string]any); e["class"] != "UsageError" ||
		!strings.Contains(e["message"].(string), "memory_mb") {
		t.Fatalf("a memory limit under the minimum: %v", e)
	}

	out := filepath.Join(t.TempDir(), "ran")
	sub := submitJSON(t, alice, 0, "job", "submit", "--account", "main", "--cluster", "lab", "--time-limit-s", "60", "--id", "j-1",
		"--", "/bin/sh", "-c", "echo ran >> "+out)
	id, _ := sub["job_id"].(string)
	if sub["state"] != compute.StatePending || len(id) != 32 {
		t.Fatalf("submit %v", sub)
	}
	if b := alice.mustJSON("", "account", "balance", "main"); b["liability"] != "3.000000" {
		t.Fatalf("balance %v", b)
	}
	// Bob cannot see or cancel alice's job.
	bob.wantError(exitNotFound, "NotFoundError", "", "job", "status", id)

	alice.mustJSON("", "drive", "create", "results")
	par := alice.mustJSON("", "par", "create", "results", "--mode", "write", "--expires", "2h")
	link, _ := par["link"].(string)
	sub3 := submitJSON(t, alice, 0, "job", "submit", "--account", "main", "--cluster", "lab", "--output-link", link,
		"--", "/bin/sh", "-c", "echo to the log; echo oops >&2")
	id3, _ := sub3["job_id"].(string)
	// Both jobs list, newest first; bob's list is empty.
	alice.clock.advance(time.Second)
	if l := alice.mustJSON("", "job", "list"); len(l["jobs"].([]any)) != 2 {
		t.Fatalf("job list %v", l)
	}
	if jobs := bob.mustJSON("", "job", "list")["jobs"].([]any); len(jobs) != 0 {
		t.Fatalf("bob's job list %v", jobs)
	}
	if text := alice.run("", "job", "list", "--limit", "1"); !strings.Contains(text.stdout, "JOB") || !strings.Contains(text.stdout, "more: --page") {
		t.Fatalf("job list text:\n%s", text.stdout)
	}

	key, err := clusterKey("lab", keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = alice.clock.Now
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(actx, agent.Config{Client: &compute.AgentClient{C: c, URL: h.ServiceURL(compute.Kind), Key: key, Agent: "t"},
			WorkDir: t.TempDir(), Drive: &agent.PARDrive{C: c}, PollMin: 20 * time.Millisecond, PollMax: 50 * time.Millisecond,
			UnsandboxedSingleTenant: true}) // no launcher in this test: no sandbox, and one user's jobs
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := alice.mustJSON("", "job", "status", id)
		st3 := alice.mustJSON("", "job", "status", id3)
		if st["state"] == compute.StateSucceeded && st["settled"] == true && st3["state"] == compute.StateSucceeded && st3["settled"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "ran\n" {
		t.Fatalf("the job wrote %q", b)
	}
	if b := alice.mustJSON("", "account", "balance", "main"); b["balance"] != "94.000000" || b["liability"] != "0.000000" {
		t.Fatalf("balance %v", b)
	}
	if r := alice.run("", "job", "logs", id3); r.code != 0 || r.stdout != "to the log\n" {
		t.Fatalf("logs: %+v", r)
	}
	if l := alice.mustJSON("", "job", "logs", id3, "--stream", "stderr"); l["content"] != "oops\n" || l["drive"] != "results" {
		t.Fatalf("stderr log %v", l)
	}
	if r := alice.run("", "job", "status", id); r.code != 0 || !strings.Contains(r.stdout, "succeeded") || !strings.Contains(r.stdout, "paid") {
		t.Fatalf("status text %+v", r)
	}
	alice.wantError(exitNotFound, "NotFoundError", "", "job", "logs", id) // no output link: no logs kept
	alice.wantError(exitRefused, "JobFinishedError", "", "job", "cancel", id)

	// A pending job cancelled: refunded at once.
	sub2 := submitJSON(t, alice, 0, "job", "submit", "--account", "main", "--cluster", "lab", "--", "/bin/true")
	id2, _ := sub2["job_id"].(string)
	if cj := alice.mustJSON("", "job", "cancel", id2); cj["state"] != compute.StateCancelled {
		t.Fatalf("cancel %v", cj)
	}
	if b := alice.mustJSON("", "account", "balance", "main"); b["balance"] != "94.000000" || b["liability"] != "0.000000" {
		t.Fatalf("balance %v", b)
	}
	// An unknown cluster is refused and refunded.
	if e, _ := submitJSON(t, alice, exitRefused, "job", "submit", "--account", "main", "--cluster", "nope", "--", "/bin/true")["error"].(map[string]any); e["class"] != "FulfilmentFailedError" {
		t.Fatalf("unknown cluster: %v", e)
	}
	if b := alice.mustJSON("", "account", "balance", "main"); b["balance"] != "94.000000" || b["liability"] != "0.000000" {
		t.Fatalf("balance %v", b)
	}
	if r := alice.run("", "cluster", "agent", "--help"); r.code != 0 || !strings.Contains(r.stdout, "--workers") {
		t.Fatalf("help %+v", r)
	}
}

// submitJSON runs with -o json before the arguments (the command's own
// arguments follow "--") and checks the exit code.
func submitJSON(t *testing.T, c *cli, wantCode int, args ...string) map[string]any {
	t.Helper()
	r := c.run("", append([]string{args[0], args[1], "-o", "json"}, args[2:]...)...)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || r.code != wantCode {
		t.Fatalf("%v: exit %d (want %d), %v\nstdout: %s\nstderr: %s", args, r.code, wantCode, err, r.stdout, r.stderr)
	}
	return m
}
