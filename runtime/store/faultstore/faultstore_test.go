package faultstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/drivertest"
	"github.com/openacquire/acquire/runtime/store/faultstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

func newStore(t *testing.T, o faultstore.Options) *faultstore.Store {
	t.Helper()
	s, err := faultstore.New(memstore.New(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// With no faults the wrapper is a correct driver.
func TestConformanceWithoutFaults(t *testing.T) {
	drivertest.RunConformance(t, func(t *testing.T) store.Driver { return newStore(t, faultstore.Options{}).Process() })
}

// exists reads the truth from the wrapped driver, past any fault.
func exists(t *testing.T, s *faultstore.Store, key string) bool {
	t.Helper()
	_, _, err := s.Inner().Get(context.Background(), key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestForcedWriteFaults(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		fault   faultstore.Fault
		want    error
		landed  bool
		crashed bool
	}{
		{faultstore.FailBefore, store.ErrTransient, false, false},
		{faultstore.FailAfter, store.ErrTransient, true, false},
		{faultstore.CrashBefore, faultstore.ErrCrashed, false, true},
		{faultstore.CrashAfter, faultstore.ErrCrashed, true, true},
	}
	for _, c := range cases {
		t.Run(string(c.fault), func(t *testing.T) {
			s := newStore(t, faultstore.Options{})
			p := s.Process()
			b := store.NewBucket(p)
			if err := s.Force(faultstore.OpPutIfAbsent, c.fault); err != nil {
				t.Fatal(err)
			}
			_, err := b.PutIfAbsent(ctx, "k", []byte("v"))
			if !errors.Is(err, c.want) {
				t.Fatalf("put-if-absent with %s: %v, want %v", c.fault, err, c.want)
			}
			if got := exists(t, s, "k"); got != c.landed {
				t.Fatalf("landed = %v, want %v", got, c.landed)
			}
			if p.Crashed() != c.crashed {
				t.Fatalf("crashed = %v, want %v", p.Crashed(), c.crashed)
			}
			// A dead process does nothing more; a restarted one works.
			_, err = b.Put(ctx, "other", []byte("x"))
			if c.crashed && (!errors.Is(err, faultstore.ErrCrashed) || exists(t, s, "other")) {
				t.Fatalf("a crashed process wrote: %v", err)
			}
			if !c.crashed && err != nil {
				t.Fatalf("the fault was not one-shot: %v", err)
			}
			if _, err := store.NewBucket(s.Process()).Put(ctx, "again", []byte("x")); err != nil {
				t.Fatalf("restarted process: %v", err)
			}
			if got := s.Stats()[c.fault]; got != 1 {
				t.Fatalf("stats %v", s.Stats())
			}
		})
	}
}

// The lost acknowledgement of a conditional write: the caller's retry sees
// its own write as a precondition failure, which is exactly what a client
// of a real store must be ready for.
func TestLostAcknowledgementThenRetry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, faultstore.Options{})
	b := store.NewBucket(s.Process())
	if err := s.Force(faultstore.OpPutIfAbsent, faultstore.FailAfter); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutIfAbsent(ctx, "k", []byte("v")); !errors.Is(err, store.ErrTransient) {
		t.Fatal(err)
	}
	if _, err := b.PutIfAbsent(ctx, "k", []byte("v")); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("retry of a landed write: %v", err)
	}
}

func TestDelayWaitsAndHonoursContext(t *testing.T) {
	s := newStore(t, faultstore.Options{DelayMax: faultstore.MaxDelay})
	b := store.NewBucket(s.Process())
	if err := s.Force(faultstore.OpPut, faultstore.Delay); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Put(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Fatalf("a delayed put under a cancelled context: %v", err)
	}
	if exists(t, s, "k") {
		t.Fatal("a write cancelled during its delay landed")
	}
}

func TestReadFaultsAreRetriedByTheBucket(t *testing.T) {
	s := newStore(t, faultstore.Options{})
	b := store.NewBucket(s.Process())
	ctx := context.Background()
	if _, err := b.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for range store.ReadAttempts {
		if err := s.Force(faultstore.OpGet, faultstore.FailRead); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, store.ErrTransient) {
		t.Fatalf("get failing every attempt: %v", err)
	}
	if err := s.Force(faultstore.OpGet, faultstore.FailRead); err != nil {
		t.Fatal(err)
	}
	if data, _, err := b.Get(ctx, "k"); err != nil || string(data) != "v" {
		t.Fatalf("get failing once: %q %v", data, err)
	}
}

// faultsOf runs writes to keys in the given order and returns each key's
// fault (as the error class it saw).
func faultsOf(t *testing.T, seed uint64, keys []string) map[string]string {
	t.Helper()
	s := newStore(t, faultstore.Options{Seed: seed, FailBefore: 0.2, FailAfter: 0.2, CrashAfter: 0.1})
	out := map[string]string{}
	for _, k := range keys {
		_, err := s.Process().Put(context.Background(), k, []byte("v"))
		out[k] = fmt.Sprint(err)
	}
	return out
}

func TestSeededDecisionsAreReproducibleAndOrderFree(t *testing.T) {
	var keys, reversed []string
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("k%03d", i))
	}
	for i := len(keys) - 1; i >= 0; i-- {
		reversed = append(reversed, keys[i])
	}
	a, b := faultsOf(t, 7, keys), faultsOf(t, 7, reversed)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("one seed gave other faults when the writes came in another order")
	}
	if c := faultsOf(t, 8, keys); reflect.DeepEqual(a, c) {
		t.Fatal("two seeds gave the same 200 faults")
	}
}

