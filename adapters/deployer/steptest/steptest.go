// Package steptest records the steps a deployer reports
// (deployer.Step) so a deployer's tests can check which steps it reported,
// that each ended with a duration, and that no secret is in any of them.
package steptest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Recorder keeps every step event of the calls made with its context.
type Recorder struct {
	mu     sync.Mutex
	events []deployer.StepEvent
}

// New is ctx observed by a new Recorder.
func New(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{}
	return deployer.WithStepObserver(ctx, func(_ context.Context, e deployer.StepEvent) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}), r
}

// Steps are the names of the steps that ended, in order.
func (r *Recorder) Steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Done {
			out = append(out, e.Step)
		}
	}
	return out
}

// Check fails t unless every step in want started and then ended without
// an error, with a duration and with fields as key/value pairs whose keys
// are names (so a logger can print them), and unless no event of any step
// (its name, fields or error, as printed) holds any of secrets. A secret is
// named in a failure by its position, never by its value.
func (r *Recorder) Check(t testing.TB, want []string, secrets []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	started := map[string]int{}
	ended := map[string]int{}
	for i, e := range r.events {
		text := fmt.Sprintf("%s %v %v", e.Step, e.Fields, e.Err)
		for j, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("step %d (%s) holds secret #%d", i, e.Step, j)
			}
		}
		if len(e.Fields)%2 != 0 {
			t.Errorf("step %s: fields %d long, not key/value pairs", e.Step, len(e.Fields))
		}
		for k := 0; k < len(e.Fields); k += 2 {
			if key, ok := e.Fields[k].(string); !ok || key == "" || strings.ContainsAny(key, " =") {
				t.Errorf("step %s: field key %v", e.Step, e.Fields[k])
			}
		}
		if !e.Done {
			started[e.Step]++
			continue
		}
		ended[e.Step]++
		if e.Duration < 0 {
			t.Errorf("step %s: duration %v", e.Step, e.Duration)
		}
		if started[e.Step] < ended[e.Step] {
			t.Errorf("step %s ended without starting", e.Step)
		}
	}
	for _, w := range want {
		if ended[w] == 0 {
			t.Errorf("step %s not reported (reported: %v)", w, r.stepsLocked())
			continue
		}
		for _, e := range r.events {
			if e.Done && e.Step == w && e.Err != nil {
				t.Errorf("step %s ended with an error (%T; not printed: it may hold a secret)", w, e.Err)
			}
		}
	}
}

func (r *Recorder) stepsLocked() []string {
	var out []string
	for _, e := range r.events {
		if e.Done {
			out = append(out, e.Step)
		}
	}
	return out
}
