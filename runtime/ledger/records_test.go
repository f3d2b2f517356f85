package ledger_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/clock"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/faultstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// records is a store holding every kind of transfer record: direct,
// refused, receipted, refunded, voided, expired and still pending, made a
// minute apart and then left for longer than the retry horizon.
type records struct {
	fs    *faultstore.Store
	clock *clock.Manual
	reqs  []ledger.TransferRequest
}

const recordsHorizon = 48 * time.Hour

func newRecords(t *testing.T) *records {
	t.Helper()
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &records{clock: clock.NewManual(start)}
	fs, err := faultstore.New(memstore.New(), faultstore.Options{Point: func(op, key string) string { return op + " " + key }})
	if err != nil {
		t.Fatal(err)
	}
	h.fs = fs
	ctx := context.Background()
	l := h.ledger(t)
	for _, acc := range []string{"a", "b"} {
		if _, err := l.CreateAccount(ctx, ledger.AccountSpec{ID: acc, Owner: "o", Name: acc}); err != nil {
			t.Fatal(err)
		}
	}
	add := func(req ledger.TransferRequest) {
		h.clock.Advance(time.Minute)
		h.reqs = append(h.reqs, req)
		if _, err := l.Transfer(ctx, req); err != nil && !ledger.Refused(err) {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		add(ledger.TransferRequest{ID: fmt.Sprintf("dep-%02d", i), From: ledger.MintAccount, To: "a", Amount: ledger.MustParse("10"), Description: "deposit"})
		add(ledger.TransferRequest{ID: fmt.Sprintf("pay-%02d", i), From: "a", To: "b", Amount: ledger.MustParse("1"), Authorisation: "sig-" + fmt.Sprint(i)})
	}
	add(ledger.TransferRequest{ID: "too-much", From: "b", To: "a", Amount: ledger.MustParse("1000")})
	hold := func(id string) {
		add(ledger.TransferRequest{ID: id, From: "a", To: "b", Amount: ledger.MustParse("3"), ReceiptBy: h.clock.Now().Add(time.Hour)})
	}
	for _, id := range []string{"hold-receipt", "hold-refund", "hold-void", "hold-expire"} {
		hold(id)
	}
	add(ledger.TransferRequest{ID: "hold-pending", From: "a", To: "b", Amount: ledger.MustParse("2"), ReceiptBy: h.clock.Now().Add(400 * 24 * time.Hour)})
	for _, err := range []error{
		func() error { _, err := l.Receipt(ctx, "hold-receipt", ledger.MustParse("2"), "rcpt"); return err }(),
		func() error { _, err := l.Refund(ctx, "hold-refund", "rfnd"); return err }(),
		func() error { _, err := l.Void(ctx, "hold-void", "void"); return err }(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(2 * time.Hour)
	if _, err := l.Expire(ctx, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(recordsHorizon)
	return h
}

func (h *records) ledger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l, err := ledger.New(context.Background(), store.NewBucket(h.fs.Process()), ledger.WithClock(h.clock.Now),
		ledger.WithInlineBackground(), ledger.WithRetryHorizon(recordsHorizon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// view is what anyone reads of the records: a retry of every id, its
// Complete, a repeated receipt, balances, and the audit.
func (h *records) view(t *testing.T, l *ledger.Ledger) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	for _, req := range h.reqs {
		for _, call := range []func() (ledger.TransferResult, error){
			func() (ledger.TransferResult, error) { return l.Transfer(ctx, req) },
			func() (ledger.TransferResult, error) { return l.Complete(ctx, req.ID) },
		} {
			res, err := call()
			r := res.Resolution
			res.Resolution = nil
			fmt.Fprintf(&sb, "%s: %+v %v\n", req.ID, res, err)
			if r != nil {
				fmt.Fprintf(&sb, "  resolution: %+v\n", *r)
			}
		}
	}
	res, err := l.Receipt(ctx, "hold-receipt", ledger.MustParse("2"), "rcpt")
	fmt.Fprintf(&sb, "receipt again: %v %v\n", res.State, err)
	_, err = l.Refund(ctx, "hold-receipt", "x")
	fmt.Fprintf(&sb, "refund of receipted: %v\n", errors.Is(err, ledger.ErrAlreadyResolved))
	for _, acc := range []string{"a", "b", ledger.MintAccount} {
		b, err := l.Balance(ctx, acc)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s=%s/%s item %d\n", acc, b.Balance, b.Liability, b.Item)
	}
	rep, err := l.Audit(ctx)
	if err != nil {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	fmt.Fprintf(&sb, "audit %+v\n", rep)
	return sb.String()
}

// compact runs record compaction until a pass goes through, then again
// after RecordDeleteDelay (the deletes), each time in a fresh process if
// the last one failed.
func (h *records) compact(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for round := range 3 {
		for attempt := 0; ; attempt++ {
			if attempt > 4 {
				t.Fatalf("round %d: record compaction never finished", round)
			}
			if _, err := h.ledger(t).CompactRecords(ctx, 10_000); err == nil {
				break
			}
		}
		h.clock.Advance(ledger.RecordDeleteDelay + time.Minute)
	}
}

func (h *records) objects(t *testing.T, prefix string) []string {
	t.Helper()
	objs, err := store.NewBucket(h.fs.Inner()).ListAll(context.Background(), prefix, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

// Record compaction moves every final record into runs and leaves the
// pending hold's; every reader answers the same after it, in a fresh
// process.
func TestRecordCompactionReadsTheSame(t *testing.T) {
	h := newRecords(t)
	want := h.view(t, h.ledger(t))
	h.compact(t)
	if left := h.objects(t, "ledger/transfers/"); len(left) != 1 || !strings.HasSuffix(left[0], "hold-pending") {
		t.Fatalf("record objects left: %v (want only the pending hold's)", left)
	}
	if left := h.objects(t, "ledger/resolutions/"); len(left) != 0 {
		t.Fatalf("resolution objects left: %v", left)
	}
	if runs := h.objects(t, "ledger/records/"); len(runs) == 0 {
		t.Fatal("no record runs")
	}
	if got := h.view(t, h.ledger(t)); got != want {
		t.Fatalf("after record compaction:\n%s\nwant\n%s", got, want)
	}
	// The pending hold still resolves, once; then it too is compacted.
	ctx := context.Background()
	l := h.ledger(t)
	if _, err := l.Receipt(ctx, "hold-pending", ledger.MustParse("2"), "late"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(recordsHorizon + time.Minute)
	h.compact(t)
	if left := h.objects(t, "ledger/transfers/"); len(left) != 0 {
		t.Fatalf("record objects left: %v", left)
	}
	res, err := h.ledger(t).Receipt(ctx, "hold-pending", ledger.MustParse("2"), "late")
	if err != nil || res.State != ledger.StateReceipted {
		t.Fatalf("repeated receipt from a run: %+v %v", res, err)
	}
	if _, err := h.ledger(t).Audit(ctx); err != nil {
		t.Fatal(err)
	}
}

// Record runs are merged when a bucket holds runsPerMerge of a level,
// and the merged runs deleted after RecordDeleteDelay; reads stay the same.
func TestRecordRunsMerge(t *testing.T) {
	h := newRecords(t)
	ctx := context.Background()
	l := h.ledger(t)
	// Ten more transfers whose ids share a bucket, compacted one per pass:
	// ten level-0 runs there.
	var bucket byte = 0x42
	for i := 0; len(h.reqs) < 55; i++ {
		id := fmt.Sprintf("same-%d", i)
		if sha256.Sum256([]byte(id))[0] != bucket {
			continue
		}
		req := ledger.TransferRequest{ID: id, From: "a", To: "b", Amount: ledger.MustParse("0.5")}
		h.reqs = append(h.reqs, req)
		if _, err := l.Transfer(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(recordsHorizon + time.Minute)
	want := h.view(t, h.ledger(t))
	for range 2 * len(h.reqs) {
		if _, err := l.CompactRecords(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	prefix := fmt.Sprintf("ledger/records/%02x/", bucket)
	merged := prefix + "1-00000000000000000008"
	if runs := h.objects(t, prefix); !slices.Contains(runs, merged) || !slices.Contains(runs, prefix+"0-00000000000000000001") {
		t.Fatalf("runs of bucket %02x: %v (want 1..8 of level 0 merged into one of level 1, kept for a while)", bucket, runs)
	}
	for range 3 {
		h.clock.Advance(ledger.RecordDeleteDelay + time.Minute)
		if _, err := l.CompactRecords(ctx, 10_000); err != nil {
			t.Fatal(err)
		}
	}
	if runs := h.objects(t, prefix); !slices.Contains(runs, merged) || slices.Contains(runs, prefix+"0-00000000000000000001") || len(runs) > 2*3 {
		t.Fatalf("runs of bucket %02x: %v (want the merged ones deleted)", bucket, runs)
	}
	if got := h.view(t, h.ledger(t)); got != want {
		t.Fatalf("after merges:\n%s\nwant\n%s", got, want)
	}
	if left := h.objects(t, "ledger/transfers/"); len(left) != 1 {
		t.Fatalf("record objects left: %v", left)
	}
}

// runKeyOf is the key of the first level-0 run of id's bucket.
func runKeyOf(id string) string {
	s := sha256.Sum256([]byte(id))
	return fmt.Sprintf("ledger/records/%02x/0-%020d", s[0], 1)
}

// A fault at the run put or at the first, a middle or the last record
// delete (refused, answer lost, the process dying before or after it)
// leaves a readable state that the next pass finishes: the same reads,
// the same objects left, a clean audit.
func TestRecordCompactionUnderFaults(t *testing.T) {
	clean := newRecords(t)
	want := clean.view(t, clean.ledger(t))
	clean.compact(t)
	wantLeft := clean.objects(t, "ledger/transfers/")
	var ids []string
	for _, k := range newRecords(t).objects(t, "ledger/transfers/") {
		if !strings.HasSuffix(k, "hold-pending") {
			ids = append(ids, k)
		}
	}
	points := []string{
		"put-if-absent " + runKeyOf("pay-07"),
		"put-if-absent " + runKeyOf("pay-07") + ".filter",
		"delete " + ids[0],
		"delete " + ids[len(ids)/2],
		"delete " + ids[len(ids)-1],
	}
	faults := []faultstore.Fault{faultstore.FailBefore, faultstore.FailAfter, faultstore.CrashBefore, faultstore.CrashAfter}
	for _, pt := range points {
		for _, f := range faults {
			t.Run(string(f)+" "+pt, func(t *testing.T) {
				h := newRecords(t)
				if err := h.fs.Force(pt, f); err != nil {
					t.Fatal(err)
				}
				h.compact(t)
				if h.fs.Stats()[f] == 0 {
					t.Fatalf("%s never struck at %s", f, pt)
				}
				if got := h.objects(t, "ledger/transfers/"); strings.Join(got, ",") != strings.Join(wantLeft, ",") {
					t.Fatalf("objects left %v, want %v", got, wantLeft)
				}
				if got := h.view(t, h.ledger(t)); got != want {
					t.Fatalf("after %s at %s:\n%s\nwant\n%s", f, pt, got, want)
				}
			})
		}
	}
}

// Retries of old ids, from several processes, while two compactors move
// and delete their records: every retry answers the first outcome, no
// transfer is applied twice, and the audit is clean.
func TestRetriesDuringRecordCompaction(t *testing.T) {
	h := newRecords(t)
	ctx := context.Background()
	want := h.view(t, h.ledger(t))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for w := range 4 {
		l := h.ledger(t)
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := h.reqs[(i*7+w)%len(h.reqs)]
				res, err := l.Transfer(ctx, req)
				if req.ID == "too-much" {
					if !ledger.Refused(err) {
						errs <- fmt.Errorf("%s: %w", req.ID, err)
					}
					continue
				}
				if err != nil || res.DebitItem == 0 || res.CreditItem == 0 {
					errs <- fmt.Errorf("retry of %s: %+v %w", req.ID, res, err)
				}
			}
		})
	}
	for range 2 {
		l := h.ledger(t)
		wg.Go(func() {
			for range 4 {
				if _, err := l.CompactRecords(ctx, 7); err != nil {
					errs <- err
				}
			}
		})
	}
	// Let the compactors make runs, then move the clock for the deletes.
	for range 3 {
		time.Sleep(50 * time.Millisecond)
		h.clock.Advance(ledger.RecordDeleteDelay / 2)
		if _, err := h.ledger(t).CompactRecords(ctx, 10_000); err != nil {
			errs <- err
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h.compact(t)
	if got := h.view(t, h.ledger(t)); got != want {
		t.Fatalf("after retries during compaction:\n%s\nwant\n%s", got, want)
	}
}

// Abuse and edges: an id retried long after the horizon with its first
// content is answered from its run (idempotent, nothing moves); with
// other content it is a conflict; a call that stalls past a quarter of
// the horizon before recording refuses to record (ErrTooSlow) and writes
// nothing; a corrupted run is reported, never read as "not there".
func TestRecordRunsAbuse(t *testing.T) {
	h := newRecords(t)
	ctx := context.Background()
	h.compact(t)
	h.clock.Advance(365 * 24 * time.Hour)
	l := h.ledger(t)
	before, err := l.Balance(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	pay := h.reqs[1]
	if res, err := l.Transfer(ctx, pay); err != nil || res.State != ledger.StateApplied {
		t.Fatalf("retry a year later: %+v %v", res, err)
	}
	other := pay
	other.Amount = ledger.MustParse("500")
	if _, err := l.Transfer(ctx, other); !errors.Is(err, ledger.ErrIDConflict) {
		t.Fatalf("reuse of an old id with other content: %v", err)
	}
	if _, err := l.Transfer(ctx, h.reqs[len(h.reqs)-6]); !ledger.Refused(err) {
		t.Fatalf("retry of an old refusal: %v", err)
	}
	if _, err := l.Refund(ctx, "hold-void", "x"); !errors.Is(err, ledger.ErrAlreadyResolved) {
		t.Fatalf("refund of an old void: %v", err)
	}
	after, err := l.Balance(ctx, "b")
	if err != nil || after.Balance != before.Balance || after.Item != before.Item {
		t.Fatalf("b moved: %+v -> %+v (%v)", before, after, err)
	}

	// A stalled call: every clock reading is a quarter horizon later.
	stall := h.clock.Now()
	var mu sync.Mutex
	slow, err := ledger.New(ctx, store.NewBucket(h.fs.Process()), ledger.WithRetryHorizon(recordsHorizon),
		ledger.WithClock(func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			stall = stall.Add(recordsHorizon/4 + time.Second)
			return stall
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Close() }()
	if _, err := slow.Transfer(ctx, ledger.TransferRequest{ID: "stalled", From: "a", To: "b", Amount: ledger.MustParse("1")}); !errors.Is(err, ledger.ErrTooSlow) {
		t.Fatalf("stalled transfer: %v", err)
	}
	if _, err := l.Complete(ctx, "stalled"); !errors.Is(err, ledger.ErrNoTransfer) {
		t.Fatalf("the stalled transfer was recorded: %v", err)
	}

	// A corrupted run is an error for whoever needs it, not an absence.
	runs := h.objects(t, "ledger/records/")
	var victim string
	for _, k := range runs {
		if !strings.HasSuffix(k, ".filter") {
			victim = k
			break
		}
	}
	if _, err := h.fs.Inner().Put(ctx, victim, []byte("not gzip")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ledger(t).Audit(ctx); err == nil || !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("audit over a corrupted run: %v", err)
	}
}

// getCounter counts the gets of record runs and of their filters.
type getCounter struct {
	store.Driver
	mu            sync.Mutex
	runs, filters int
}

func (g *getCounter) Get(ctx context.Context, key string) ([]byte, store.Version, error) {
	if strings.HasPrefix(key, "ledger/records/") {
		g.mu.Lock()
		if strings.HasSuffix(key, ".filter") {
			g.filters++
		} else {
			g.runs++
		}
		g.mu.Unlock()
	}
	return g.Driver.Get(ctx, key)
}

func (g *getCounter) reset() (runs, filters int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	runs, filters = g.runs, g.filters
	g.runs, g.filters = 0, 0
	return runs, filters
}

// The delete pass reads each run and each filter once, however many of
// its records it deletes: looked up one record at a time in the order of
// the listing, it read a run per record (the cache holds 8 of 256
// buckets' runs), about 90 deletes a second at 10^5 records.
func TestRecordDeletePassReadsEachRunOnce(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	gets := &getCounter{Driver: memstore.New()}
	open := func() *ledger.Ledger {
		l, err := ledger.New(ctx, store.NewBucket(gets), ledger.WithClock(clk.Now),
			ledger.WithInlineBackground(), ledger.WithRetryHorizon(recordsHorizon))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		return l
	}
	l := open()
	for _, acc := range []string{"a", "b"} {
		if _, err := l.CreateAccount(ctx, ledger.AccountSpec{ID: acc, Owner: "o", Name: acc}); err != nil {
			t.Fatal(err)
		}
	}
	const n = 1500 // about 6 records per bucket
	if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: "fund", From: ledger.MintAccount, To: "a", Amount: ledger.MustParse("1000")}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: fmt.Sprintf("t-%d", i), From: "a", To: "b", Amount: ledger.MustParse("0.01")}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(recordsHorizon + time.Minute)
	if moved, err := open().CompactRecords(ctx, 10*n); err != nil || moved != n+1 {
		t.Fatalf("first pass moved %d records (%v), want %d", moved, err, n+1)
	}
	runs := 0
	objs, err := store.NewBucket(gets).ListAll(ctx, "ledger/records/", 10_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".filter") {
			runs++
		}
	}
	clk.Advance(ledger.RecordDeleteDelay + time.Minute)
	gets.reset()
	if _, err := open().CompactRecords(ctx, 10*n); err != nil {
		t.Fatal(err)
	}
	runGets, filterGets := gets.reset()
	if left, err := store.NewBucket(gets).ListAll(ctx, "ledger/transfers/", 10_000); err != nil || len(left) != 0 {
		t.Fatalf("%d record objects left (%v)", len(left), err)
	}
	if runGets > runs || filterGets > runs {
		t.Fatalf("the delete pass of %d records read %d runs and %d filters, want each of the %d at most once", n+1, runGets, filterGets, runs)
	}
}
