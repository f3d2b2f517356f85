package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPARLinkOffCommandLine: 'par get/put' take the link from stdin, a
// file or ACQUIRE_PAR_LINK, so its secret need not be in the process
// list; mixing two ways, or none, is a usage error; help shows the safe
// forms only.
func TestPARLinkOffCommandLine(t *testing.T) {
	t.Parallel()
	alice, _ := newHostCLI(t)
	anon := alice.other()
	aSecret, _ := alice.register("alice")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
	dir := t.TempDir()
	alice.env["XDG_STATE_HOME"] = filepath.Join(dir, "state")
	anon.env["XDG_STATE_HOME"] = filepath.Join(dir, "anon-state")
	alice.mustJSON("", "drive", "create", "docs")
	src, data := writeRandom(t, dir, "f.bin", 5000)
	alice.mustJSON("", "file", "upload", src, "docs", "f.bin")
	read := alice.mustJSON("", "par", "create", "docs", "f.bin", "--mode", "read", "--expires", "1h")["link"].(string)
	write := alice.mustJSON("", "par", "create", "docs", "--mode", "write", "--expires", "1h")["link"].(string)
	readFile, writeFile := filepath.Join(dir, "read.link"), filepath.Join(dir, "write.link")
	for path, link := range map[string]string{readFile: read, writeFile: write} {
		if err := os.WriteFile(path, []byte(link+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	out := func(name string) string { return filepath.Join(dir, name) }
	anon.mustJSON(read+"\n", "par", "get", "--link-stdin", "-O", out("stdin.bin"))
	sameFile(t, out("stdin.bin"), data)
	anon.mustJSON("", "par", "get", "--link-file", readFile, "-O", out("file.bin"))
	sameFile(t, out("file.bin"), data)
	anon.env[envPARLink] = read
	anon.mustJSON("", "par", "get", "-O", out("env.bin"))
	sameFile(t, out("env.bin"), data)
	anon.wantError(exitUsage, classUsage, "", "par", "get", read, "-O", out("x")) // two ways
	if r := anon.run("", "par", "get", "f.bin", "out.txt"); r.code != exitUsage || !strings.Contains(r.stderr, "-O out.txt") {
		t.Fatalf("a destination argument after a link from the environment: %d %q", r.code, r.stderr)
	}
	delete(anon.env, envPARLink)

	anon.mustJSON("", "par", "put", "--link-file", writeFile, src, "via-file.bin")
	anon.mustJSON(write+"\n", "par", "put", "--link-stdin", src, "via-stdin.bin")
	anon.env[envPARLink] = write
	anon.mustJSON("", "par", "put", src, "via-env.bin")
	delete(anon.env, envPARLink)
	for _, name := range []string{"via-file.bin", "via-stdin.bin", "via-env.bin"} {
		alice.mustJSON("", "file", "download", "docs", name, "-O", out("back-"+name))
		sameFile(t, out("back-"+name), data)
	}

	for what, args := range map[string][]string{
		"no link":             {"par", "get", "-O", out("x")},
		"stdin and file":      {"par", "get", "--link-stdin", "--link-file", readFile, "-O", out("x")},
		"empty file":          {"par", "get", "--link-file", os.DevNull, "-O", out("x")},
		"missing file":        {"par", "get", "--link-file", out("nothing"), "-O", out("x")},
		"stdin twice":         {"par", "put", "--link-stdin", "-", "piped.txt"},
		"put without a file":  {"par", "put", "--link-file", writeFile},
		"put with extra args": {"par", "put", "--link-file", writeFile, src, "a", "b"},
	} {
		if r := anon.run(write+"\n", append(args, "-o", "json")...); r.code != exitUsage || strings.Contains(r.stdout+r.stderr, write[strings.Index(write, "#")+1:]) {
			t.Errorf("%s: exit %d (want %d), stdout %q stderr %q", what, r.code, exitUsage, r.stdout, r.stderr)
		}
	}
	for _, sub := range []string{"get", "put"} {
		help := anon.run("", "par", sub, "--help").stdout
		if !strings.Contains(help, "--link-stdin") || !strings.Contains(help, "--link-file") || !strings.Contains(help, envPARLink) ||
			strings.Contains(help, "#s3cr3t") {
			t.Errorf("par %s --help does not show the safe forms only:\n%s", sub, help)
		}
	}
}

// TestJobLinkFromFile: 'job submit' reads its links from files ("-":
// stdin) so they stay out of the process list, and the job gets them.
func TestJobLinkFromFile(t *testing.T) {
	t.Parallel()
	alice, h := newHostCLI(t)
	aSecret, aReg := alice.register("alice")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
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
	alice.mustJSON("", "cluster", "register", "lab")
	alice.mustJSON("", "drive", "create", "in")
	alice.mustJSON("", "drive", "create", "results")
	in := alice.mustJSON("", "par", "create", "in", "--mode", "read", "--expires", "2h")["link"].(string)
	outLink := alice.mustJSON("", "par", "create", "results", "--mode", "write", "--expires", "2h")["link"].(string)
	inFile := filepath.Join(t.TempDir(), "in.link")
	if err := os.WriteFile(inFile, []byte(in+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := alice.run(outLink+"\n", "job", "submit", "-o", "json", "--account", "main", "--cluster", "lab", "--id", "links-1",
		"--input-link-file", inFile, "--output-link-file", "-", "--", "/bin/true")
	var sub map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &sub); err != nil || r.code != 0 {
		t.Fatalf("submit with links from a file and stdin: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	st := alice.mustJSON("", "job", "status", sub["job_id"].(string))
	spec, _ := st["spec"].(map[string]any)
	if spec["input"] != in || spec["output"] != outLink {
		t.Fatalf("the job's links are %v and %v, want the ones in the file and on stdin", spec["input"], spec["output"])
	}
	for what, args := range map[string][]string{
		"both stdin":     {"--input-link-file", "-", "--output-link-file", "-"},
		"flag and file":  {"--input-link", in, "--input-link-file", inFile},
		"a missing file": {"--output-link-file", filepath.Join(t.TempDir(), "none")},
	} {
		full := append([]string{"job", "submit", "--account", "main", "--cluster", "lab"}, append(args, "--", "/bin/true")...)
		if e, _ := submitJSON(t, alice, exitUsage, full...)["error"].(map[string]any); e["class"] != classUsage {
			t.Errorf("%s: %v", what, e)
		}
	}
}
