package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/countstore"
	"github.com/openacquire/acquire/runtime/store/filestore"
)

// Cost per operation (issue 23, docs/design/cost.md): every service runs
// on a store that counts its requests by class, behind an HTTP handler
// that counts function invocations, and each operation runs CostConfig.Ops
// times after one uncounted warm-up (a warm instance's caches, as a cloud
// function's between calls); the figures are means per operation.
const (
	// DefaultCostOps is how often each operation is counted.
	DefaultCostOps = 4
	// DefaultCostFileBytes is the file the upload and download lines
	// move: four chunks of the default 8 MiB, so the per-upload calls
	// (begin, commit) are spread as over a real file, not one chunk.
	DefaultCostFileBytes = 32 << 20
	// MaxCostOps bounds a run.
	MaxCostOps = 1000
)

// CostConfig of a cost run.
type CostConfig struct {
	Ops       int   // times each operation is counted (0: DefaultCostOps)
	FileBytes int64 // size of the file the upload and download lines move (0: DefaultCostFileBytes)
}

// Requests are store requests per operation, by class, as a cloud bills
// them (a conditional put is a put with a condition header; a delete is
// free on all three clouds but still counted).
type Requests struct {
	Put     float64 `json:"put"`
	CondPut float64 `json:"conditional_put"`
	Get     float64 `json:"get"`
	List    float64 `json:"list"`
	Delete  float64 `json:"delete"`
}

// Total is every request.
func (r Requests) Total() float64 { return r.Put + r.CondPut + r.Get + r.List + r.Delete }

func perOp(c countstore.Counts, n float64) Requests {
	return Requests{Put: float64(c.Put) / n, CondPut: float64(c.CondPut) / n, Get: float64(c.Get) / n,
		List: float64(c.List) / n, Delete: float64(c.Delete) / n}
}

// OpCost is one operation's requests, invocations and price.
type OpCost struct {
	Name string `json:"name"`
	// Per is what one unit is: "operation", or "MiB" for file bytes.
	Per     string `json:"per"`
	Samples int    `json:"samples"`
	// Store is the services' own store requests per unit, all services
	// together; ByService splits them.
	Store     Requests            `json:"store"`
	ByService map[string]Requests `json:"by_service"`
	// Invocations are function invocations per unit (service calls,
	// including those services make to each other), by service.
	Invocations       float64            `json:"invocations"`
	InvocationsByKind map[string]float64 `json:"invocations_by_service"`
	// ChunkPuts and ChunkGets are file chunks moved per unit through
	// chunk URLs: on the clouds the client sends them straight to the
	// store (one put or get each, no invocation); on local files the host
	// serves them, and the store requests it makes for that are left out
	// of Store.
	ChunkPuts float64 `json:"chunk_puts"`
	ChunkGets float64 `json:"chunk_gets"`
	// InvokeMs is the mean time a service took per invocation here (this
	// machine, shared cores): the duration the price model bills.
	InvokeMs float64 `json:"invoke_ms"`
	// USDPerMillion is the price of a million units on each cloud
	// (Prices), storage requests and invocations only.
	USDPerMillion map[string]float64 `json:"usd_per_million"`
}

// CloudRequests are the store requests a cloud would bill per unit: the
// services' own plus the chunks' straight puts and gets.
func (o OpCost) CloudRequests() Requests {
	r := o.Store
	r.Put += o.ChunkPuts
	r.Get += o.ChunkGets
	return r
}

// CostReport is a whole cost run.
type CostReport struct {
	Store      string   `json:"store"`
	Ops        int      `json:"ops_per_line"`
	FileBytes  int64    `json:"file_bytes"`
	PricesAsOf string   `json:"prices_as_of"`
	Prices     []Price  `json:"prices"`
	Operations []OpCost `json:"operations"`
}

