package main

import (
	"runtime"
	"testing"
)

// A host runs twice as many Go processors as cores, unless GOMAXPROCS says.
func TestOversubscribe(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	oversubscribe(func(k string) string {
		if k == "GOMAXPROCS" {
			return "1"
		}
		return ""
	})
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS set by the user: changed to %d from %d", got, before)
	}
	oversubscribe(func(string) string { return "" })
	if got := runtime.GOMAXPROCS(0); got != procsPerCore*before {
		t.Fatalf("GOMAXPROCS %d, want %d", got, procsPerCore*before)
	}
}
