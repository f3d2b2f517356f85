package ledgerbench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRun runs briefly and checks the report is sane (not fast).
func TestRun(t *testing.T) {
	rep, err := Run(context.Background(), Config{
		StoreURL: "file://" + t.TempDir(), Duration: 150 * time.Millisecond, Concurrency: []int{1, 4}, Accounts: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Levels) != 2 || rep.Accounts != 8 {
		t.Fatalf("report: %+v", rep)
	}
	for _, lv := range rep.Levels {
		if lv.StorePutsPerSecond <= 0 {
			t.Errorf("g%d: no store puts", lv.Concurrency)
		}
		for _, f := range []Figure{lv.Distinct, lv.Hot} {
			if f.Transfers < 1 || f.PerSecond <= 0 || f.P50Millis <= 0 || f.P99Millis < f.P50Millis {
				t.Errorf("g%d: figure %+v", lv.Concurrency, f)
			}
		}
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil || strings.Count(text.String(), "\n") != 4 {
		t.Errorf("text: %v\n%s", err, text.String())
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

// TestRunDefaultsAndLimits: an empty URL uses a temp folder; too few
// accounts for the concurrency is refused before anything runs.
func TestRunDefaultsAndLimits(t *testing.T) {
	if _, err := Run(context.Background(), Config{Concurrency: []int{8}, Accounts: 10}); err == nil {
		t.Fatal("10 accounts for 8 goroutines accepted")
	}
	rep, err := Run(context.Background(), Config{Duration: 50 * time.Millisecond, Concurrency: []int{2}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accounts != DefaultAccounts || rep.Levels[0].Distinct.Transfers < 1 {
		t.Fatalf("report: %+v", rep)
	}
}
