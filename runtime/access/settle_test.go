package access_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/call"
)

// offerHeld offers a resource with its own hold duration.
func (f *fixture) offerHeld(t *testing.T, name, price string, ff *fulfiller, holdS int64) {
	t.Helper()
	r := &access.Resource{Name: name, Price: amt(price), ServiceURL: ff.svc.URL(), Function: "run_job", HoldS: holdS}
	if _, err := f.ac.SetResource(context.Background(), f.carol, r); err != nil {
		t.Fatal(err)
	}
}

// A deferred fulfilment answers "pending" and holds the money; the
// fulfiller's settle receipts it once; a repeat answers the same and a
// different settlement is refused.
func TestDeferredSettledSucceededReceiptsOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	jobs := startFulfiller(t, f.env, "defer")
	f.offerHeld(t, "job/later", "4", jobs, 6*3600)
	ch := f.cheque(t, f.alice, f.main, "4")
	start := f.env.Clock.Now()
	g, err := f.ac.Request(ctx, f.alice, "r-1", "job/later", "make", ch)
	if err != nil {
		t.Fatal(err)
	}
	var res jobResult
	if g.Outcome != access.OutcomePending || json.Unmarshal(g.Result, &res) != nil || res.Job != "queued make" {
		t.Fatalf("grant %+v (%s)", g, g.Result)
	}
	// The fulfiller was told how long the hold lasts: the resource's 6 h.
	if d := res.HoldUntil.Sub(start); d < 6*time.Hour-time.Minute || d > 6*time.Hour+time.Minute {
		t.Fatalf("hold until %s, %s after the request", res.HoldUntil, d)
	}
	f.money(t, "100", "4", "0", "4") // held, not taken
	if f.uses(t, f.alice, "job/later") {
		t.Fatal("a grant before settlement")
	}
	// A retry of the request answers pending again, without asking twice.
	again, err := f.ac.Request(ctx, f.alice, "r-1", "job/later", "make", ch)
	if err != nil || again.Outcome != access.OutcomePending || jobs.count(g.RequestUID) != 1 {
		t.Fatalf("retry: %+v %v, asked %d", again, err, jobs.count(g.RequestUID))
	}

	// Only the fulfilling service may settle, in its own name.
	_, err = f.ac.Settle(ctx, f.env.Host.Accounting.Service(), g.RequestUID, access.SettleSucceeded, "")
	wantClass(t, err, call.ErrPermission)
	_, err = f.ac.Settle(ctx, f.alice, g.RequestUID, access.SettleSucceeded, "")
	wantClass(t, err, call.ErrPermission)
	f.money(t, "100", "4", "0", "4")

	s, err := f.ac.Settle(ctx, jobs.svc, g.RequestUID, access.SettleSucceeded, "")
	if err != nil || s.Outcome != access.OutcomeGranted {
		t.Fatalf("settle: %+v %v", s, err)
	}
	f.money(t, "96", "0", "4", "0")
	if s2, err := f.ac.Settle(ctx, jobs.svc, g.RequestUID, access.SettleSucceeded, ""); err != nil || s2.Outcome != access.OutcomeGranted {
		t.Fatalf("repeat: %+v %v", s2, err)
	}
	_, err = f.ac.Settle(ctx, jobs.svc, g.RequestUID, access.SettleFailed, "late")
	wantClass(t, err, access.ErrSettleConflict)
	f.money(t, "96", "0", "4", "0")
	if !f.uses(t, f.alice, "job/later") {
		t.Fatal("no grant after settlement")
	}
	fin, err := f.ac.Request(ctx, f.alice, "r-1", "job/later", "make", ch)
	if err != nil || fin.Outcome != access.OutcomeGranted {
		t.Fatalf("request after settle: %+v %v", fin, err)
	}
	f.audit(t)
}

// Failed and cancelled settlements refund; a request fulfilled at once
// cannot be settled.
func TestDeferredSettledFailedOrCancelledRefunds(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	jobs := startFulfiller(t, f.env, "defer")
	f.offer(t, "job/later", "5", jobs)
	for i, outcome := range []string{access.SettleFailed, access.SettleCancelled} {
		id := []string{"r-1", "r-2"}[i]
		ch := f.cheque(t, f.alice, f.main, "5")
		g, err := f.ac.Request(ctx, f.alice, id, "job/later", "", ch)
		if err != nil || g.Outcome != access.OutcomePending {
			t.Fatalf("%+v %v", g, err)
		}
		f.money(t, "100", "5", "0", "5")
		if s, err := f.ac.Settle(ctx, jobs.svc, g.RequestUID, outcome, "exit 3"); err != nil || s.Outcome != access.OutcomeFailed {
			t.Fatalf("settle %s: %+v %v", outcome, s, err)
		}
		f.money(t, "100", "0", "0", "0")
		_, err = f.ac.Request(ctx, f.alice, id, "job/later", "", ch)
		wantClass(t, err, access.ErrFulfilmentFailed)
	}
	jobs.set("ok")
	ch := f.cheque(t, f.alice, f.main, "5")
	g, err := f.ac.Request(ctx, f.alice, "r-3", "job/later", "", ch)
	if err != nil || g.Outcome != access.OutcomeGranted {
		t.Fatalf("%+v %v", g, err)
	}
	_, err = f.ac.Settle(ctx, jobs.svc, g.RequestUID, access.SettleFailed, "")
	wantClass(t, err, access.ErrSettleConflict)
	f.money(t, "95", "0", "5", "0")
	f.audit(t)
}

func TestHoldBounds(t *testing.T) {
	f := setup(t)
	jobs := startFulfiller(t, f.env, "defer")
	for _, h := range []int64{1, 59, int64(access.MaxHold/time.Second) + 1, -5} {
		r := &access.Resource{Name: "job/x", Price: amt("1"), ServiceURL: jobs.svc.URL(), Function: "run_job", HoldS: h}
		_, err := f.ac.SetResource(context.Background(), f.carol, r)
		wantClass(t, err, call.ErrBadArguments)
	}
}
