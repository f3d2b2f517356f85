package deployer

import (
	"context"
	"time"
)

// A deployer reports each step of its work (one cloud API call or a short
// sequence: "create_role", "put_secret", "create_function") with Step, so
// whoever drives it can log it: the Terraform provider logs steps through
// tflog, with the step's duration. A deployer that reports nothing still
// works; a caller that observes nothing pays one context lookup per step.

// StepEvent is one step's start (Done false) or end (Done true, with its
// duration and error).
type StepEvent struct {
	Step string
	// Fields are key/value pairs, as slog takes them: names, locations,
	// resource IDs. Never a secret: not the service secret, a password, a
	// token, a signed URL or an environment value.
	Fields   []any
	Done     bool
	Duration time.Duration
	Err      error
}

// StepObserver receives a deployer's step events.
type StepObserver func(ctx context.Context, e StepEvent)

type observerKey struct{}

// WithStepObserver is ctx with o receiving the step events of the
// deployer calls made with it.
func WithStepObserver(ctx context.Context, o StepObserver) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// Step reports step's start to ctx's observer and answers the function
// that reports its end: done(err). Without an observer both are no-ops.
func Step(ctx context.Context, step string, fields ...any) (done func(err error)) {
	o, _ := ctx.Value(observerKey{}).(StepObserver)
	if o == nil {
		return func(error) {}
	}
	o(ctx, StepEvent{Step: step, Fields: fields})
	start := time.Now()
	return func(err error) {
		o(ctx, StepEvent{Step: step, Fields: fields, Done: true, Duration: time.Since(start), Err: err})
	}
}

// Do runs fn as one step reported to ctx's observer (Step around it) and
// answers fn's error; a step that answers values sets them from fn.
func Do(ctx context.Context, step string, fn func() error, fields ...any) error {
	done := Step(ctx, step, fields...)
	err := fn()
	done(err)
	return err
}
