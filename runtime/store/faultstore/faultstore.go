// Package faultstore wraps any store driver to inject the failures a
// distributed store and a crashing process produce: a write refused before
// it lands, a write that lands but whose acknowledgement is lost, a delay,
// a chosen interleaving of concurrent writers, and a process that stops at
// a named point.
//
// Every decision is a pure function of (seed, operation, key, how many
// times that operation hit that key before), not of a shared random
// stream, so a run is reproducible from its seed even when background
// goroutines write in an order the scheduler picks. Tests and simulations
// use it; nothing in production imports it.
//
// A Store is the shared, durable side (what a bucket keeps); each simulated
// process gets its own Process, a driver.Driver that dies on a crash fault:
// from then on every call of that process fails with ErrCrashed and nothing
// more it does lands. A "restart" is a fresh Process (and fresh service
// objects) over the same Store.
package faultstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// ErrCrashed is what every call of a crashed process answers.
var ErrCrashed = errors.New("faultstore: simulated process crash")

// Fault is one kind of injected failure.
type Fault string

// The faults. FailBefore and FailAfter answer an error wrapping
// driver.ErrTransient, as a cloud store's timeout or 5xx would.
const (
	None        Fault = ""
	FailBefore  Fault = "fail-before"  // the write is refused; nothing lands
	FailAfter   Fault = "fail-after"   // the write lands; the caller gets an error
	CrashBefore Fault = "crash-before" // the process dies before the write
	CrashAfter  Fault = "crash-after"  // the write lands, then the process dies
	Delay       Fault = "delay"        // the call waits, then runs normally
	FailRead    Fault = "fail-read"    // a read answers ErrTransient
)

// Operation names, as Points and Hold see them.
const (
	OpGet             = "get"
	OpList            = "list"
	OpPut             = "put"
	OpPutIfAbsent     = "put-if-absent"
	OpPutIfVersion    = "put-if-version"
	OpDelete          = "delete"
	OpDeleteIfVersion = "delete-if-version"
)

// Limits.
const (
	// MaxDelay bounds an injected delay.
	MaxDelay = time.Second
	// maxForced bounds how many forced faults may wait at once.
	maxForced = 1000
)

// Options are the fault rates and where faults may strike. Rates are
// probabilities per eligible call, in [0, 1]; their sum for writes must be
// at most 1.
type Options struct {
	Seed uint64
	// Write faults.
	FailBefore, FailAfter, CrashBefore, CrashAfter, Delay float64
	// FailRead is the rate of transient read failures (Get and List).
	FailRead float64
	// DelayMax bounds a delay (default 1 ms, at most MaxDelay).
	DelayMax time.Duration
	// Point names the point a call reaches, or "" to keep it free of
	// random faults. Nil names every call by its operation. Crash points
	// are reported as "<fault>@<point>".
	Point func(op, key string) string
}

func (o *Options) check() error {
	rates := []float64{o.FailBefore, o.FailAfter, o.CrashBefore, o.CrashAfter, o.Delay, o.FailRead}
	sum := 0.0
	for _, r := range rates {
		if r < 0 || r > 1 || r != r {
			return fmt.Errorf("%w: fault rate %v outside [0, 1]", driver.ErrInvalidArgument, r)
		}
		sum += r
	}
	if sum-o.FailRead > 1 {
		return fmt.Errorf("%w: write fault rates sum to %v > 1", driver.ErrInvalidArgument, sum-o.FailRead)
	}
	if o.DelayMax < 0 || o.DelayMax > MaxDelay {
		return fmt.Errorf("%w: delay %v outside [0, %v]", driver.ErrInvalidArgument, o.DelayMax, MaxDelay)
	}
	if o.DelayMax == 0 {
		o.DelayMax = time.Millisecond
	}
	return nil
}

// Store is the shared side: the wrapped driver, the fault plan and the
// counts of what was injected. Its methods are safe for concurrent use.
type Store struct {
	inner driver.Driver
	opt   Options

	mu      sync.Mutex
	enabled bool
	seen    map[string]uint64 // (op, key) -> calls so far
	forced  []forced
	holds   []*Gate
	stats   map[Fault]int
	crashes []string // "<fault>@<point>" of each crash, in order
}

type forced struct {
	point string
	fault Fault
}

// New wraps inner. Faults are enabled; see SetEnabled.
func New(inner driver.Driver, opt Options) (*Store, error) {
	if inner == nil {
		return nil, fmt.Errorf("%w: nil driver", driver.ErrInvalidArgument)
	}
	if err := opt.check(); err != nil {
		return nil, err
	}
	return &Store{inner: inner, opt: opt, enabled: true, seen: map[string]uint64{}, stats: map[Fault]int{}}, nil
}

// SetEnabled turns random faults on or off (forced faults and holds still
// apply), e.g. off for a simulation's final recovery and checks.
func (s *Store) SetEnabled(on bool) {
	s.mu.Lock()
	s.enabled = on
	s.mu.Unlock()
}