// RunCost counts every operation's requests on a fresh host.
func RunCost(ctx context.Context, cfg CostConfig, progress func(string)) (*CostReport, error) {
	if cfg.Ops == 0 {
		cfg.Ops = DefaultCostOps
	}
	if cfg.FileBytes == 0 {
		cfg.FileBytes = DefaultCostFileBytes
	}
	if cfg.Ops < 1 || cfg.Ops > MaxCostOps {
		return nil, fmt.Errorf("bench: %d operations per line (want 1 to %d)", cfg.Ops, MaxCostOps)
	}
	if cfg.FileBytes < 1<<20 || cfg.FileBytes > 1<<30 {
		return nil, fmt.Errorf("bench: a cost file of %d bytes (want 1 MiB to 1 GiB)", cfg.FileBytes)
	}
	if progress == nil {
		progress = func(string) {}
	}
	env, m, err := startCountedHost(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { fileEnvs.Delete(env); env.close() }()
	rep := &CostReport{Store: "local files, counted", Ops: cfg.Ops, FileBytes: cfg.FileBytes, PricesAsOf: PricesAsOf, Prices: Prices}
	for _, line := range costLines(cfg) {
		progress("cost: " + line.name)
		o, err := m.count(ctx, env, cfg.Ops, line)
		if err != nil {
			return nil, fmt.Errorf("bench: cost of %s: %w", line.name, err)
		}
		rep.Operations = append(rep.Operations, o)
	}
	return rep, nil
}

// costLine is one operation to count: setup (uncounted) makes what it
// needs and answers the operation, which is run once to warm up and then
// ops times counted; check (uncounted) looks at the outcome.
type costLine struct {
	name  string
	per   string
	units float64 // units one operation makes (MiB for files)
	setup func(ctx context.Context, env *hostEnv, ops int) (op func(ctx context.Context, i int) error, check func(ctx context.Context) error, err error)
}

// countingMeter holds the counters of one counted host.
type countingMeter struct {
	stores map[string]*countstore.Counter // by service kind
	chunks countstore.Counter             // store requests serving chunk URLs
	mu     sync.Mutex
	calls  map[string]int64 // invocations by kind
	callNs atomic.Int64
	puts   atomic.Int64 // chunk PUTs served
	gets   atomic.Int64 // chunk GETs served
}

type costSnapshot struct {
	stores     map[string]countstore.Counts
	calls      map[string]int64
	callNs     int64
	puts, gets int64
}

func (m *countingMeter) snapshot() costSnapshot {
	s := costSnapshot{stores: map[string]countstore.Counts{}, calls: map[string]int64{}, callNs: m.callNs.Load(), puts: m.puts.Load(), gets: m.gets.Load()}
	for k, c := range m.stores {
		s.stores[k] = c.Snapshot()
	}
	m.mu.Lock()
	for k, n := range m.calls {
		s.calls[k] = n
	}
	m.mu.Unlock()
	return s
}

// ServeHTTP counts one invocation of the service the path names, or one
// chunk moved through a chunk URL (whose store requests it diverts).
func (m *countingMeter) serve(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if kind == storage.Kind && strings.HasPrefix("/"+rest, storage.DataPath) {
			if r.Method == http.MethodPut {
				m.puts.Add(1)
			} else {
				m.gets.Add(1)
			}
			next.ServeHTTP(w, r.WithContext(countstore.Divert(r.Context(), &m.chunks)))
			return
		}
		start := time.Now()
		next.ServeHTTP(w, r)
		m.callNs.Add(int64(time.Since(start)))
		m.mu.Lock()
		m.calls[kind]++
		m.mu.Unlock()
	})
}

