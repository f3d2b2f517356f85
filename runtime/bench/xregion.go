package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/settlement"
)

// XRegionRTT is the round trip the delay proxy adds between the two
// regions of the xregion step: real regions are about that far apart.
const XRegionRTT = 50 * time.Millisecond

// benchXRegion measures cross-region transfers beside same-region ones on
// the same host, users and clients. The peer region is a second host on
// its own store, reached only through a delay proxy, so every call from
// here to there pays XRegionRTT; this host's clients reach it directly.
func benchXRegion(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	users := slices.Max(cfg.Concurrency)
	progress("xregion: starting the peer region behind a 50 ms round-trip proxy")
	xr, err := startRegions(ctx, env.store)
	if err != nil {
		return err
	}
	defer xr.close()
	progress(fmt.Sprintf("xregion: registering %d users and funding their accounts", users))
	te, err := newTransferEnv(ctx, &hostEnv{h: xr.eu.h}, users)
	if err != nil {
		return err
	}
	payees, err := xr.payees(ctx, users)
	if err != nil {
		return err
	}
	measure := func(c *Costs) { env.meter.rsa(c); env.meter.transfer(c) }
	amount, err := ledger.Micros(transferMicros)
	if err != nil {
		return err
	}
	cross := func(ctx context.Context, client, _ int) error {
		p := te.payers[client]
		id := fmt.Sprintf("%s-x%d", te.run, te.ids.Add(1))
		st, err := te.acc.TransferOut(ctx, p.s, accounting.OutTransfer{ID: id, From: p.out, Peer: xr.usAccounting,
			To: payees[client], Amount: amount})
		if err == nil && st.State != settlement.Committed {
			err = fmt.Errorf("bench: cross-region transfer %s is %s", id, st.State)
		}
		return err
	}
	// The first transfer after the regions peered finds neither side's
	// keys of the other cached: both look them up through the home
	// registries. A deployed host's sweep warms them (WarmPeerKeys) within
	// its interval; this is what a transfer before that pays, on its own
	// line so that it is seen and not folded into the 1-client p99.
	progress("xregion: the first cross-region transfer (peer keys not cached yet)")
	first, _, err := measured(ctx, func(*Costs) {}, workload{conc: 1, total: 1, rounds: 1, op: cross})
	if err != nil {
		return err
	}
	first.Name = "xregion: first cross-region transfer (keys cold)"
	rep.Figures = append(rep.Figures, first)
	crossOps := first.Ops + first.Errors
	for _, n := range cfg.Concurrency {
		progress(fmt.Sprintf("xregion: same-region transfers, %d concurrent", n))
		local, lc, err := measured(ctx, measure, levelLoad(te.workload(n, cfg.Duration, te.distinctPayee), cfg.Duration))
		if err != nil {
			return err
		}
		progress(fmt.Sprintf("xregion: cross-region transfers (+50 ms round trip), %d concurrent", n))
		far, cc, err := measured(ctx, measure, levelLoad(workload{conc: n, d: cfg.Duration, rounds: timedRounds, op: cross}, cfg.Duration))
		if err != nil {
			return err
		}
		local.Name, local.Costs = "xregion: same-region transfers", lc
		far.Name, far.Costs = "xregion: cross-region transfers (+50 ms RTT)", cc
		// Design goal: cross p50 ≈ same p50 + one XRegionRTT (the one call
		// to the peer); the figures sit side by side to read it off.
		rep.Figures = append(rep.Figures, local, far)
		crossOps += far.Ops + far.Errors
	}
	return xr.agree(ctx, crossOps)
}

// shortLevel: a level shorter than this counts operations instead of
// timing them; a cross-region transfer takes a round trip and more, and a
// short timed round would hold too few of them to give a rate (tests).
const shortLevel = 2 * time.Second

// levelLoad turns a timed load into a counted one of 3 operations per
// client when the level is short.
func levelLoad(w workload, d time.Duration) workload {
	if d < shortLevel {
		w.d, w.total, w.rounds = 0, 3*w.conc, 1
	}
	return w
}

// regions are the two hosts of the xregion step.
type regions struct {
	eu, us       *regionHost
	proxy        *DelayProxy
	usAccounting string // the peer's accounting URL, through the proxy
	tmp          []string
}

type regionHost struct {
	h   *host.Host
	srv *http.Server
}

func (r *regions) close() {
	for _, x := range []*regionHost{r.eu, r.us} {
		if x != nil {
			_ = x.srv.Close()
			x.h.Close()
		}
	}
	if r.proxy != nil {
		_ = r.proxy.Close()
	}
	for _, d := range r.tmp {
		_ = os.RemoveAll(d)
	}
}

