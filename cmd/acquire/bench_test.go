package main

import (
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