// count runs one line and turns the counters' difference into means.
func (m *countingMeter) count(ctx context.Context, env *hostEnv, ops int, line costLine) (OpCost, error) {
	op, check, err := line.setup(ctx, env, ops+1)
	if err != nil {
		return OpCost{}, err
	}
	if err := op(ctx, 0); err != nil { // warm-up
		return OpCost{}, err
	}
	before := m.snapshot()
	for i := 1; i <= ops; i++ {
		if err := op(ctx, i); err != nil {
			return OpCost{}, err
		}
	}
	after := m.snapshot()
	if check != nil {
		if err := check(ctx); err != nil {
			return OpCost{}, err
		}
	}
	n := float64(ops) * line.units
	o := OpCost{Name: line.name, Per: line.per, Samples: ops, ByService: map[string]Requests{}, InvocationsByKind: map[string]float64{},
		ChunkPuts: float64(after.puts-before.puts) / n, ChunkGets: float64(after.gets-before.gets) / n}
	var all countstore.Counts
	for k, c := range after.stores {
		d := c.Sub(before.stores[k])
		all = all.Add(d)
		if d.Total() > 0 {
			o.ByService[k] = perOp(d, n)
		}
	}
	o.Store = perOp(all, n)
	var calls int64
	for k, c := range after.calls {
		if d := c - before.calls[k]; d > 0 {
			o.InvocationsByKind[k] = float64(d) / n
			calls += d
		}
	}
	o.Invocations = float64(calls) / n
	if calls > 0 {
		o.InvokeMs = float64(after.callNs-before.callNs) / float64(calls) / 1e6
	}
	o.USDPerMillion = map[string]float64{}
	for _, p := range Prices {
		o.USDPerMillion[p.Cloud] = p.PerMillion(o)
	}
	return o, nil
}

// countScheme is the store URL scheme of counted hosts in this process.
const countScheme = "benchcount"

var (
	countOnce sync.Once
	countSets sync.Map // host name → *countSet
	countSeq  atomic.Int64
)

// countSet is one counted host's stores: a folder per service kind, each
// behind its own counter.
type countSet struct {
	dir string
	m   *countingMeter
	mu  sync.Mutex
}

func openCounted(_ context.Context, u *url.URL) (store.Driver, error) {
	v, ok := countSets.Load(u.Host)
	if !ok {
		return nil, fmt.Errorf("%w: no counted store %q", store.ErrInvalidArgument, u.Host)
	}
	set := v.(*countSet)
	kind := strings.Trim(u.Query().Get("prefix"), "/")
	if kind == "" || strings.ContainsAny(kind, "/.") {
		return nil, fmt.Errorf("%w: counted store without a service kind", store.ErrInvalidArgument)
	}
	d, err := filestore.Open(filepath.Join(set.dir, kind))
	if err != nil {
		return nil, err
	}
	set.mu.Lock()
	defer set.mu.Unlock()
	c := set.m.stores[kind]
	if c == nil {
		c = &countstore.Counter{}
		set.m.stores[kind] = c
	}
	return countstore.Wrap(d, c), nil
}

// startCountedHost serves every service on counted local-file stores,
// behind the invocation counter.
func startCountedHost(ctx context.Context) (*hostEnv, *countingMeter, error) {
	countOnce.Do(func() { store.RegisterScheme(countScheme, openCounted) })
	dir, err := os.MkdirTemp("", "acquire-cost-")
	if err != nil {
		return nil, nil, err
	}
	m := &countingMeter{stores: map[string]*countstore.Counter{}, calls: map[string]int64{}}
	name := fmt.Sprintf("run%d", countSeq.Add(1))
	countSets.Store(name, &countSet{dir: dir, m: m})
	env := &hostEnv{tmp: dir, store: countScheme + "://" + name}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	env.base = "http://" + ln.Addr().String()
	h, err := host.New(ctx, host.Config{StoreURL: env.store, PublicURL: env.base, Secret: "Cost-Secret-" + fmt.Sprint(time.Now().UnixNano())})
	if err != nil {
		_ = ln.Close()
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	env.h = h
	env.srv = &http.Server{Handler: m.serve(h.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = env.srv.Serve(ln) }()
	if err := h.Register(ctx); err != nil {
		env.close()
		return nil, nil, err
	}
	return env, m, nil
}

// randomBytes is size incompressible bytes.
func randomBytes(size int64) ([]byte, error) {
	b := make([]byte, size)
	_, err := rand.Read(b)
	return b, err
}