// Force makes the next call that reaches point get fault f, whatever the
// rates say. Several forced faults of one point apply in order.
func (s *Store) Force(point string, f Fault) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.forced) >= maxForced {
		return fmt.Errorf("%w: more than %d forced faults waiting", driver.ErrTooMany, maxForced)
	}
	s.forced = append(s.forced, forced{point, f})
	return nil
}

// Stats returns how many faults of each kind were injected so far.
func (s *Store) Stats() map[Fault]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Fault]int, len(s.stats))
	for k, v := range s.stats {
		out[k] = v
	}
	return out
}

// Crashes lists the crash points hit so far, in order.
func (s *Store) Crashes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.crashes...)
}

// Inner returns the wrapped driver (for checks that must see the truth).
func (s *Store) Inner() driver.Driver { return s.inner }

func (s *Store) point(op, key string) string {
	if s.opt.Point == nil {
		return op
	}
	return s.opt.Point(op, key)
}

// decide picks the fault of one call. The draw depends only on the seed,
// the op, the key and how many times op hit key before, so concurrent
// callers on different keys cannot change each other's faults.
func (s *Store) decide(op, key string, write bool) (Fault, string, time.Duration) {
	pt := s.point(op, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := op + "\x00" + key
	n := s.seen[id]
	s.seen[id] = n + 1
	f := None
	if i := s.forcedAt(pt); i >= 0 {
		f = s.forced[i].fault
		s.forced = append(s.forced[:i], s.forced[i+1:]...)
	} else if s.enabled && pt != "" {
		f = s.draw(id, n, write)
	}
	if f != None {
		s.stats[f]++
		if f == CrashBefore || f == CrashAfter {
			s.crashes = append(s.crashes, string(f)+"@"+pt)
		}
	}
	var d time.Duration
	if f == Delay {
		d = time.Duration(s.rng(id, n^0x5bd1e995).Int64N(int64(s.opt.DelayMax))) + 1
	}
	return f, pt, d
}

func (s *Store) forcedAt(pt string) int {
	for i, f := range s.forced {
		if f.point == pt {
			return i
		}
	}
	return -1
}

func (s *Store) rng(id string, n uint64) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	_, _ = h.Write([]byte(strconv.FormatUint(n, 10)))
	return rand.New(rand.NewPCG(s.opt.Seed, h.Sum64()))
}

func (s *Store) draw(id string, n uint64, write bool) Fault {
	x := s.rng(id, n).Float64()
	if !write {
		if x < s.opt.FailRead {
			return FailRead
		}
		return None
	}
	o := s.opt
	for _, c := range []struct {
		rate float64
		f    Fault
	}{{o.FailBefore, FailBefore}, {o.FailAfter, FailAfter}, {o.CrashBefore, CrashBefore}, {o.CrashAfter, CrashAfter}, {o.Delay, Delay}} {
		if x < c.rate {
			return c.f
		}
		x -= c.rate
	}
	return None
}

// When says on which side of its call a Gate holds a caller.
type When int

// Sides of a call.
const (
	Before When = iota // before the call reaches the store
	After              // after the store answered, before the caller sees it
)

// Gate holds the first call matching it until released, so a test can make
// two writers meet in an order it chooses: hold one, run the other, release.
type Gate struct {
	match   func(op, key string) bool
	when    When
	reached chan struct{}
	release chan struct{}
	once    sync.Once
}

// Hold arms a gate for the next call (of any process) that match accepts.
func (s *Store) Hold(when When, match func(op, key string) bool) *Gate {
	g := &Gate{match: match, when: when, reached: make(chan struct{}), release: make(chan struct{})}
	s.mu.Lock()
	s.holds = append(s.holds, g)
	s.mu.Unlock()
	return g
}

// Reached is closed when the held call arrives at the gate.
func (g *Gate) Reached() <-chan struct{} { return g.reached }

// Release lets the held call go on (and disarms the gate if it was never
// reached). It may be called more than once.
func (g *Gate) Release() { g.once.Do(func() { close(g.release) }) }

// Disarm removes a gate that no call reached, so a later call is not held.
func (s *Store) Disarm(g *Gate) {
	s.mu.Lock()
	for i, h := range s.holds {
		if h == g {
			s.holds = append(s.holds[:i], s.holds[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	g.Release()
}

// take removes and returns the gate op on key must wait at, if any.
func (s *Store) take(when When, op, key string) *Gate {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, g := range s.holds {
		if g.when == when && g.match(op, key) {
			s.holds = append(s.holds[:i], s.holds[i+1:]...)
			return g
		}
	}
	return nil
}

func (s *Store) gate(ctx context.Context, when When, op, key string) error {
	g := s.take(when, op, key)
	if g == nil {
		return nil
	}
	close(g.reached)
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