// startRegions starts "eu" (reached directly) and "us" (reached through
// the delay proxy), each listing the other as its settlement peer, each
// on its own store beside the bench's.
func startRegions(ctx context.Context, baseStore string) (*regions, error) {
	r := &regions{}
	lnEU, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lnUS, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = lnEU.Close()
		return nil, err
	}
	if r.proxy, err = NewDelayProxy(lnUS.Addr().String(), XRegionRTT/2); err != nil {
		_, _ = lnEU.Close(), lnUS.Close()
		return nil, err
	}
	euURL, usURL := "http://"+lnEU.Addr().String(), "http://"+r.proxy.Addr()
	r.usAccounting = usURL + "/" + accounting.Kind
	secret := "Bench-Secret-" + fmt.Sprint(time.Now().UnixNano())
	start := func(ln net.Listener, public, name, peer string) (*regionHost, error) {
		store, err := r.store(baseStore, name)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		h, err := host.New(ctx, host.Config{StoreURL: store, PublicURL: public, Secret: secret, SettlementPeers: []string{peer}})
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		x := &regionHost{h: h, srv: &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}}
		go func() { _ = x.srv.Serve(ln) }()
		return x, h.Register(ctx)
	}
	if r.eu, err = start(lnEU, euURL, "eu", r.usAccounting); err != nil {
		r.close()
		return nil, err
	}
	if r.us, err = start(lnUS, usURL, "us", euURL+"/"+accounting.Kind); err != nil {
		r.close()
		return nil, err
	}
	// The regions peer, so each checks the other's keys through its home
	// registry (the default; checked keys are cached, so this costs the
	// measured transfers nothing after the first).
	if _, err = r.eu.h.Registry.AddPeer(ctx, usURL+"/"+registry.Kind, "us"); err == nil {
		_, err = r.us.h.Registry.AddPeer(ctx, euURL+"/"+registry.Kind, "eu")
	}
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// store is a region's store: a fresh temp folder when the bench runs on
// one (or on none: the Go benchmarks), else a sub-store of the bench's.
func (r *regions) store(base, name string) (string, error) {
	if u, err := host.SubStoreURL(base, "xregion-"+name+"-"+fmt.Sprint(time.Now().UnixNano())); err == nil && base != "" && !isFile(base) {
		return u, nil
	}
	dir, err := os.MkdirTemp("", "acquire-bench-"+name+"-")
	if err != nil {
		return "", err
	}
	r.tmp = append(r.tmp, dir)
	return "file://" + dir, nil
}

func isFile(u string) bool { return len(u) >= 7 && u[:7] == "file://" }

// payees makes one account per client at the peer, owned by one user
// there (each client pays its own, as the same-region figure does).
func (r *regions) payees(ctx context.Context, n int) ([]string, error) {
	if n > accounting.MaxAccountsPerUser {
		return nil, fmt.Errorf("bench: at most %d cross-region clients", accounting.MaxAccountsPerUser)
	}
	te, err := newTransferEnv(ctx, &hostEnv{h: r.us.h}, 0)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		a, err := te.acc.CreateAccount(ctx, te.admin, fmt.Sprintf("in-%d", i), ledger.Zero)
		if err != nil {
			return nil, err
		}
		out[i] = a.ID
	}
	return out, nil
}

// agree checks the run: nothing in flight, the positions cancel, and they
// hold at most what the cross-region operations sent (failed ones may
// have been returned).
func (r *regions) agree(ctx context.Context, ops int) error {
	eu, err := r.eu.h.Accounting.Settler().Position(ctx, r.usAccounting)
	if err != nil {
		return err
	}
	us, err := r.us.h.Accounting.Settler().Position(ctx, r.eu.h.ServiceURL(accounting.Kind))
	if err != nil {
		return err
	}
	sum, err := eu.Owed.Add(us.Owed)
	switch {
	case err != nil || !sum.IsZero():
		return fmt.Errorf("bench: settlement positions disagree: eu owes %s, us owes %s", eu.Owed, us.Owed)
	case !eu.InFlight.IsZero() || !us.InFlight.IsZero():
		return fmt.Errorf("bench: money still in flight: %s / %s", eu.InFlight, us.InFlight)
	case eu.Owed.MicroUnits() > int64(ops)*transferMicros || eu.Owed.IsZero() && ops > 0:
		return fmt.Errorf("bench: eu owes %s after %d cross-region transfers", eu.Owed, ops)
	}
	return nil
}

// DelayProxy forwards TCP connections to a target, delivering every byte
// in each direction a fixed delay after it arrived (one-way latency), so
// a request and its answer pay twice the delay: a round trip.
type DelayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

// NewDelayProxy listens on 127.0.0.1 (an ephemeral port) and forwards to
// target with delay each way.
func NewDelayProxy(target string, delay time.Duration) (*DelayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &DelayProxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	return p, nil
}

// Addr is where the proxy listens (host:port).
func (p *DelayProxy) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy and its connections.
func (p *DelayProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *DelayProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *DelayProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(in) })
	}
}

func (p *DelayProxy) forward(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = in.Close()
		return
	}
	p.track(in, true)
	p.track(out, true)
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(out, in) })
	wg.Go(func() { p.pipe(in, out) })
	wg.Wait()
	_, _ = in.Close(), out.Close()
	p.track(in, false)
	p.track(out, false)
}

// chunk is bytes read at a time, to be written delay later.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst, each chunk delay after it was read; the reader
// never waits for the writer, so latency adds, not throughput.
func (p *DelayProxy) pipe(dst, src net.Conn) {
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{b: buf[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		if d := time.Until(c.at.Add(p.delay)); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.b); err != nil {
			_ = src.Close()
			for range ch { // drain so the reader ends
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// benchRegionTransfer runs b.N transfers of one client, cross-region or
// not, on the xregion step's two regions.
func benchRegionTransfer(b interface {
	Fatal(...any)
	ResetTimer()
	Loop() bool
}, cross bool) {
	ctx := context.Background()
	xr, err := startRegions(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	defer xr.close()
	te, err := newTransferEnv(ctx, &hostEnv{h: xr.eu.h}, 1)
	if err != nil {
		b.Fatal(err)
	}
	payees, err := xr.payees(ctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	amount, err := ledger.Micros(transferMicros)
	if err != nil {
		b.Fatal(err)
	}
	p := te.payers[0]
	b.ResetTimer()
	for b.Loop() {
		if !cross {
			err = te.pay(ctx, p.s, p.out, te.distinctPayee(0))
		} else {
			_, err = te.acc.TransferOut(ctx, p.s, accounting.OutTransfer{ID: fmt.Sprintf("%s-x%d", te.run, te.ids.Add(1)),
				From: p.out, Peer: xr.usAccounting, To: payees[0], Amount: amount})
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