func TestRatesAndPoints(t *testing.T) {
	const n = 4000
	s := newStore(t, faultstore.Options{Seed: 1, FailBefore: 0.25, Point: func(op, key string) string {
		if key[0] == 'x' {
			return "" // exempt
		}
		return "data"
	}})
	p := s.Process()
	ctx := context.Background()
	for i := range n {
		_, _ = p.Put(ctx, fmt.Sprintf("d%d", i), nil)
		if _, err := p.Put(ctx, fmt.Sprintf("x%d", i), nil); err != nil {
			t.Fatalf("an exempt write failed: %v", err)
		}
	}
	got := s.Stats()[faultstore.FailBefore]
	if got < n/4-200 || got > n/4+200 {
		t.Fatalf("%d of %d writes failed at rate 0.25", got, n)
	}
}

func TestBadOptionsRefused(t *testing.T) {
	for _, o := range []faultstore.Options{
		{FailBefore: -0.1}, {FailAfter: 1.5}, {FailBefore: 0.6, CrashAfter: 0.6}, {DelayMax: time.Hour},
	} {
		if _, err := faultstore.New(memstore.New(), o); !errors.Is(err, store.ErrInvalidArgument) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
	if _, err := faultstore.New(nil, faultstore.Options{}); !errors.Is(err, store.ErrInvalidArgument) {
		t.Fatal(err)
	}
}

func TestCrashPointsAreNamed(t *testing.T) {
	s := newStore(t, faultstore.Options{Point: func(op, key string) string { return op + ":" + key[:1] }})
	if err := s.Force("put-if-absent:r", faultstore.CrashAfter); err != nil {
		t.Fatal(err)
	}
	p := s.Process()
	ctx := context.Background()
	if _, err := p.PutIfAbsent(ctx, "a1", nil); err != nil {
		t.Fatalf("a write at another point: %v", err)
	}
	if _, err := p.PutIfAbsent(ctx, "r1", nil); !errors.Is(err, faultstore.ErrCrashed) {
		t.Fatal(err)
	}
	if got := s.Crashes(); !reflect.DeepEqual(got, []string{"crash-after@put-if-absent:r"}) {
		t.Fatalf("crashes %v", got)
	}
}

// Two writers of one key meet in the order the test picks, both ways.
func TestHoldInterleavesWriters(t *testing.T) {
	for _, when := range []faultstore.When{faultstore.Before, faultstore.After} {
		s := newStore(t, faultstore.Options{})
		ctx := context.Background()
		g := s.Hold(when, func(op, key string) bool { return op == faultstore.OpPutIfAbsent && key == "k" })
		first := make(chan error, 1)
		go func() {
			_, err := s.Process().PutIfAbsent(ctx, "k", []byte("held"))
			first <- err
		}()
		<-g.Reached()
		_, err := s.Process().PutIfAbsent(ctx, "k", []byte("free"))
		g.Release()
		heldErr := <-first
		data, _, _ := s.Inner().Get(ctx, "k")
		switch when {
		case faultstore.Before: // the held writer comes second and loses
			if err != nil || !errors.Is(heldErr, store.ErrPrecondition) || string(data) != "free" {
				t.Fatalf("before: free %v, held %v, stored %q", err, heldErr, data)
			}
		case faultstore.After: // the held writer landed first; the other loses
			if !errors.Is(err, store.ErrPrecondition) || heldErr != nil || string(data) != "held" {
				t.Fatalf("after: free %v, held %v, stored %q", err, heldErr, data)
			}
		}
	}
}

func TestDisarmedGateHoldsNothing(t *testing.T) {
	s := newStore(t, faultstore.Options{})
	g := s.Hold(faultstore.Before, func(string, string) bool { return true })
	s.Disarm(g)
	if _, err := s.Process().Put(context.Background(), "k", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.Reached():
		t.Fatal("a disarmed gate was reached")
	default:
	}
}
