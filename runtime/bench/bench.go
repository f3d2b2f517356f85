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
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
)

// Config of a benchmark run.
type Config struct {
	Duration    time.Duration // per measured level
	Concurrency []int         // empty: each step's own default levels
	StoreURL    string        // default: a temp folder (file://)
	Logins      int           // login approvals per level
	Steps       []string      // steps to run, by name; empty: all
	FileBytes   int64         // size of the file the files step moves (0: DefaultFileBytes)
	// JobLauncher is the jobs step's agent.Config.Launcher: the acquire
	// binary's own path, so jobs run supervised as under `acquire cluster
	// agent`; empty starts them directly (tests).
	JobLauncher string
	// Anchors are the cloud SDKs' own uploaders the anchors step measures
	// the storage service beside (adapters build them); none: not run.
	Anchors []FileAnchor
}

// stepFunc measures one family of figures at each of cfg.Concurrency.
type stepFunc func(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error

// steps are run in this order. A step's default levels apply when no
// levels are given: transfers need 16 and 64 clients to show how the
// ledger behaves as writers pile onto one account. Adding a step is one
// line here.
var steps = []struct {
	name    string
	clients []int
	run     stepFunc
}{
	{"ledger", []int{16, 64}, benchLedger},
	{"calls", []int{1, 32}, benchCalls},
	{"logins", []int{1, 32}, benchLogins},
	{"verify", []int{1, 32}, benchVerify},
	{"transfers", []int{1, 16, 64}, benchTransfers},
	{"fastpath", []int{16, 64}, benchFastPath},
	{"files", []int{1}, benchFiles},
	{"anchors", []int{1}, benchAnchors},
	{"jobs", []int{1, 4}, benchJobs},
	{"xregion", []int{1, 16}, benchXRegion},
}

// StepNames lists the steps in the order Run runs them.
func StepNames() []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.name
	}
	return out
}

// DefaultClients is a step's concurrency levels when Config.Concurrency is
// empty (nil for an unknown step).
func DefaultClients(step string) []int {
	for _, s := range steps {
		if s.name == step {
			return slices.Clone(s.clients)
		}
	}
	return nil
}

