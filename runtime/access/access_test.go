package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

const pw = "correct horse battery"

var errNoCapacity = call.NewClass("NoCapacityError")

// fulfiller is a real service, on its own store and loopback server, whose
// run_job function the access service calls. mode chooses its answer.
type fulfiller struct {
	svc   *service.Service
	mu    sync.Mutex
	mode  string // "ok", "refuse" (a typed refusal), "down" (unavailable: unknown outcome)
	calls map[string]int
}

type jobResult struct {
	Deferred   bool      `json:"deferred,omitempty"`
	Job        string    `json:"job"`
	RequestUID string    `json:"request_uid"`
	HoldUntil  time.Time `json:"hold_until,omitzero"`
}

func startFulfiller(t *testing.T, env *hosttest.Env, mode string) *fulfiller {
	t.Helper()
	ctx := context.Background()
	f := &fulfiller{mode: mode, calls: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.svc.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	b, err := store.Open(ctx, "mem://fulfiller-"+t.Name()+"-"+mode)
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = service.New(ctx, service.Config{Kind: "jobs", URL: srv.URL + "/jobs", Bucket: b, Secret: "Jobs-Service-Secret-123",
		Clock: env.Clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	accessURL := env.Host.ServiceURL(access.Kind)
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = env.Clock.Now
	sv := &auth.ServiceVerifier{Certs: auth.ServiceCertsFrom(c), Clock: env.Clock.Now, Audience: f.svc.URL(),
		Services: map[string]bool{accessURL: true}}
	service.Handle(f.svc, "run_job", service.Options{}, func(ctx context.Context, a *access.FulfilArgs) (*jobResult, error) {
		if err := access.VerifyFulfil(ctx, sv, accessURL, a); err != nil {
			return nil, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls[a.RequestUID]++
		switch f.mode {
		case "refuse":
			return nil, call.Errorf(errNoCapacity, "no capacity for %s", a.Resource)
		case "down":
			return nil, call.Errorf(call.ErrUnavailable, "try later")
		case "defer":
			return &jobResult{Deferred: true, Job: "queued " + a.Details, RequestUID: a.RequestUID, HoldUntil: a.HoldUntil}, nil
		}
		return &jobResult{Job: "done " + a.Details, RequestUID: a.RequestUID}, nil
	})
	return f
}

func (f *fulfiller) set(mode string) { f.mu.Lock(); f.mode = mode; f.mu.Unlock() }
func (f *fulfiller) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fulfiller) count(uid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[uid]
}

type fixture struct {
	env               *hosttest.Env
	acc               *accounting.Client
	ac                *access.Client
	svc               *service.Service // the access service
	alice, bob, carol *identity.Session
	main              string // alice's account, 100 deposited
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	env := hosttest.Start(t, hosttest.Options{Kinds: host.Kinds})
	users := env.Users(t, pw, "alice", "bob", "carol")
	f := &fixture{env: env, acc: env.Accounting(), ac: &access.Client{C: env.Client, URL: env.Host.ServiceURL(access.Kind)},
		svc: env.Host.Access.Service(), alice: users["alice"], bob: users["bob"], carol: users["carol"]}
	if err := env.Host.Accounting.AddAdmin(ctx, f.carol.IdentityURL, f.carol.UserUID); err != nil {
		t.Fatal(err)
	}
	if err := env.Host.Access.AddAdmin(ctx, f.carol.IdentityURL, f.carol.UserUID); err != nil {
		t.Fatal(err)
	}
	acc, err := f.acc.CreateAccount(ctx, f.alice, "main", amt("0"))
	if err != nil {
		t.Fatal(err)
	}
	f.main = acc.ID
	if _, err := f.acc.Deposit(ctx, f.carol, "dep-1", f.main, amt("100"), ""); err != nil {
		t.Fatal(err)
	}
	return f
}

func amt(s string) ledger.Amount { return ledger.MustParse(s) }

func wantClass(t *testing.T, err error, class *call.Error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("want %s, got %v", class.Class, err)
	}
}

func (f *fixture) offer(t *testing.T, name, price string, ff *fulfiller, users ...string) {
	t.Helper()
	r := &access.Resource{Name: name, Price: amt(price), ServiceURL: ff.svc.URL(), Function: "run_job", Users: users}
	if _, err := f.ac.SetResource(context.Background(), f.carol, r); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) cheque(t *testing.T, s *identity.Session, account, max string) *accounting.Cheque {
	t.Helper()
	now := f.env.Clock.Now()
	ch, err := accounting.WriteCheque(s, accounting.ChequeSpec{Bank: f.env.Host.ServiceURL(accounting.Kind), Account: account, Recipient: f.ac.URL, Max: amt(max),
		Expires: now.Add(time.Hour), For: "access"}, now)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// money checks alice's account and the access service's income exactly.
func (f *fixture) money(t *testing.T, balance, liability, income, receivable string) {
	t.Helper()
	ctx := context.Background()
	b, err := f.acc.Balance(ctx, f.alice, f.main, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance != amt(balance) || b.Liability != amt(liability) {
		t.Fatalf("alice: balance %s liability %s; want %s %s", b.Balance, b.Liability, balance, liability)
	}
	ib, err := f.acc.Balance(ctx, f.svc, f.env.Host.Access.IncomeAccountID(), time.Time{})
	if errors.Is(err, call.ErrPermission) && income == "0" && receivable == "0" {
		return // never created: nothing was ever cashed
	}
	if err != nil {
		t.Fatal(err)
	}
	if ib.Balance != amt(income) || ib.Receivable != amt(receivable) {
		t.Fatalf("income: balance %s receivable %s; want %s %s", ib.Balance, ib.Receivable, income, receivable)
	}
}

func (f *fixture) audit(t *testing.T) ledger.AuditReport {
	t.Helper()
	rep, err := f.env.Host.Accounting.Ledger().Audit(context.Background())
	if err != nil || rep.Total != "0.000000" || len(rep.Anomalies) != 0 || rep.Liabilities != rep.Receivables {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	return rep
}

func (f *fixture) uses(t *testing.T, s *identity.Session, resource string) bool {
	t.Helper()
	a, err := f.ac.Check(context.Background(), s, access.Query{Action: access.ActionUse, Resource: resource})
	if err != nil {
		t.Fatal(err)
	}
	return a.Allowed
}

func TestRequestGrantedReceiptsPriceOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	jobs := startFulfiller(t, f.env, "ok")
	f.offer(t, "job/small", "12.345678", jobs)
	if f.uses(t, f.alice, "job/small") {
		t.Fatal("a grant before any request")
	}
	ch := f.cheque(t, f.alice, f.main, "20")
	g, err := f.ac.Request(ctx, f.alice, "r-1", "job/small", "build 7", ch)
	if err != nil {
		t.Fatal(err)
	}
	var res jobResult
	if g.Outcome != access.OutcomeGranted || g.Price != amt("12.345678") || json.Unmarshal(g.Result, &res) != nil ||
		res.Job != "done build 7" || res.RequestUID != g.RequestUID || !strings.HasPrefix(g.Transfer, "cheque-") {
		t.Fatalf("grant %+v (%s)", g, g.Result)
	}
	f.money(t, "87.654322", "0", "12.345678", "0")
	// The details (a job's drive links carry PAR secrets) are sealed at
	// rest: the stored record does not hold them in the clear.
	stored, err := f.svc.Bucket().ListAll(ctx, "access/requests/", 10)
	if err != nil || len(stored) != 1 {
		t.Fatalf("request records: %v %v", stored, err)
	}
	var rec map[string]any
	if _, err := f.svc.Bucket().GetJSON(ctx, stored[0].Key, &rec); err != nil {
		t.Fatal(err)
	}
	if sealed, _ := rec["sealed_details"].(string); sealed == "" || strings.Contains(sealed, "build 7") || rec["details"] != nil {
		t.Fatalf("the stored request shows its details, or none are sealed: %v", rec)
	}
	// A record written before details were sealed is still read: rewrite
	// this one in that form; the retries below must still match it.
	delete(rec, "sealed_details")
	rec["details"] = "build 7"
	if _, err := f.svc.Bucket().PutJSON(ctx, stored[0].Key, rec); err != nil {
		t.Fatal(err)
	}

	// A retry (a new call, freshly signed) answers the first outcome: no
	// second payment, no second fulfilment.
	f.env.Clock.Advance(time.Second)
	again, err := f.ac.Request(ctx, f.alice, "r-1", "job/small", "build 7", ch)
	if err != nil || again.Transfer != g.Transfer || !again.Time.Equal(g.Time) || string(again.Result) != string(g.Result) {
		t.Fatalf("retry: %+v, %v; first %+v", again, err, g)
	}
	if n := jobs.count(g.RequestUID); n != 1 {
		t.Fatalf("fulfilled %d times", n)
	}
	f.money(t, "87.654322", "0", "12.345678", "0")
	if !f.uses(t, f.alice, "job/small") || f.uses(t, f.bob, "job/small") {
		t.Fatal("grants: alice should hold one, bob none")
	}
	// The cheque is spent: another request cannot use it.
	_, err = f.ac.Request(ctx, f.alice, "r-2", "job/small", "", ch)
	wantClass(t, err, access.ErrChequeUsed)
	// The same request id for another request is refused.
	_, err = f.ac.Request(ctx, f.alice, "r-1", "job/small", "other details", ch)
	wantClass(t, err, access.ErrRequestConflict)
	f.money(t, "87.654322", "0", "12.345678", "0")
	f.audit(t)
}

func TestFulfilmentFailureRefunds(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	broken := startFulfiller(t, f.env, "refuse")
	f.offer(t, "job/broken", "7.5", broken)
	ch := f.cheque(t, f.alice, f.main, "7.5")
	_, err := f.ac.Request(ctx, f.alice, "r-1", "job/broken", "", ch)
	wantClass(t, err, access.ErrFulfilmentFailed)
	f.money(t, "100", "0", "0", "0")
	// A retry answers the same failure without asking again or paying.
	_, err = f.ac.Request(ctx, f.alice, "r-1", "job/broken", "", ch)
	wantClass(t, err, access.ErrFulfilmentFailed)
	if n := broken.count(access.RequestUID(f.alice.IdentityURL, f.alice.UserUID, "r-1")); n != 1 {
		t.Fatalf("asked %d times", n)
	}
	if f.uses(t, f.alice, "job/broken") {
		t.Fatal("a failed request left a grant")
	}
	f.money(t, "100", "0", "0", "0")
	rep := f.audit(t)
	if rep.Provisional != 1 || rep.Resolved != 1 {
		t.Fatalf("audit %+v", rep)
	}
}

// A fulfiller that cannot say (unavailable) leaves the request paid but
// unresolved; the retry asks again and finishes it, paying once.
func TestUnknownOutcomeIsRetried(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	jobs := startFulfiller(t, f.env, "down")
	f.offer(t, "job/flaky", "3", jobs)
	ch := f.cheque(t, f.alice, f.main, "3")
	_, err := f.ac.Request(ctx, f.alice, "r-1", "job/flaky", "", ch)
	wantClass(t, err, call.ErrUnavailable)
	f.money(t, "100", "3", "0", "3") // held, not taken
	jobs.set("ok")
	f.env.Clock.Advance(time.Second)
	g, err := f.ac.Request(ctx, f.alice, "r-1", "job/flaky", "", ch)
	if err != nil || g.Outcome != access.OutcomeGranted {
		t.Fatalf("retry: %+v, %v", g, err)
	}
	if n := jobs.count(g.RequestUID); n != 2 {
		t.Fatalf("asked %d times, want 2", n)
	}
	f.money(t, "97", "0", "3", "0")
	f.audit(t)
}

func TestRefusedBeforeMoneyMoves(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	jobs := startFulfiller(t, f.env, "ok")
	f.offer(t, "job/bobs", "1", jobs, access.UserRef(f.bob.IdentityURL, f.bob.UserUID))
	f.offer(t, "job/dear", "60", jobs)

	_, err := f.ac.Request(ctx, f.alice, "r-1", "job/bobs", "", f.cheque(t, f.alice, f.main, "1"))
	wantClass(t, err, access.ErrAccessDenied)
	_, err = f.ac.Request(ctx, f.alice, "r-2", "job/dear", "", f.cheque(t, f.alice, f.main, "59.999999"))
	wantClass(t, err, accounting.ErrChequeOverMax)
	_, err = f.ac.Request(ctx, f.alice, "r-3", "job/none", "", f.cheque(t, f.alice, f.main, "1"))
	wantClass(t, err, call.ErrNotFound)
	// A cheque written to another service, or by another user.
	now := f.env.Clock.Now()
	elsewhere, err := accounting.WriteCheque(f.alice, accounting.ChequeSpec{Bank: f.env.Host.ServiceURL(accounting.Kind), Account: f.main, Recipient: jobs.svc.URL(),
		Max: amt("60"), Expires: now.Add(time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ac.Request(ctx, f.alice, "r-4", "job/dear", "", elsewhere)
	wantClass(t, err, accounting.ErrChequeRecipient)
	_, err = f.ac.Request(ctx, f.bob, "r-5", "job/dear", "", f.cheque(t, f.alice, f.main, "60"))
	wantClass(t, err, accounting.ErrChequeInvalid)
	f.money(t, "100", "0", "0", "0")
	// A cheque drawn beyond the account's funds (60 of 100, twice): the
	// second cashing is refused and recorded as that request's outcome.
	if _, err := f.ac.Request(ctx, f.alice, "r-6", "job/dear", "", f.cheque(t, f.alice, f.main, "60")); err != nil {
		t.Fatal(err)
	}
	ch := f.cheque(t, f.alice, f.main, "60")
	_, err = f.ac.Request(ctx, f.alice, "r-7", "job/dear", "", ch)
	wantClass(t, err, access.ErrPaymentRefused)
	_, err = f.ac.Request(ctx, f.alice, "r-7", "job/dear", "", ch)
	wantClass(t, err, access.ErrPaymentRefused)
	if n := jobs.total(); n != 1 {
		t.Fatalf("fulfiller asked %d times", n)
	}
	f.money(t, "40", "0", "60", "0")
	// Bad input.
	for _, id := range []string{"", "bad id", string(make([]byte, 200))} {
		_, err = f.ac.Request(ctx, f.alice, id, "job/dear", "", f.cheque(t, f.alice, f.main, "60"))
		wantClass(t, err, call.ErrBadArguments)
	}
	_, err = f.ac.Request(ctx, f.alice, "r-8", "job/dear", string(make([]byte, access.MaxDetailsBytes+1)), f.cheque(t, f.alice, f.main, "60"))
	wantClass(t, err, call.ErrBadArguments)
	f.money(t, "40", "0", "60", "0")
	f.audit(t)
}

func TestCatalogueAndChecks(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	jobs := startFulfiller(t, f.env, "ok")
	// Only admins change the catalogue; bad entries are refused.
	r := &access.Resource{Name: "job/a", Price: amt("1"), ServiceURL: jobs.svc.URL(), Function: "run_job"}
	_, err := f.ac.SetResource(ctx, f.alice, r)
	wantClass(t, err, call.ErrPermission)
	for _, bad := range []access.Resource{
		{Name: "", Price: amt("1"), ServiceURL: jobs.svc.URL(), Function: "run_job"},
		{Name: "job/a", Price: amt("0"), ServiceURL: jobs.svc.URL(), Function: "run_job"},
		{Name: "job/a", Price: amt("1"), ServiceURL: "ftp://x", Function: "run_job"},
		{Name: "job/a", Price: amt("1"), ServiceURL: jobs.svc.URL(), Function: "run job"},
		{Name: "job/a", Price: amt("1"), ServiceURL: jobs.svc.URL(), Function: "run_job", Users: make([]string, access.MaxUsersPerResource+1)},
	} {
		_, err = f.ac.SetResource(ctx, f.carol, &bad)
		wantClass(t, err, call.ErrBadArguments)
	}
	f.offer(t, "job/a", "1", jobs)
	f.offer(t, "job/bobs", "2", jobs, access.UserRef(f.bob.IdentityURL, f.bob.UserUID))
	f.offer(t, "job/gone", "3", jobs)
	if _, err := f.ac.RemoveResource(ctx, f.carol, "job/gone"); err != nil {
		t.Fatal(err)
	}
	cat, err := f.ac.ListResources(ctx, f.bob)
	if err != nil || len(cat.Resources) != 2 || cat.Resources[0].Name != "job/a" || cat.Resources[1].Users[0] != access.UserRef(f.bob.IdentityURL, f.bob.UserUID) {
		t.Fatalf("catalogue %+v, %v", cat, err)
	}

	if _, err := f.ac.Request(ctx, f.alice, "r-1", "job/a", "", f.cheque(t, f.alice, f.main, "1")); err != nil {
		t.Fatal(err)
	}
	alice := func(action, res string) access.Query {
		return access.Query{IdentityURL: f.alice.IdentityURL, UserUID: f.alice.UserUID, Action: action, Resource: res}
	}
	qs := []access.Query{alice("request", "job/a"), alice("request", "job/bobs"), alice("request", "job/gone"),
		alice("use", "job/a"), alice("use", "job/bobs")}
	want := []bool{true, false, false, true, false}
	check := func(s auth.Signer) {
		t.Helper()
		ans, err := f.ac.BatchCheck(ctx, s, qs)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range ans.Answers {
			if a.Allowed != want[i] || a.Reason == "" || a.Query != qs[i] {
				t.Fatalf("answer %d: %+v, want allowed=%v", i, a, want[i])
			}
		}
	}
	check(f.alice)                           // about herself
	check(f.carol)                           // an admin, about anyone
	check(f.env.Host.Service(identity.Kind)) // a trusted service
	_, err = f.ac.BatchCheck(ctx, f.bob, qs) // another user
	wantClass(t, err, call.ErrPermission)
	_, err = f.ac.Check(ctx, f.env.Host.Service(identity.Kind), access.Query{Action: "use", Resource: "job/a"})
	wantClass(t, err, call.ErrBadArguments) // a service names the user
	_, err = f.ac.BatchCheck(ctx, f.alice, make([]access.Query, access.MaxBatchCheck+1))
	wantClass(t, err, call.ErrBadArguments)
	_, err = f.ac.Check(ctx, f.alice, access.Query{Action: "delete", Resource: "job/a"})
	wantClass(t, err, call.ErrBadArguments)
	// The fulfiller is not a trusted service of the host: it cannot ask.
	_, err = f.ac.Check(ctx, jobs.svc, alice("use", "job/a"))
	wantClass(t, err, auth.ErrServiceNotTrusted)
	bob, err := f.ac.Check(ctx, f.bob, access.Query{Action: "request", Resource: "job/bobs"})
	if err != nil || !bob.Allowed || bob.UserUID != f.bob.UserUID {
		t.Fatalf("bob's check %+v, %v", bob, err)
	}
	f.audit(t)
}

// A run that cashed the cheque and stopped before saving it: the next run
// is answered with the first cashing's transfer, carries on with it,
// and the price is taken once.
func TestCashedBeforeSavedIsFinished(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	jobs := startFulfiller(t, f.env, "ok")
	f.offer(t, "job/a", "4", jobs)
	ch := f.cheque(t, f.alice, f.main, "4")
	income, err := f.acc.CreateAccount(ctx, f.svc, access.IncomeAccount, amt("0"))
	if err != nil || income.ID != f.env.Host.Access.IncomeAccountID() {
		t.Fatalf("income %+v, %v", income, err)
	}
	first, err := f.acc.CashCheque(ctx, f.svc, ch, amt("4"), income.ID, f.env.Clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.money(t, "100", "4", "0", "4")
	g, err := f.ac.Request(ctx, f.alice, "r-1", "job/a", "", ch)
	if err != nil || g.Outcome != access.OutcomeGranted || g.Transfer != first.ID {
		t.Fatalf("request %+v, %v", g, err)
	}
	f.money(t, "96", "0", "4", "0")
	f.audit(t)
}
