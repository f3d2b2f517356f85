package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/wait"
)

// accountState is this process's view of one account: the newest item it
// knows, an index of the entries in its recent items, and the queue of
// entries waiting to be appended. Items are immutable, so this cache is
// never wrong, only possibly behind; the put-if-absent of the next item is
// what detects that (another writer got there first) and the state then
// catches up by reading forward.
//
// Appending is group commit: the first caller to find the account idle
// becomes its flusher and writes everything queued meanwhile as one item,
// so a hot account takes many entries per put-if-absent instead of one.
type accountState struct {
	id string

	mu       sync.Mutex
	queue    []*legReq
	flushing bool

	// Owned by the flusher (only one at a time per process, by flushing).
	head   *Item               // newest item known; nil until loaded
	low    uint64              // recent indexes the entries of items low+1..head.N
	recent map[string]entryRef // transfer+side -> where its entry is
	byItem map[uint64][]string // item index -> its keys in recent, for pruning

	// known is head.N once loaded (0 before), readable without the
	// flusher role; it only grows.
	known  atomic.Uint64
	loaded atomic.Bool

	// seen is the newest item of the account this process has read or
	// written (nil before), readable without the flusher role: a recent,
	// possibly lagging, view of its state for checks made before a write.
	seen atomic.Pointer[Item]
}

// observe records it as seen unless a newer item was seen already.
func (st *accountState) observe(it *Item) {
	for {
		cur := st.seen.Load()
		if cur != nil && cur.N >= it.N {
			return
		}
		if st.seen.CompareAndSwap(cur, it) {
			return
		}
	}
}

type entryRef struct {
	n     uint64
	entry Entry // without authorisation and description
}

// legReq is one entry to append to one account: the entry template, the
// lower bound below which no entry of its transfer and side can be (see
// DESIGN.md), and, once done, the result.
type legReq struct {
	bound uint64
	entry Entry

	done  chan struct{}
	n     uint64 // index of the item holding the entry
	got   Entry  // the entry as written (or found); Leg may be LegRefused
	found bool   // the entry was already in the log: this call wrote nothing
	err   error
}

func entryKeyOf(transfer string, g Leg) string { return transfer + "\x00" + g.side() }

func (l *Ledger) state(acc string) *accountState {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.accounts[acc]
	if st == nil {
		if len(l.accounts) >= maxCachedAccounts {
			for id, s := range l.accounts { // drop idle states; they reload on demand
				s.mu.Lock()
				idle := !s.flushing && len(s.queue) == 0
				s.mu.Unlock()
				if idle {
					delete(l.accounts, id)
				}
			}
		}
		st = &accountState{id: acc}
		l.accounts[acc] = st
	}
	return st
}