// selected checks the asked step names and says whether each step runs.
func selected(names []string) (func(string) bool, error) {
	known := StepNames()
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("bench: unknown step %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	return func(step string) bool { return len(names) == 0 || slices.Contains(names, step) }, nil
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
	Costs       Costs   `json:"costs"`              // mean of samples interleaved with this figure
	Target      float64 `json:"target,omitempty"`   // required OfBound, or a floor in ops/s when BoundPerSec is 0 (ledger)
	// CPUms is the process's CPU time per operation (median), client and
	// host together; file transfers only.
	CPUms float64 `json:"cpu_ms,omitempty"`
	// Floor is a required rate in ops/s, beside whatever bound the figure has.
	Floor float64 `json:"floor_per_second,omitempty"`
}

// Costs are the per-operation CPU costs measured in this run.
type Costs struct {
	DecryptMs  float64 `json:"rsa_decrypt_ms"`
	SignMs     float64 `json:"rsa_sign_ms"`
	EncryptMs  float64 `json:"rsa_encrypt_ms"`
	VerifyMs   float64 `json:"rsa_verify_ms"`
	PasswordMs float64 `json:"argon2id_ms"`
	// PasswordParallelPerSec is argon2id hashes per second with one
	// goroutine per core: the hash is memory-hard, so cores running it
	// together share memory bandwidth and do less than cores × one.
	PasswordParallelPerSec float64 `json:"argon2id_parallel_per_second"`
	// CallParallelPerSec and VerifyParallelPerSec are the same for a call's
	// private-key work (2 decrypts + 1 sign) and for one verification: two
	// vCPUs running RSA together also do less than twice one.
	CallParallelPerSec   float64 `json:"call_rsa_parallel_per_second"`
	VerifyParallelPerSec float64 `json:"verify_parallel_per_second"`
	// TransferParallelPerSec is the same for a transfer's RSA work: the
	// call's, plus the caller signing its authorisation and the service
	// verifying it.
	TransferParallelPerSec float64 `json:"transfer_rsa_parallel_per_second"`
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
	runs, err := selected(cfg.Steps)
	if err != nil {
		return nil, err
	}
	if cfg.Logins == 0 {
		cfg.Logins = 240
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
	if env.meter, err = newMeter(); err != nil {
		return nil, err
	}
	env.meter.rsa(&rep.Costs)
	env.meter.transfer(&rep.Costs)
	env.meter.password(&rep.Costs)
	for _, s := range steps {
		if !runs(s.name) {
			continue
		}
		stepCfg := cfg
		if len(stepCfg.Concurrency) == 0 {
			stepCfg.Concurrency = s.clients
		}
		if err := s.run(ctx, env, stepCfg, rep, progress); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

type hostEnv struct {
	meter *meter
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

// meter times the private- and public-key operations and the password
// hash one at a time. Figures re-measure just before they run, so each
// bound reflects the machine as it is then (shared machines drift).
type meter struct {
	key  *crypto.PrivateKey
	ct   []byte
	sig  []byte
	msg  []byte
	hash string
}

func newMeter() (*meter, error) {
	k, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	m := &meter{key: k, msg: make([]byte, 600)} // an envelope is hybrid: OAEP of a key + Fernet
	if m.ct, err = k.Public().Encrypt(m.msg); err != nil {
		return nil, err
	}
	if m.sig, err = k.Sign(m.msg); err != nil {
		return nil, err
	}
	m.hash, err = crypto.HashPassword("bench password", crypto.DefaultPasswordParams)
	return m, err
}

// rsa samples the RSA costs: about 0.15 s of work, short enough to
// interleave with a figure's run many times.
func (m *meter) rsa(c *Costs) {
	c.DecryptMs = timeIt(25, func() { _, _ = m.key.Decrypt(m.ct) })
	c.SignMs = timeIt(25, func() { _, _ = m.key.Sign(m.ct) })
	c.EncryptMs = timeIt(75, func() { _, _ = m.key.Public().Encrypt(m.msg) })
	c.VerifyMs = timeIt(75, func() { _ = m.key.Public().Verify(m.msg, m.sig) })
	c.CallParallelPerSec = parallelRate(runtime.NumCPU(), 10, func() {
		_, _ = m.key.Decrypt(m.ct)
		_, _ = m.key.Decrypt(m.ct)
		_, _ = m.key.Sign(m.ct)
	})
	c.VerifyParallelPerSec = parallelRate(runtime.NumCPU(), 500, func() { _ = m.key.Public().Verify(m.msg, m.sig) })
}

// bound is how many operations per second n clients can drive: one
// core's rate when there are fewer clients than cores, else the rate
// measured with every core working at once.
func bound(n, cores int, oneMs, parallelPerSec float64) float64 {
	if n < cores || parallelPerSec == 0 {
		return busyCores(n, cores) * 1000 / oneMs
	}
	return parallelPerSec
}

func (m *meter) password(c *Costs) {
	verify := func() { _, _ = crypto.VerifyPassword(m.hash, "bench password") }
	c.PasswordMs = timeIt(4, verify)
	c.PasswordParallelPerSec = parallelRate(runtime.NumCPU(), 4, verify)
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
	for _, n := range cfg.Concurrency {
		progress(fmt.Sprintf("encrypted calls, %d concurrent", n))
		f, costs, err := measured(ctx, env.meter.rsa, workload{conc: n, d: cfg.Duration, rounds: timedRounds,
			op: func(ctx context.Context, _, _ int) error { return c.Call(ctx, url, "ping", struct{}{}, nil) }})
		if err != nil {
			return err
		}
		bound := bound(n, rep.Cores, 2*costs.DecryptMs+costs.SignMs, costs.CallParallelPerSec)
		f.Name, f.BoundName, f.BoundPerSec, f.Target = "encrypted calls", "2 RSA decrypts + 1 RSA sign per call, on one core or all cores at once", bound, targetAt(n, rep.Cores, 0.75)
		f.Costs = costs
		rep.Figures = append(rep.Figures, withRatio(f))
	}
	return nil
}

// targetAt applies a throughput target only where the clients can keep
// every core busy. The targets are throughput per core (docs/design/architecture.md: about
// 340 calls/s on 2 cores, about 21 logins/s per core); one client waits
// for each reply, so its figure also pays the call's serial latency
// (HTTP, store flushes) that the crypto bound leaves out. One-client
// figures are printed beside their bound without a target.
func targetAt(n, cores int, target float64) float64 {
	if n < cores {
		return 0
	}
	return target
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
