package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A figure's run is cut into rounds with a sample of its bound taken
// before each round and after the last. The machines this runs on change
// speed by up to 2x within a second (shared vCPUs), so a bound measured
// once before and once after describes other seconds than the figure;
// samples interleaved with the load see the same conditions it does.
type workload struct {
	conc   int
	d      time.Duration // time-boxed load: the whole run's duration
	total  int           // counted load: operations in all, by index
	rounds int
	// op runs one operation: client is the goroutine running it (the same
	// in every round, so a step can give each client its own user), i the
	// operation's index (counted loads) or its order within a round.
	op func(ctx context.Context, client, i int) error
}

// Rounds per figure: time-boxed figures cut their duration into
// timedRounds; counted ones (logins, whose second factors are used up)
// into loginRounds, fewer, so that each round still keeps every client busy.
const (
	timedRounds = 10
	loginRounds = 4
	// minRound is the shortest time-boxed round: each round starts its
	// clients together and ends with them draining, so a round must be long
	// beside the operations' latency (300 ms and more at 64 clients) for
	// its steady window to hold many operations.
	minRound = time.Second
)

func measured(ctx context.Context, measure func(*Costs), w workload) (Figure, Costs, error) {
	rounds := max(1, w.rounds)
	if w.d > 0 {
		rounds = max(1, min(rounds, int(w.d/minRound)))
	}
	samples := make([]Costs, 0, rounds+1)
	var all sample
	for r := range rounds {
		var c Costs
		measure(&c)
		samples = append(samples, c)
		from, to := r*w.total/rounds, (r+1)*w.total/rounds
		all.add(runSlice(ctx, w.conc, w.d/time.Duration(rounds), from, to, w.op))
	}
	var c Costs
	measure(&c)
	samples = append(samples, c)
	f, err := all.figure(w.conc)
	return f, meanCosts(samples), err
}

// sample is the raw outcome of some load: latencies of the operations
// that succeeded, time spent, and failures. A time-boxed load also has a
// steady window (see steadyWindow): the operations it holds and its length.
type sample struct {
	lat       []time.Duration
	elapsed   time.Duration
	steadyOps int
	steadyDur time.Duration
	errs      int
	firstErr  error
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.elapsed += o.elapsed
	s.steadyOps += o.steadyOps
	s.steadyDur += o.steadyDur
	s.errs += o.errs
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
}

func (s *sample) figure(conc int) (Figure, error) {
	slices.Sort(s.lat)
	f := Figure{Concurrency: conc, Ops: len(s.lat), Errors: s.errs}
	switch {
	case s.steadyDur > 0:
		f.PerSecond = float64(s.steadyOps) / s.steadyDur.Seconds()
	case s.elapsed > 0:
		f.PerSecond = float64(len(s.lat)) / s.elapsed.Seconds()
	}
	if n := len(s.lat); n > 0 {
		f.P50ms = ms(s.lat[n/2])
		f.P99ms = ms(s.lat[min(n-1, n*99/100)])
	}
	if s.errs > 0 {
		return f, fmt.Errorf("bench: %d of %d operations failed, first: %w", s.errs, s.errs+f.Ops, s.firstErr)
	}
	return f, nil
}

// runSlice runs op from conc goroutines until d passes, or, when to > 0,
// for the indices from..to-1.
func runSlice(ctx context.Context, conc int, d time.Duration, from, to int, op func(ctx context.Context, client, i int) error) sample {
	counted := to > 0
	var next, errs atomic.Int64
	next.Store(int64(from))
	lat := make([][]time.Duration, conc)
	done := make([][]time.Duration, conc) // when each success ended, from start
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if (counted && i >= to) || (!counted && time.Now().After(deadline)) {
					return
				}
				t0 := time.Now()
				if err := op(ctx, w, i); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				end := time.Now()
				lat[w] = append(lat[w], end.Sub(t0))
				done[w] = append(done[w], end.Sub(start))
			}
		})
	}
	wg.Wait()
	s := sample{lat: slices.Concat(lat...), elapsed: time.Since(start), errs: int(errs.Load())}
	if !counted {
		s.steadyOps, s.steadyDur = steadyWindow(slices.Concat(done...), conc, d)
	}
	s.firstErr, _ = firstErr.Load().(error)
	return s
}

// steadyWindow picks, from the completion times of a time-boxed round,
// the part in which every client was busy: it opens at the conc-th
// completion (by then the clients that started together have spread out)
// and closes at the deadline, after which clients stop taking new work and
// the round drains with cores left idle. Rates are the operations
// completed inside it over its length. A round too short to have one, or
// whose window holds no completion (a loaded machine, where each operation
// outlasts the window), answers zero, and the figure falls back to all
// operations over all time rather than report a rate of zero.
func steadyWindow(done []time.Duration, conc int, d time.Duration) (int, time.Duration) {
	slices.Sort(done)
	if len(done) <= conc || done[conc-1] >= d {
		return 0, 0
	}
	open := done[conc-1]
	n := 0
	for _, t := range done[conc:] {
		if t <= d {
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return n, d - open
}

func meanCosts(cs []Costs) Costs {
	var m Costs
	for _, c := range cs {
		m.DecryptMs += c.DecryptMs
		m.SignMs += c.SignMs
		m.EncryptMs += c.EncryptMs
		m.VerifyMs += c.VerifyMs
		m.PasswordMs += c.PasswordMs
		m.PasswordParallelPerSec += c.PasswordParallelPerSec
		m.CallParallelPerSec += c.CallParallelPerSec
		m.VerifyParallelPerSec += c.VerifyParallelPerSec
		m.TransferParallelPerSec += c.TransferParallelPerSec
	}
	n := float64(len(cs))
	m.DecryptMs, m.SignMs, m.EncryptMs, m.VerifyMs = m.DecryptMs/n, m.SignMs/n, m.EncryptMs/n, m.VerifyMs/n
	m.PasswordMs, m.PasswordParallelPerSec = m.PasswordMs/n, m.PasswordParallelPerSec/n
	m.CallParallelPerSec, m.VerifyParallelPerSec = m.CallParallelPerSec/n, m.VerifyParallelPerSec/n
	m.TransferParallelPerSec /= n
	return m
}

func timeIt(n int, f func()) float64 {
	f() // warm
	start := time.Now()
	for range n {
		f()
	}
	return float64(time.Since(start).Microseconds()) / 1000 / float64(n)
}

// parallelRate runs f n times on each of g goroutines and returns the
// aggregate rate per second.
func parallelRate(g, n int, f func()) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for range g {
		wg.Go(func() {
			for range n {
				f()
			}
		})
	}
	wg.Wait()
	return float64(g*n) / time.Since(start).Seconds()
}
