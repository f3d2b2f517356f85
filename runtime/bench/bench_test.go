package bench

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/compute/agent"
)

// The jobs step's agent launches its jobs' supervisors through this test
// binary, as `acquire bench` does through acquire.
func TestMain(m *testing.M) {
	agent.ExecIfLaunched()
	os.Exit(m.Run())
}

// TestRunSmall runs every benchmark step briefly: it proves the harness
// works end to end, not how fast anything is.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the benchmark harness registers users with argon2id")
	}
	rep, err := Run(context.Background(), Config{Duration: 300 * time.Millisecond, Concurrency: []int{1, 4}, Logins: 6, FileBytes: 3 << 20,
		JobLauncher: os.Args[0]}, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if rep.Cores < 1 || rep.Costs.DecryptMs <= 0 || rep.Costs.PasswordMs <= 0 {
		t.Fatalf("costs not measured: %+v", rep.Costs)
	}
	want := map[string]int{"encrypted calls": 2, "login approvals": 2, "login approvals (vs full bound)": 2, "authorisation verifications (warm cache)": 2,
		"transfers, distinct accounts": 2, "transfers, one hot account": 2, "transfers, hot vs distinct": 2,
		"ledger alone, distinct accounts": 2, "ledger alone, one hot account": 2, "store durable puts (context)": 2,
		"plain copy, MB/s": 1, "SHA-256 alone (one core), MB/s": 1, "upload via service, MB/s": 1, "download via service, MB/s": 1, "upload via PAR, MB/s": 1, "download via PAR, MB/s": 1,
		"jobs, submit to settled":                                    2,
		"session-end marker reads (context: one per fast-path call)": 1, "balance reads, envelope": 2, "balance reads, fast path": 2,
		"balance reads, fast path: cores ÷ CPU per op (context)": 2, "transfers, distinct accounts, fast path": 2,
		"transfers, distinct accounts, fast path: cores ÷ CPU per op (context)": 2, "empty claims (after the jobs above)": 2,
		"a job's start: supervised, no sandbox": 1, "a job's start: supervised in its sandbox": 1,
		"xregion: same-region transfers": 2, "xregion: cross-region transfers (+50 ms RTT)": 2, "xregion: first cross-region transfer (keys cold)": 1,
		anchorsNotRun: 1}
	checkTransferFigures(t, rep)
	checkFileFigures(t, rep)
	checkFastPathFigures(t, rep)
	for _, f := range rep.Figures {
		if f.Name == anchorsNotRun {
			// No anchors configured: the step says so rather than measuring.
		} else if f.Name == "store durable puts (context)" {
			if f.PerSecond <= 0 {
				t.Errorf("store put rate not measured: %+v", f)
			}
		} else if f.Ops == 0 || f.PerSecond <= 0 || f.P99ms < f.P50ms {
			t.Errorf("figure %s@%d has no measurement: %+v", f.Name, f.Concurrency, f)
		}
		want[f.Name]--
	}
	for name, left := range want {
		if left != 0 {
			t.Errorf("figure %q: %d missing", name, left)
		}
	}
}

// checkTransferFigures checks how the transfer figures relate: both are
// beside the transfer bound, and the hot-vs-distinct line is bounded by
// the distinct figure at the same clients.
func checkTransferFigures(t *testing.T, rep *Report) {
	t.Helper()
	if rep.Costs.TransferParallelPerSec <= 0 {
		t.Errorf("transfer bound not measured: %+v", rep.Costs)
	}
	distinct := map[int]float64{}
	for _, f := range rep.Figures {
		switch f.Name {
		case "transfers, distinct accounts", "transfers, one hot account":
			if f.BoundName != transferBoundName || f.BoundPerSec <= 0 || f.Costs.TransferParallelPerSec <= 0 {
				t.Errorf("%s@%d: not beside the transfer bound: %+v", f.Name, f.Concurrency, f)
			}
			if f.Name == "transfers, distinct accounts" {
				distinct[f.Concurrency] = f.PerSecond
			}
		case "transfers, hot vs distinct":
			if f.BoundPerSec != distinct[f.Concurrency] || f.Target != 0.5 {
				t.Errorf("hot vs distinct@%d: bound %.1f target %.2f, want the distinct figure %.1f and 0.5", f.Concurrency, f.BoundPerSec, f.Target, distinct[f.Concurrency])
			}
		}
	}
}

