package acctest

// The bank test, in the Jepsen style: several `acquire host` processes share
// one local-files store behind a round-robin proxy; clients move money
// between a few accounts while a driver SIGKILLs and restarts hosts at
// random; at the end the ledger is read straight from the store and every
// invariant is checked.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

const (
	bankHosts    = 3
	bankUsers    = 4
	bankClients  = 6
	bankDeposit  = 1000 // units deposited into each user's account
	bankMaxMove  = 150  // a transfer moves 1..bankMaxMove units: some are refused
	bankAttempts = 5    // calls per transfer id before the client gives up on it
)

// rrTransport sends each request to the next host in turn; when a host
// cannot be reached it tries the following one, so a killed host costs a
// retry, not an error.
type rrTransport struct {
	hosts []string // host:port of each acquire host
	next  atomic.Uint64
	rt    http.RoundTripper
	// failed counts forwards that found their host dead (refused, or cut
	// off mid-request by a kill) and went on to the next host.
	failed atomic.Int64
}

func (p *rrTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	start := p.next.Add(1)
	var err error
	for i := range uint64(len(p.hosts)) {
		out := req.Clone(req.Context())
		out.URL.Host = p.hosts[(start+i)%uint64(len(p.hosts))]
		out.Host = out.URL.Host
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		var resp *http.Response
		if resp, err = p.rt.RoundTrip(out); err == nil {
			return resp, nil
		}
		p.failed.Add(1)
		if req.Context().Err() != nil {
			break
		}
	}
	return nil, err
}

// bankHost is one host slot: a fixed port, restarted in place.
type bankHost struct {
	addr string
	args []string
	env  []string
	mu   sync.Mutex
	proc *hostProc
}

// start runs the host and waits for its "ready" line. It does not call
// t.Fatal, so the killer goroutine may use it.
func (b *bankHost) start(ctx context.Context) error {
	cmd := exec.Command(binary, b.args...)
	cmd.Env = b.env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	h := &hostProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = h.out
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			_, _ = h.out.Write([]byte(line + "\n"))
			if strings.HasPrefix(line, "ready") {
				once.Do(func() { close(ready) })
			}
		}
		h.done <- cmd.Wait()
	}()
	b.mu.Lock()
	b.proc = h
	b.mu.Unlock()
	select {
	case <-ready:
		return nil
	case err := <-h.done:
		h.done <- err
		return fmt.Errorf("host %s exited before ready (%w):\n%s", b.addr, err, h.out)
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return fmt.Errorf("host %s not ready:\n%s", b.addr, h.out)
	}
}

// kill SIGKILLs the host and waits for it to be gone.
func (b *bankHost) kill() {
	b.mu.Lock()
	h := b.proc
	b.mu.Unlock()
	if h == nil || h.cmd.ProcessState != nil {
		return
	}
	_ = h.cmd.Process.Kill()
	err := <-h.done
	h.done <- err
}

func (b *bankHost) stop(t *testing.T) {
	b.mu.Lock()
	h := b.proc
	b.mu.Unlock()
	if h != nil {
		_ = h.stop(t)
	}
}

// bankOutcome is what a client learnt of one transfer id.
type bankOutcome int

const (
	outcomeUnknown  bankOutcome = iota // no definite answer: may or may not have happened
	outcomeApplied                     // acknowledged: the service answered "applied"
	outcomeRefused                     // the service answered insufficient funds
	outcomeConflict                    // the service said the id was reused: a bug
)

type bankTransfer struct {
	id, from, to string
	ledgerID     string // the ledger's name for id, scoped to the payer
	amount       ledger.Amount
	outcome      bankOutcome
	lastErr      error
}

func bankDuration(t *testing.T) time.Duration {
	s := os.Getenv("ACQUIRE_BANK_SECONDS")
	if s == "" {
		return 20 * time.Second
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("ACQUIRE_BANK_SECONDS=%q is not a positive number of seconds", s)
	}
	return time.Duration(n) * time.Second
}

