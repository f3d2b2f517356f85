package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSteps(t *testing.T) {
	if got, err := parseSteps(""); err != nil || got != nil {
		t.Errorf("no --only: %v %v, want every step (nil)", got, err)
	}
	if got, err := parseSteps("transfers, calls"); err != nil || !slices.Equal(got, []string{"transfers", "calls"}) {
		t.Errorf("--only transfers,calls: %v %v", got, err)
	}
	if _, err := parseSteps("transfer"); err == nil || !strings.Contains(err.Error(), "steps: ledger, calls, logins, verify, transfers") {
		t.Errorf("--only transfer: %v", err)
	}
}

func TestBenchHelpListsStepDefaults(t *testing.T) {
	if got := stepsHelp(); !strings.Contains(got, "transfers (clients 1,16,64)") || !strings.Contains(got, "calls (clients 1,32)") {
		t.Errorf("steps help: %q", got)
	}
}

// TestBenchOpensCloudStoreURLs: --store takes the clouds' store URLs as
// 'acquire host' does. Nothing listens at the endpoint, so the bench fails
// reaching it, not on an unregistered scheme.
func TestBenchOpensCloudStoreURLs(t *testing.T) {
	c := newCLI(t)
	r := c.run("", "bench", "--only", "ledger", "--duration", "100ms", "--clients", "1",
		"--store", "s3://bench?endpoint=http://127.0.0.1:1&region=us-east-1&path_style=true")
	if r.code == 0 || strings.Contains(r.stderr, "not registered") {
		t.Fatalf("bench on an s3:// store: exit %d, %s", r.code, r.stderr)
	}
}

// TestBenchRecordings: --cpuprofile and --trace each write their file.
func TestBenchRecordings(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	prof, tr := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "run.trace")
	r := c.run("", "bench", "--only", "ledger", "--duration", "100ms", "--clients", "1", "--cpuprofile", prof, "--trace", tr)
	if r.code != 0 {
		t.Fatalf("bench: exit %d, %s", r.code, r.stderr)
	}
	for _, p := range []string{prof, tr} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	if r := c.run("", "bench", "--only", "ledger", "--trace", filepath.Join(dir, "no", "such", "dir")); r.code == 0 {
		t.Fatal("a trace file that cannot be created was accepted")
	}
}
