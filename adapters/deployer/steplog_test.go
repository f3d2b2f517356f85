package deployer

import (
	"context"
	"errors"
	"testing"
)

// TestStep: a step is reported to the context's observer at its start and
// end (with its error and fields); without an observer nothing happens.
func TestStep(t *testing.T) {
	Step(context.Background(), "quiet")(nil) // no observer: a no-op

	var got []StepEvent
	ctx := WithStepObserver(context.Background(), func(_ context.Context, e StepEvent) { got = append(got, e) })
	boom := errors.New("boom")
	Step(ctx, "create_role", "role", "r1")(boom)
	if len(got) != 2 || got[0].Done || got[0].Step != "create_role" || !got[1].Done || !errors.Is(got[1].Err, boom) ||
		len(got[1].Fields) != 2 || got[1].Fields[1] != "r1" || got[1].Duration < 0 {
		t.Fatalf("events: %+v", got)
	}
}