func TestBankUnderHostKills(t *testing.T) {
	if testing.Short() {
		t.Skip("the bank test runs for tens of seconds")
	}
	dur := bankDuration(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	const adminPW = "bank admin password, long enough"
	const userPW = "bank user password, long enough"

	// The proxy first: its address is every host's public URL.
	addrs := make([]string, bankHosts)
	for i := range addrs {
		addrs[i] = freePort(t)
	}
	rr := &rrTransport{hosts: addrs, rt: http.DefaultTransport.(*http.Transport).Clone()}
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.Out.URL.Scheme = "http" },
		Transport: rr,
	})
	defer proxy.Close()
	env := append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "ACQUIRE_SERVICE_SECRET=bank-test-shared-service-secret-"+strconv.Itoa(os.Getpid()),
		"ACQUIRE_ADMIN_PASSWORD="+adminPW)
	hosts := make([]*bankHost, bankHosts)
	for i, addr := range addrs {
		args := []string{"host", "--store", "file://" + dir, "--addr", addr, "--public-url", proxy.URL}
		if i == 0 {
			args = append(args, "--admin", "bank")
		}
		hosts[i] = &bankHost{addr: addr, args: args, env: env}
	}
	for i, h := range hosts {
		sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
		err := h.start(sctx)
		scancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.stop(t) })
		if i == 0 {
			// Later restarts of host 1 need no --admin: the admin exists.
			h.args = h.args[:len(h.args)-2]
		}
	}

	// Set up: the admin, K users with one account each, a deposit into each.
	c := call.NewClient(&call.MemoryPins{})
	c.HTTP.Timeout = 10 * time.Second
	idc := &identity.Client{C: c, URL: proxy.URL + "/identity"}
	acc := &accounting.Client{C: c, URL: proxy.URL + "/accounting"}
	admin := bankAdminLogin(ctx, t, dir, idc)
	deposit, _ := ledger.Units(bankDeposit)
	type user struct {
		s       *identity.Session
		account string
	}
	users := make([]user, bankUsers)
	for i := range users {
		name := fmt.Sprintf("banker%d", i)
		reg, err := idc.Register(ctx, name, userPW)
		if err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		s, _, err := idc.Login(ctx, name, userPW, identity.LoginOptions{RecoveryCode: reg.RecoveryCodes[0]})
		if err != nil {
			t.Fatalf("login %s: %v", name, err)
		}
		info, err := acc.CreateAccount(ctx, s, "bank", ledger.Amount{})
		if err != nil {
			t.Fatalf("create account for %s: %v", name, err)
		}
		if _, err := acc.Deposit(ctx, admin, "bank-deposit-"+strconv.Itoa(i), info.ID, deposit, "bank test"); err != nil {
			t.Fatalf("deposit into %s: %v", info.ID, err)
		}
		users[i] = user{s: s, account: info.ID}
	}

	// The run: clients transfer, the killer kills.
	var (
		mu        sync.Mutex
		transfers []*bankTransfer
		kills     atomic.Int64
		killErr   atomic.Value
	)
	runCtx, stopRun := context.WithTimeout(ctx, dur)
	defer stopRun()
	var wg sync.WaitGroup
	for w := range bankClients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for n := 0; runCtx.Err() == nil; n++ {
				from := rng.IntN(bankUsers)
				to := (from + 1 + rng.IntN(bankUsers-1)) % bankUsers
				amount, _ := ledger.Units(int64(1 + rng.IntN(bankMaxMove)))
				id := fmt.Sprintf("bank-%d-%d", w, n)
				payer := accounting.Owner{IdentityURL: users[from].s.IdentityURL, UserUID: users[from].s.UserUID}
				tr := &bankTransfer{id: id, ledgerID: accounting.TransferID(payer, id), from: users[from].account, to: users[to].account, amount: amount}
				mu.Lock()
				transfers = append(transfers, tr)
				mu.Unlock()
				bankTransferOnce(ctx, acc, users[from].s, tr)
			}
		})
	}
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(99, uint64(time.Now().UnixNano())))
		for {
			select {
			case <-runCtx.Done():
				return
			case <-time.After(2*time.Second + time.Duration(rng.IntN(2000))*time.Millisecond):
			}
			if runCtx.Err() != nil {
				return
			}
			h := hosts[rng.IntN(len(hosts))]
			h.kill()
			kills.Add(1)
			sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
			if err := h.start(sctx); err != nil {
				killErr.Store(err)
			}
			scancel()
		}
	})
	wg.Wait()
	if err, _ := killErr.Load().(error); err != nil {
		t.Fatalf("restarting a host: %v", err)
	}

	// The check, straight on the accounting service's store. Every host is
	// up and idle: no transfer is in flight.
	b, err := store.Open(ctx, "file://"+filepath.Join(dir, "accounting"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	var anomalies []string
	bad := func(format string, args ...any) { anomalies = append(anomalies, fmt.Sprintf(format, args...)) }
	halfBefore := 0
	if rep, err := l.Audit(ctx); errors.Is(err, ledger.ErrAudit) {
		halfBefore = len(rep.Anomalies) // transfers a kill left half-applied
	} else if err != nil {
		t.Fatal(err)
	}
	acked, refused, unknown := 0, 0, 0
	for _, tr := range transfers {
		res, err := l.Complete(ctx, tr.ledgerID)
		switch tr.outcome {
		case outcomeApplied:
			acked++
			if err != nil || res.State != ledger.StateApplied {
				bad("acknowledged transfer %s: completes as %q, %v", tr.id, res.State, err)
			}
		case outcomeRefused:
			refused++
			if (err != nil && !errors.Is(err, ledger.ErrInsufficientFunds)) || res.State != ledger.StateRefused {
				bad("refused transfer %s: completes as %q, %v", tr.id, res.State, err)
			}
		case outcomeConflict:
			bad("transfer %s: id conflict on a retry of the same content: %v", tr.id, tr.lastErr)
		default:
			unknown++
			if err != nil && !errors.Is(err, ledger.ErrNoTransfer) {
				bad("unacknowledged transfer %s: complete: %v", tr.id, err)
			}
		}
		if res.State != "" && res.Amount != tr.amount {
			bad("transfer %s: amount %s, asked %s", tr.id, res.Amount, tr.amount)
		}
	}
	rep, err := l.Audit(ctx)
	if err != nil {
		bad("audit: %v", err)
		for _, a := range rep.Anomalies {
			bad("audit: %s", a)
		}
	}
	if rep.Total != "0.000000" {
		bad("balances sum to %s, not 0", rep.Total)
	}

	// Balances: conserved, none beyond its overdraft (0 here), and every
	// acknowledged transfer exactly once in each of its two logs.
	seen := map[string]int{} // transfer \x00 leg -> count
	total := int64(0)
	for _, u := range users {
		bal, err := l.Balance(ctx, u.account)
		if err != nil {
			t.Fatal(err)
		}
		total += bal.Balance.MicroUnits()
		if bal.Balance.IsNegative() || bal.Available.IsNegative() {
			bad("account %s beyond its overdraft: %+v", u.account, bal)
		}
		token := ""
		for {
			page, err := l.Statement(ctx, u.account, time.Time{}, time.Now().Add(time.Hour), token, ledger.MaxPageSize)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range page.Lines {
				if line.Transfer != "" {
					seen[line.Transfer+"\x00"+string(line.Leg)]++
				}
			}
			if token = page.Next; token == "" {
				break
			}
		}
	}
	if want := int64(bankUsers) * deposit.MicroUnits(); total != want {
		bad("user balances sum to %d micro-units, deposits were %d", total, want)
	}
	for _, tr := range transfers {
		switch tr.outcome {
		case outcomeApplied:
			if d, c := seen[tr.ledgerID+"\x00"+string(ledger.LegDebit)], seen[tr.ledgerID+"\x00"+string(ledger.LegCredit)]; d != 1 || c != 1 {
				bad("acknowledged transfer %s: %d debits and %d credits in the logs", tr.id, d, c)
			}
		case outcomeRefused:
			if r := seen[tr.ledgerID+"\x00"+string(ledger.LegRefused)]; r != 1 || seen[tr.ledgerID+"\x00"+string(ledger.LegCredit)] != 0 {
				bad("refused transfer %s: %d refusals in the logs, or a credit", tr.id, r)
			}
		}
	}

	for i, a := range anomalies {
		if i == 50 {
			t.Errorf("... and %d more", len(anomalies)-20)
			break
		}
		t.Error(a)
	}
	line := fmt.Sprintf("bank: transfers attempted=%d acknowledged=%d kills=%d anomalies=%d", len(transfers), acked, kills.Load(), len(anomalies))
	t.Log(line)
	t.Logf("bank: refused=%d unknown=%d proxy-failovers=%d half-applied-before-complete=%d ledger-transfers=%d applied=%d refused=%d",
		refused, unknown, rr.failed.Load(), halfBefore, rep.Transfers, rep.Applied, rep.Refused)
	fmt.Println(line)
	if kills.Load() == 0 {
		t.Error("no host was killed: the run proves nothing")
	}
	if acked == 0 {
		t.Error("no transfer was acknowledged: the run proves nothing")
	}
}

// bankTransferOnce makes one transfer, retrying the same id on failure.
func bankTransferOnce(ctx context.Context, acc *accounting.Client, s *identity.Session, tr *bankTransfer) {
	for attempt := range bankAttempts {
		if attempt > 0 {
			time.Sleep(time.Duration(100*attempt) * time.Millisecond)
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		res, err := acc.Transfer(cctx, s, accounting.Transfer{ID: tr.id, From: tr.from, To: tr.to, Amount: tr.amount, Description: "bank"})
		cancel()
		tr.lastErr = err
		switch {
		case err == nil && res.State == ledger.StateApplied:
			tr.outcome = outcomeApplied
			return
		case err == nil && res.State == ledger.StateRefused, errors.Is(err, accounting.ErrInsufficientFunds):
			tr.outcome = outcomeRefused
			return
		case errors.Is(err, accounting.ErrTransferConflict):
			tr.outcome = outcomeConflict
			return
		}
	}
}

// bankAdminLogin logs the host-made admin in with a TOTP code from the
// admin file the first host wrote.
func bankAdminLogin(ctx context.Context, t *testing.T, dir string, idc *identity.Client) *identity.Session {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, "admin-bank.txt"))
	if err != nil {
		t.Fatal(err)
	}
	secret := ""
	for l := range strings.Lines(string(body)) {
		if uri, ok := strings.CutPrefix(strings.TrimSpace(l), "otpauth: "); ok {
			u, err := url.Parse(uri)
			if err != nil {
				t.Fatal(err)
			}
			secret = u.Query().Get("secret")
		}
	}
	if secret == "" {
		t.Fatalf("no otpauth secret in admin-bank.txt")
	}
	waitFreshStep()
	code, err := crypto.TOTPCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := idc.Login(ctx, "bank", "bank admin password, long enough", identity.LoginOptions{OTP: code})
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	return s
}
