package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunSmall runs every benchmark step briefly: it proves the harness
// works end to end, not how fast anything is.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the benchmark harness registers users with argon2id")
	}
	rep, err := Run(context.Background(), Config{Duration: 300 * time.Millisecond, Concurrency: []int{1, 4}, Logins: 6}, func(s string) { t.Log(s) })
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
	want := map[string]int{"encrypted calls": 2, "login approvals": 2, "login approvals (vs full bound)": 2, "authorisation verifications (warm cache)": 2}
	for _, f := range rep.Figures {
		if f.Ops == 0 || f.PerSecond <= 0 || f.P99ms < f.P50ms {
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