// stepNamesWant are the steps in the order Run runs them.
var stepNamesWant = []string{"ledger", "calls", "logins", "verify", "transfers", "fastpath", "files", "anchors", "jobs", "xregion"}

// anchorsNotRun is the line the anchors step prints when no store server
// was given to it, as in TestRunSmall.
const anchorsNotRun = "file anchors: not run (acquire bench --anchors s3,gcs,azure)"

func TestSteps(t *testing.T) {
	if got := StepNames(); !slices.Equal(got, stepNamesWant) {
		t.Errorf("steps %v", got)
	}
	if got := DefaultClients("transfers"); !slices.Equal(got, []int{1, 16, 64}) {
		t.Errorf("transfers default to %v clients", got)
	}
	runs, err := selected([]string{"transfers"})
	if err != nil || runs("calls") || !runs("transfers") {
		t.Errorf("--only transfers: err %v, calls %v, transfers %v", err, runs("calls"), runs("transfers"))
	}
	if runs, err = selected(nil); err != nil || !runs("calls") || !runs("transfers") {
		t.Errorf("no steps named should run all (err %v)", err)
	}
	if _, err := selected([]string{"transfer"}); err == nil || !strings.Contains(err.Error(), "known: "+strings.Join(stepNamesWant, ", ")+"") {
		t.Errorf("unknown step: %v", err)
	}
}

// TestRunUnknownStep fails before starting a host.
func TestRunUnknownStep(t *testing.T) {
	if _, err := Run(context.Background(), Config{Steps: []string{"nope"}}, nil); err == nil {
		t.Fatal("an unknown step ran")
	}
}

// checkFileFigures: every transfer is beside the plain copy of the same
// rounds, with the targets.
func checkFileFigures(t *testing.T, rep *Report) {
	t.Helper()
	var plain float64
	for _, f := range rep.Figures {
		if f.Name == "plain copy, MB/s" {
			plain = f.PerSecond
		}
	}
	for _, f := range rep.Figures {
		if strings.HasSuffix(f.Name, "MB/s") && f.CPUms <= 0 {
			t.Errorf("%s: no CPU time measured", f.Name)
		}
		if f.Name == hashAlone+", MB/s" && (plain <= 0 || f.BoundPerSec != plain || f.Target != 0 || f.Ops != fileRounds) {
			t.Errorf("%s: bound %.1f (plain copy %.1f), target %.2f, %d rounds", f.Name, f.BoundPerSec, plain, f.Target, f.Ops)
		}
		if !strings.Contains(f.Name, " via ") {
			continue
		}
		want := 0.5
		if strings.Contains(f.Name, "PAR") {
			want = 0.8
		}
		if plain <= 0 || f.BoundPerSec != plain || f.Target != want || f.BoundName != fileBoundName || f.Ops != fileRounds {
			t.Errorf("%s: bound %.1f (plain copy %.1f), target %.2f (want %.2f), %d rounds", f.Name, f.BoundPerSec, plain, f.Target, want, f.Ops)
		}
	}
}