// apply appends one entry to acc's log, or finds it already there, and
// returns where it is. It is idempotent per (transfer, side): whatever ran
// before, the log ends up with exactly one entry for it.
func (l *Ledger) apply(ctx context.Context, acc string, r *legReq) error {
	r.done = make(chan struct{})
	st := l.state(acc)
	st.mu.Lock()
	st.queue = append(st.queue, r)
	lead := !st.flushing
	st.flushing = true
	st.mu.Unlock()
	if lead {
		l.flushLoop(ctx, st)
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushLoop writes batches until the queue is empty. It runs on a context
// detached from the caller's cancellation, because it serves other callers'
// entries too.
func (l *Ledger) flushLoop(ctx context.Context, st *accountState) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	for {
		st.mu.Lock()
		n, size := 0, 0
		for n < len(st.queue) && n < maxEntriesPerItem {
			size += entrySize(st.queue[n].entry)
			if n > 0 && size > maxItemBytes {
				break
			}
			n++
		}
		if n == 0 {
			st.flushing = false
			st.mu.Unlock()
			return
		}
		batch := st.queue[:n:n]
		st.queue = append([]*legReq(nil), st.queue[n:]...)
		st.mu.Unlock()
		l.flushBatch(ctx, st, batch)
	}
}

// entrySize over-estimates an entry's encoded size.
func entrySize(e Entry) int {
	return len(e.Authorisation) + len(e.Description) + len(e.Transfer) + len(e.Counterparty) + 1024
}

func finish(rs []*legReq, err error) {
	for _, r := range rs {
		if r.err == nil && err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// flushBatch appends the batch's new entries as one item, retrying on a
// lost put-if-absent race after catching up with the winner's items, which
// may already hold some of the batch's entries.
func (l *Ledger) flushBatch(ctx context.Context, st *accountState, batch []*legReq) {
	if err := l.load(ctx, st); err != nil {
		finish(batch, err)
		return
	}
	for attempt := range maxAppendAttempts {
		if attempt > 0 {
			if err := wait.Sleep(ctx, backoff(attempt)); err != nil {
				finish(batch, err)
				return
			}
		}
		if err := l.indexBack(ctx, st, batch); err != nil {
			finish(batch, err)
			return
		}
		it, res := l.build(st, batch)
		if len(res.errs) > 0 {
			// An entry that fails on its own is never written, so no lost
			// put-if-absent would reveal that our head lags the log (a
			// settlement judged before the credit it settles): judge it
			// again on the newest item.
			n := st.head.N
			if err := l.catchUp(ctx, st); err != nil {
				finish(batch, err)
				return
			}
			if st.head.N != n {
				it, res = l.build(st, batch)
			}
		}
		if it == nil { // every entry was already there or failed on its own
			res.commit(0)
			finish(batch, nil)
			return
		}
		if err := checkItem(st.head, it); err != nil {
			finish(batch, err) // never write an item that breaks an invariant
			return
		}
		_, err := l.b.PutJSONIfAbsent(ctx, itemKey(st.id, it.N), it)
		if errors.Is(err, store.ErrPrecondition) {
			if err := l.catchUp(ctx, st); err != nil {
				finish(batch, err)
				return
			}
			continue
		}
		if err != nil {
			// The write may or may not have landed; our head stays where
			// it was, so the next append catches up and dedupes.
			finish(batch, err)
			return
		}
		l.remember(st, it)
		res.commit(it.N)
		if it.N%hintEvery == 0 {
			acc, n := st.id, it.N
			l.background(func(ctx context.Context) {
				_, _ = l.b.PutJSON(ctx, headHintKey(acc), headHint{N: n})
			})
		}
		finish(batch, nil)
		return
	}
	finish(batch, fmt.Errorf("%w: account %s", ErrContention, st.id))
}

// buildResult is what build decided for each request; it is applied to the
// requests only once the item is written (or nothing needs writing), since
// after a lost race the decisions are made again on the newer head.
type buildResult struct {
	found  map[*legReq]entryRef // already in the log
	errs   map[*legReq]error    // failed on their own
	placed map[*legReq]int      // index of their entry in the new item
	item   *Item
}

func (b buildResult) commit(n uint64) {
	for r, ref := range b.found {
		r.n, r.got, r.found = ref.n, ref.entry, true
	}
	for r, err := range b.errs {
		r.err = err
	}
	for r, i := range b.placed {
		r.n, r.got = n, b.item.Entries[i]
	}
}

// build makes the next item from the batch. Entries already in the log get
// their existing place; entries that fail on their own (bad overdraft
// change, internal error) get their error; debits that would overdraw
// become refusals. It returns a nil item if nothing needs writing.
func (l *Ledger) build(st *accountState, batch []*legReq) (*Item, buildResult) {
	h := st.head
	it := &Item{
		Account: st.id, N: h.N + 1, Unlimited: h.Unlimited,
		Balance: h.Balance, Liability: h.Liability, Receivable: h.Receivable, Overdraft: h.Overdraft,
		Time: l.clock(),
	}
	if it.Time.Before(h.Time) {
		it.Time = h.Time // items never go back in time, so statements can search by time
	}
	res := buildResult{found: map[*legReq]entryRef{}, errs: map[*legReq]error{}, placed: map[*legReq]int{}, item: it}
	inItem := map[string]int{}
	for _, r := range batch {
		key := entryKeyOf(r.entry.Transfer, r.entry.Leg)
		if r.entry.Transfer != "" {
			if ref, ok := st.recent[key]; ok {
				res.found[r] = ref
				continue
			}
			if i, ok := inItem[key]; ok { // the same leg twice in one batch
				res.placed[r] = i
				continue
			}
		}
		e, err := nextEntry(it, r.entry)
		if err != nil {
			res.errs[r] = err
			continue
		}
		it.Entries = append(it.Entries, e)
		it.Balance, it.Liability, it.Receivable, it.Overdraft = e.Balance, e.Liability, e.Receivable, e.Overdraft
		res.placed[r] = len(it.Entries) - 1
		if r.entry.Transfer != "" {
			inItem[key] = len(it.Entries) - 1
		}
	}
	if len(it.Entries) == 0 {
		return nil, res
	}
	return it, res
}

// nextEntry computes one entry's deltas and after-state on top of cur.
func nextEntry(cur *Item, tpl Entry) (Entry, error) {
	e := tpl
	e.Balance, e.Liability, e.Receivable, e.Overdraft = cur.Balance, cur.Liability, cur.Receivable, cur.Overdraft
	if e.Leg == LegOverdraft {
		if cur.Unlimited {
			return Entry{}, fmt.Errorf("%w: the mint has no overdraft limit", ErrOverdraft)
		}
		limit := e.Amount
		if limit.IsNegative() || limit.Cmp(MaxAmount) > 0 {
			return Entry{}, fmt.Errorf("%w: %s outside [0, %s]", ErrOverdraft, limit, MaxAmount)
		}
		av, err := available(cur.Balance, cur.Liability, limit)
		if err != nil || av.IsNegative() {
			return Entry{}, fmt.Errorf("%w: %s is below what the balance already uses", ErrOverdraft, limit)
		}
		e.DBalance, e.DLiability, e.DReceivable = Zero, Zero, Zero
		e.Overdraft = limit
		return e, nil
	}
	b, err1 := cur.Balance.Add(e.DBalance)
	li, err2 := cur.Liability.Add(e.DLiability)
	r, err3 := cur.Receivable.Add(e.DReceivable)
	err := errors.Join(err1, err2, err3)
	if err == nil {
		err = checkState(cur.Account, cur.Unlimited, b, li, r, cur.Overdraft)
	}
	if err != nil {
		if e.Leg == LegDebit { // a debit that does not fit is refused, in the log
			e.Leg = LegRefused
			e.DBalance, e.DLiability, e.DReceivable = Zero, Zero, Zero
			return e, nil
		}
		// Credits and settlements only ever add to what is available; if
		// one does not fit, a bound was hit: refuse to write.
		return Entry{}, internal("account %s: %s of transfer %s does not fit: %v", cur.Account, e.Leg, e.Transfer, err)
	}
	e.Balance, e.Liability, e.Receivable = b, li, r
	return e, nil
}

// remember makes it the new head and indexes its entries.
func (l *Ledger) remember(st *accountState, it *Item) {
	st.head = it
	st.known.Store(it.N)
	st.observe(it)
	keys := make([]string, 0, len(it.Entries))
	for _, e := range it.Entries {
		if e.Transfer == "" {
			continue
		}
		k := entryKeyOf(e.Transfer, e.Leg)
		slim := e
		slim.Authorisation, slim.Description = "", ""
		st.recent[k] = entryRef{n: it.N, entry: slim}
		keys = append(keys, k)
	}
	st.byItem[it.N] = keys
	for st.head.N-st.low > recentItemsMax {
		st.low++
		for _, k := range st.byItem[st.low] {
			if ref, ok := st.recent[k]; ok && ref.n == st.low {
				delete(st.recent, k)
			}
		}
		delete(st.byItem, st.low)
	}
}

// indexBack extends the index downwards when a request's bound is below
// it, by reading the older items from the store (the slow path, met when
// finishing an old transfer after a crash).
func (l *Ledger) indexBack(ctx context.Context, st *accountState, batch []*legReq) error {
	lowest := st.low
	for _, r := range batch {
		if r.err == nil && r.entry.Transfer != "" && r.bound < lowest {
			lowest = r.bound
		}
	}
	for n := st.low; n > lowest; n-- {
		it, err := l.readItem(ctx, st.id, n, nil)
		if err == nil && it == nil {
			err = internal("item missing below the head")
		}
		if err != nil {
			return fmt.Errorf("ledger: reading %s item %d: %w", st.id, n, err)
		}
		keys := make([]string, 0, len(it.Entries))
		for _, e := range it.Entries {
			if e.Transfer == "" {
				continue
			}
			k := entryKeyOf(e.Transfer, e.Leg)
			slim := e
			slim.Authorisation, slim.Description = "", ""
			st.recent[k] = entryRef{n: n, entry: slim}
			keys = append(keys, k)
		}
		st.byItem[n] = keys
		st.low = n - 1
	}
	return nil
}

// load finds the account's head the first time this process touches it.
func (l *Ledger) load(ctx context.Context, st *accountState) error {
	if st.head != nil {
		return nil
	}
	head, err := l.findHead(ctx, st.id)
	if err != nil {
		return err
	}
	st.head, st.low = head, head.N
	st.recent, st.byItem = map[string]entryRef{}, map[uint64][]string{}
	st.known.Store(head.N)
	st.loaded.Store(true)
	st.observe(head)
	return nil
}

// catchUp reads the items other writers appended after our head.
func (l *Ledger) catchUp(ctx context.Context, st *accountState) error {
	for {
		it, err := l.readItem(ctx, st.id, st.head.N+1, st.head)
		if err != nil || it == nil {
			return err
		}
		if err := checkItem(st.head, it); err != nil {
			return err
		}
		l.remember(st, it)
	}
}

type headHint struct {
	N uint64 `json:"n"`
}

// findHead returns the newest item of acc. The hint only says where to
// start: the true head is the last item that exists, found by galloping
// forward and then bisecting (items exist contiguously from 0, because
// item n+1 is only ever written after item n was read).
//
// The newest item this process has seen is a better start than the hint
// (which lags by up to 256 items) and costs no request: items are
// immutable, so a warm instance reads only the next index, finds it
// absent and answers (1 get instead of the hint, its item and a gallop:
// 5 gets on a short log; docs/design/cost.md). The answer is as fresh as
// from the hint: the last item that existed when its successor was read.
func (l *Ledger) findHead(ctx context.Context, acc string) (*Item, error) {
	st := l.state(acc)
	if seen := st.seen.Load(); seen != nil {
		head, err := l.gallop(ctx, acc, seen)
		if err == nil {
			st.observe(head)
		}
		return head, err
	}
	var hint headHint
	if _, err := l.b.GetJSON(ctx, headHintKey(acc), &hint); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	lo, err := l.getItem(ctx, acc, hint.N)
	if err != nil {
		return nil, err
	}
	if lo == nil && hint.N != 0 {
		return nil, internal("account %s: head hint %d points past the log", acc, hint.N)
	}
	if lo == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoAccount, acc)
	}
	head, err := l.gallop(ctx, acc, lo)
	if err == nil {
		st.observe(head)
	}
	return head, err
}

// getItem reads item n of acc, or nil if it does not exist.
func (l *Ledger) getItem(ctx context.Context, acc string, n uint64) (*Item, error) {
	return l.readItem(ctx, acc, n, nil)
}

// gallop finds the last existing item at or after lo, which exists. Each
// probe is above lo, so lo tells readItem when an absent object is the
// end of the log (see compact.go).
func (l *Ledger) gallop(ctx context.Context, acc string, lo *Item) (*Item, error) {
	get := func(n uint64) (*Item, error) { return l.readItem(ctx, acc, n, lo) }
	// Gallop: find a missing index hi above lo.
	step := uint64(1)
	var hi uint64
	for {
		it, err := get(lo.N + step)
		if err != nil {
			return nil, err
		}
		if it == nil {
			hi = lo.N + step
			break
		}
		lo = it
		step *= 2
	}
	// Bisect in (lo.N, hi): lo exists, hi does not.
	for hi-lo.N > 1 {
		mid := lo.N + (hi-lo.N)/2
		it, err := get(mid)
		if err != nil {
			return nil, err
		}
		if it == nil {
			hi = mid
		} else {
			lo = it
		}
	}
	return lo, nil
}

func backoff(attempt int) time.Duration {
	d := 50 * time.Microsecond << min(attempt, 8)
	return time.Duration(rand.Int64N(int64(d))) + time.Microsecond
}

// headBound returns an index that is at most acc's true head now: this
// process's known head if it has one, else the head found in the store. It
// is the lower bound recorded for legs applied later (see DESIGN.md).
func (l *Ledger) headBound(ctx context.Context, acc string) (uint64, error) {
	st := l.state(acc)
	if st.loaded.Load() {
		return st.known.Load(), nil
	}
	h, err := l.findHead(ctx, acc)
	if err != nil {
		return 0, err
	}
	st.observe(h)
	return h.N, nil
}

// view returns a recent state of acc: the newest item this process has
// seen, or else its head read now. With fresh, always the head read now.
func (l *Ledger) view(ctx context.Context, acc string, fresh bool) (*Item, error) {
	st := l.state(acc)
	if it := st.seen.Load(); it != nil && !fresh {
		return it, nil
	}
	it, err := l.findHead(ctx, acc)
	if err != nil {
		return nil, err
	}
	st.observe(it)
	return it, nil
}
