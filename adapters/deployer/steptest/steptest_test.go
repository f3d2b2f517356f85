package steptest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/deployer"
)

// failures is a testing.TB that keeps its failures instead of failing.
type failures struct {
	testing.TB
	errs []string
}

func (f *failures) Helper() {}
func (f *failures) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// Check finds a secret in a step's fields or error (without printing it),
// a step that was not reported, one that failed, and fields not in pairs.
func TestCheckFindsWhatIsWrong(t *testing.T) {
	const secret = "Very-Secret-Value-1"
	ctx, rec := New(context.Background())
	deployer.Step(ctx, "ok", "bucket", "b1")(nil)
	deployer.Step(ctx, "leaky", "secret_name", "s", "value", "x"+secret)(nil)
	deployer.Step(ctx, "boom", "odd")(errors.New("failed with " + secret))
	f := &failures{TB: t}
	rec.Check(f, []string{"ok", "missing", "boom"}, []string{secret})
	all := strings.Join(f.errs, "\n")
	for _, want := range []string{"step 2 (leaky) holds secret #0", "step 5 (boom) holds secret #0", "step missing not reported",
		"step boom ended with", "step boom: fields 1 long"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
	if strings.Contains(all, secret) {
		t.Error("Check printed the secret")
	}
	f = &failures{TB: t}
	_, rec = New(context.Background())
	rec.Check(f, nil, []string{secret})
	if len(f.errs) != 0 || len(rec.Steps()) != 0 {
		t.Errorf("nothing reported, yet: %v", f.errs)
	}
}