// TestSteadyWindow: a timed round's rate counts only what completed
// between the clients' spreading out and the deadline, so the start-up and
// the drain after the deadline (cores idle while the last calls finish)
// do not dilute it.
func TestSteadyWindow(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	cases := []struct {
		name string
		done []time.Duration
		conc int
		n    int
		dur  time.Duration
	}{
		{"opens at the conc-th completion, drain not counted", ms(400, 100, 300, 200, 600, 900), 2, 2, 300 * time.Millisecond},
		{"one client", ms(50, 150, 250), 1, 2, 450 * time.Millisecond},
		{"too few completions", ms(100, 200), 2, 0, 0},
		{"clients still starting at the deadline", ms(100, 600, 700), 2, 0, 0},
		{"no completion inside the window (a loaded machine)", ms(100, 200, 700, 900), 2, 0, 0},
	}
	for _, c := range cases {
		n, dur := steadyWindow(c.done, c.conc, 500*time.Millisecond)
		if n != c.n || dur != c.dur {
			t.Errorf("%s: got %d ops in %s, want %d in %s", c.name, n, dur, c.n, c.dur)
		}
	}
	// The figure's rate is the window's, not all operations over all time.
	s := sample{lat: ms(1, 1, 1, 1, 1, 1), elapsed: 2 * time.Second, steadyOps: 4, steadyDur: time.Second}
	if f, err := s.figure(2); err != nil || f.PerSecond != 4 || f.Ops != 6 {
		t.Fatalf("figure from a steady window: %+v, %v", f, err)
	}
}

// TestRoundOrder: the file transfers alternate which path goes first, the
// plain copy always opening the round.
func TestRoundOrder(t *testing.T) {
	kinds := []string{"plain copy", "upload via service", "download via service", "upload via PAR", "download via PAR"}
	if got := roundOrder(kinds, 0); !slices.Equal(got, kinds) {
		t.Errorf("round 0: %v", got)
	}
	want := []string{"plain copy", "upload via PAR", "download via PAR", "upload via service", "download via service"}
	if got := roundOrder(kinds, 1); !slices.Equal(got, want) {
		t.Errorf("round 1: %v", got)
	}
	// Over the rounds run, each upload goes first as often as second.
	parFirst := 0
	for round := range fileRounds {
		o := roundOrder(kinds, round)
		if slices.Index(o, "upload via PAR") < slices.Index(o, "upload via service") {
			parFirst++
		}
	}
	if 2*parFirst != fileRounds {
		t.Errorf("the PAR upload goes first in %d of %d rounds", parFirst, fileRounds)
	}
}

func TestMedian(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	if got := median(ms(5, 1, 9)); got != 5*time.Millisecond {
		t.Errorf("odd: %v", got)
	}
	if got := median(ms(40, 10, 30, 20)); got != 25*time.Millisecond {
		t.Errorf("even: %v, want the mean of the middle two", got)
	}
}

// TestTimedWritesGoToNewFiles: a transfer timed into a destination never
// frees the last round's copy inside its timing (see removeOld), so
// writing over an existing file is refused and removeOld clears the way.
func TestTimedWritesGoToNewFiles(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "copy.bin")
	if err := os.WriteFile(dst, []byte("last round"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }
	if err := downloadFile(dst, write); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("writing over an existing copy: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "last round" {
		t.Fatalf("the refused write changed the file: %q", b)
	}
	for range 2 { // a missing file is no error
		if err := removeOld(dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := downloadFile(dst, write); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Fatalf("got %q", b)
	}
}

// checkFastPathFigures checks that the fast path's figures stand beside
// their anchors: reads beside the envelope's at the same clients,
// transfers beside the ledger alone, each with its floor.
func checkFastPathFigures(t *testing.T, rep *Report) {
	t.Helper()
	envelope := map[int]float64{}
	for _, f := range rep.Figures {
		switch f.Name {
		case "balance reads, envelope":
			envelope[f.Concurrency] = f.PerSecond
		case "balance reads, fast path":
			if f.BoundPerSec != envelope[f.Concurrency] || f.Floor != FastReadFloor || f.CPUms <= 0 {
				t.Errorf("fast reads@%d: bound %.1f floor %.0f cpu %.3f, want the envelope's %.1f, %d and a CPU cost", f.Concurrency,
					f.BoundPerSec, f.Floor, f.CPUms, envelope[f.Concurrency], FastReadFloor)
			}
		case "transfers, distinct accounts, fast path":
			if f.BoundPerSec <= 0 || f.Floor != FastTransferFloor || !strings.Contains(f.BoundName, "ledger alone") {
				t.Errorf("fast transfers@%d: not beside the ledger alone: %+v", f.Concurrency, f)
			}
		}
	}
}
