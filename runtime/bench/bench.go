// Package bench measures Acquire's throughput and latency through a real
// loopback HTTP host, beside the crypto bound each figure is made of,
// measured in the same run on the same machine.
package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
)

// Config of a benchmark run.
type Config struct {
	Duration    time.Duration // per measured level
	Concurrency []int
	StoreURL    string // default: a temp folder (file://)
	Logins      int    // login approvals per level
}

// Figure is one measured throughput beside its bound.
type Figure struct {
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency"`
	Ops         int     `json:"ops"`
	Errors      int     `json:"errors"`
	PerSecond   float64 `json:"per_second"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	BoundPerSec float64 `json:"bound_per_second,omitempty"`
	BoundName   string  `json:"bound,omitempty"`
	OfBound     float64 `json:"of_bound,omitempty"` // PerSecond / BoundPerSec
	Target      float64 `json:"target,omitempty"`   // required OfBound, or a floor in ops/s when BoundPerSec is 0
}

// Costs are the per-operation CPU costs measured in this run.
type Costs struct {
	DecryptMs  float64 `json:"rsa_decrypt_ms"`
	SignMs     float64 `json:"rsa_sign_ms"`
	EncryptMs  float64 `json:"rsa_encrypt_ms"`
	VerifyMs   float64 `json:"rsa_verify_ms"`
	PasswordMs float64 `json:"argon2id_ms"`
}

// Report is the whole run.
type Report struct {
	Cores   int      `json:"cores"`
	GoMaxP  int      `json:"gomaxprocs"`
	Store   string   `json:"store"`
	Costs   Costs    `json:"costs"`
	Figures []Figure `json:"figures"`
}

// Run measures everything.
func Run(ctx context.Context, cfg Config, progress func(string)) (*Report, error) {
	if cfg.Duration == 0 {
		cfg.Duration = 5 * time.Second
	}
	if len(cfg.Concurrency) == 0 {
		cfg.Concurrency = []int{1, 32}
	}
	if cfg.Logins == 0 {
		cfg.Logins = 60
	}
	if progress == nil {
		progress = func(string) {}
	}
	env, err := startHost(ctx, cfg.StoreURL)
	if err != nil {
		return nil, err
	}
	defer env.close()
	rep := &Report{Cores: runtime.NumCPU(), GoMaxP: runtime.GOMAXPROCS(0), Store: env.store}
	progress("measuring crypto costs")
	if rep.Costs, err = measureCosts(); err != nil {
		return nil, err
	}
	for _, step := range []func(context.Context, *hostEnv, Config, *Report, func(string)) error{benchCalls, benchLogins, benchVerify} {
		if err := step(ctx, env, cfg, rep, progress); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

type hostEnv struct {
	h     *host.Host
	srv   *http.Server
	base  string
	store string
	tmp   string
}

func (e *hostEnv) close() {
	_ = e.srv.Close()
	e.h.Close()
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
}

func startHost(ctx context.Context, storeURL string) (*hostEnv, error) {
	env := &hostEnv{}
	if storeURL == "" {
		dir, err := os.MkdirTemp("", "acquire-bench-")
		if err != nil {
			return nil, err
		}
		env.tmp, storeURL = dir, "file://"+dir
	}
	env.store = storeURL
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	env.base = "http://" + ln.Addr().String()
	h, err := host.New(ctx, host.Config{StoreURL: storeURL, PublicURL: env.base, Secret: "Bench-Secret-" + fmt.Sprint(time.Now().UnixNano())})
	if err != nil {
		return nil, err
	}
	env.h = h
	env.srv = &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = env.srv.Serve(ln) }()
	return env, h.Register(ctx)
}

// measureCosts times each private- and public-key operation one at a
// time, so the bound reflects this machine now.
func measureCosts() (Costs, error) {
	k, err := crypto.GenerateKey()
	if err != nil {
		return Costs{}, err
	}
	msg := make([]byte, 600) // an envelope is hybrid: OAEP of a key + Fernet
	ct, err := k.Public().Encrypt(msg)
	if err != nil {
		return Costs{}, err
	}
	sig, _ := k.Sign(msg)
	var c Costs
	c.DecryptMs = timeIt(200, func() { _, _ = k.Decrypt(ct) })
	c.SignMs = timeIt(200, func() { _, _ = k.Sign(ct) })
	c.EncryptMs = timeIt(500, func() { _, _ = k.Public().Encrypt(msg) })
	c.VerifyMs = timeIt(500, func() { _ = k.Public().Verify(msg, sig) })
	hash, err := crypto.HashPassword("bench password", crypto.DefaultPasswordParams)
	if err != nil {
		return Costs{}, err
	}
	c.PasswordMs = timeIt(20, func() { _, _ = crypto.VerifyPassword(hash, "bench password") })
	return c, nil
}

func timeIt(n int, f func()) float64 {
	f() // warm
	start := time.Now()
	for range n {
		f()
	}
	return float64(time.Since(start).Microseconds()) / 1000 / float64(n)
}

// load runs op from conc goroutines until d passes (or until total ops
// when total > 0) and collects latencies.
func load(ctx context.Context, conc int, d time.Duration, total int, op func(ctx context.Context, i int) error) (Figure, error) {
	var next, errs atomic.Int64
	lat := make([][]time.Duration, conc)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if (total > 0 && i >= total) || (total == 0 && time.Now().After(deadline)) {
					return
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	f := Figure{Concurrency: conc, Ops: len(all), Errors: int(errs.Load()), PerSecond: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		f.P50ms = ms(all[len(all)/2])
		f.P99ms = ms(all[min(len(all)-1, len(all)*99/100)])
	}
	if e, ok := firstErr.Load().(error); ok && f.Errors > 0 {
		return f, fmt.Errorf("bench: %d of %d operations failed, first: %w", f.Errors, f.Errors+f.Ops, e)
	}
	return f, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchCalls(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	c := call.NewClient(&call.MemoryPins{})
	url := env.h.ServiceURL("identity")
	if err := c.Call(ctx, url, "ping", struct{}{}, nil); err != nil {
		return err
	}
	// A call costs the service one private decrypt and one private sign,
	// and the caller one private decrypt of the reply.
	perCall := 2*rep.Costs.DecryptMs + rep.Costs.SignMs
	for _, n := range cfg.Concurrency {
		bound := busyCores(n, rep.Cores) * 1000 / perCall
		progress(fmt.Sprintf("encrypted calls, %d concurrent", n))
		f, err := load(ctx, n, cfg.Duration, 0, func(ctx context.Context, _ int) error {
			return c.Call(ctx, url, "ping", struct{}{}, nil)
		})
		if err != nil {
			return err
		}
		f.Name, f.BoundName, f.BoundPerSec, f.Target = "encrypted calls", "min(clients, cores) / (2 RSA decrypt + 1 RSA sign)", bound, 0.75
		rep.Figures = append(rep.Figures, withRatio(f))
	}
	return nil
}

// busyCores is how many cores n clients can keep busy: one client waits
// for each reply, so its calls run one at a time.
func busyCores(n, cores int) float64 { return float64(min(n, cores)) }

func withRatio(f Figure) Figure {
	if f.BoundPerSec > 0 {
		f.OfBound = f.PerSecond / f.BoundPerSec
	}
	return f
}
