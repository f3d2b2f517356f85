package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A small capacity run compacts every record into runs: no record object
// is left, the runs and the extrapolation are printed.
func TestCapacitySmall(t *testing.T) {
	rep, err := RunCapacity(context.Background(), CapacityConfig{Transfers: 300, Dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 300 + capacityAccounts; rep.Records != want {
		t.Fatalf("%d records moved into runs, want %d", rep.Records, want)
	}
	if rep.RecordObjects.Objects != 0 {
		t.Fatalf("%d record objects left", rep.RecordObjects.Objects)
	}
	if rep.Runs.Objects == 0 || rep.Runs.BlocksBytes == 0 || rep.SteadyInodesPer <= 0 || len(rep.RoundSeconds) != 3 || rep.WallSeconds <= 0 {
		t.Fatalf("no record runs measured: %+v", rep)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"steady state:", "record runs", "10^8", "this file system:", "record passes", "cores, load average"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}
