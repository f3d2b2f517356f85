package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// The audit at 10^7 objects (issue 24). A ledger of 10^7 objects on the
// file store is 10^7 inodes, more than this machine's disk has free, so the
// audit's memory is measured on a SyntheticLedger: a read-only store
// driver that computes a valid ledger's objects on the fly from their keys
// (no disk), so the audit really lists, reads, decodes and checks every one
// of them, exactly as it would from a store.

// syntheticKeys' ledger key layout (runtime/ledger/ledger.go): kept here
// because the generator answers the ledger's own keys.
const (
	synIndexPre     = "ledger/index/accounts/"
	synAccountsPre  = "ledger/accounts/"
	synTransfersPre = "ledger/transfers/"
	synItemDigits   = 20
	// synPer is how many transfers each account sends (and receives).
	synPer = 4
	// synObjectsPerAccount: its index entry, item 0, 2*synPer transfer
	// items, and the synPer transfer records it sends.
	synObjectsPerAccount = 1 + 1 + 2*synPer + synPer
	// MaxSyntheticObjects bounds a synthetic ledger's size.
	MaxSyntheticObjects = 1_000_000_000
)

// SyntheticLedger serves a ledger of Accounts accounts g000000000… in a
// ring: account i sends synPer transfers of 1 unit to account i+1 (mod
// Accounts) and receives synPer from account i-1, alternating, each account
// with an overdraft of 10, so every log is valid, every transfer is applied
// on both sides, and the balances sum to zero. Besides them there is only
// the mint's item 0. Writes are refused (ErrUnsupported), except that a
// put-if-absent of an object it serves fails as the key exists, which is
// what ledger.New meets for the mint.
type SyntheticLedger struct {
	accounts int
	t0       time.Time
	od, one  ledger.Amount
	reads    atomic.Int64
}

// NewSyntheticLedger returns a generator of about objects objects.
func NewSyntheticLedger(objects int) (*SyntheticLedger, error) {
	if objects < 2*synObjectsPerAccount || objects > MaxSyntheticObjects {
		return nil, fmt.Errorf("%w: synthetic ledger of %d objects, want [%d, %d]", store.ErrInvalidArgument, objects, 2*synObjectsPerAccount, MaxSyntheticObjects)
	}
	return &SyntheticLedger{
		accounts: objects / synObjectsPerAccount,
		t0:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		od:       ledger.MustParse("10"), one: ledger.MustParse("1"),
	}, nil
}

// Objects is how many objects the ledger holds (the mint's two included).
func (s *SyntheticLedger) Objects() int { return s.accounts*synObjectsPerAccount + 2 }

// Transfers is how many transfers it records.
func (s *SyntheticLedger) Transfers() int { return s.accounts * synPer }

// Reads counts the objects served by Get.
func (s *SyntheticLedger) Reads() int64 { return s.reads.Load() }

func (s *SyntheticLedger) accountID(i int) string { return fmt.Sprintf("g%09d", i) }

func transferID(i, q int) string { return fmt.Sprintf("x%09d-%03d", i, q) }

// account parses an account id of this ledger: its index, or -1 for the
// mint; false for any other id.
func (s *SyntheticLedger) account(id string) (int, bool) {
	if id == ledger.MintAccount {
		return -1, true
	}
	if len(id) != 10 || id[0] != 'g' {
		return 0, false
	}
	i, err := strconv.Atoi(id[1:])
	return i, err == nil && i >= 0 && i < s.accounts && id == s.accountID(i)
}

// Get answers the index entry, a log item or a transfer record.
func (s *SyntheticLedger) Get(_ context.Context, key string) ([]byte, store.Version, error) {
	v, err := s.object(key)
	if err != nil {
		return nil, "", err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	s.reads.Add(1)
	return data, "1", nil
}

func (s *SyntheticLedger) object(key string) (any, error) {
	switch {
	case strings.HasPrefix(key, synIndexPre):
		id, err := store.DecodeName(key[len(synIndexPre):])
		if i, ok := s.account(id); err == nil && ok {
			return s.index(i), nil
		}
	case strings.HasPrefix(key, synAccountsPre):
		acc, rest, _ := strings.Cut(key[len(synAccountsPre):], "/")
		id, err := store.DecodeName(acc)
		i, ok := s.account(id)
		digits, isItem := strings.CutPrefix(rest, "items/")
		n, nerr := strconv.ParseUint(digits, 10, 64)
		if err == nil && ok && isItem && nerr == nil && len(digits) == synItemDigits && n < s.items(i) {
			return s.item(i, n), nil
		}
	case strings.HasPrefix(key, synTransfersPre):
		if i, q, ok := s.transfer(key[len(synTransfersPre):]); ok {
			return s.record(i, q), nil
		}
	}
	return nil, store.ErrNotFound
}

// items is how many items account i's log holds.
func (s *SyntheticLedger) items(i int) uint64 {
	if i < 0 {
		return 1
	}
	return 1 + 2*synPer
}

func (s *SyntheticLedger) transfer(name string) (int, int, bool) {
	id, err := store.DecodeName(name)
	if err != nil || len(id) != 14 || id[0] != 'x' || id[10] != '-' {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(id[1:10])
	q, err2 := strconv.Atoi(id[11:])
	ok := err1 == nil && err2 == nil && i >= 0 && i < s.accounts && q >= 0 && q < synPer && id == transferID(i, q)
	return i, q, ok
}

// synIndex is the account index entry's form (runtime/ledger/account.go).
type synIndex struct {
	ID        string        `json:"id"`
	Owner     string        `json:"owner"`
	Name      string        `json:"name"`
	Overdraft ledger.Amount `json:"overdraft"`
	Unlimited bool          `json:"unlimited,omitempty"`
}

func (s *SyntheticLedger) index(i int) synIndex {
	if i < 0 {
		return synIndex{ID: ledger.MintAccount, Owner: "ledger", Name: "mint", Unlimited: true}
	}
	id := s.accountID(i)
	return synIndex{ID: id, Owner: "bench", Name: id, Overdraft: s.od}
}

// item is item n of account i: odd items debit transfer (i, (n-1)/2) to
// the next account, even ones credit transfer (i-1, n/2-1) from the one
// before, so the balance goes 0, -1, 0, -1, …
func (s *SyntheticLedger) item(i int, n uint64) ledger.Item {
	if i < 0 {
		return ledger.Item{
			Account: ledger.MintAccount, Time: s.t0, Owner: "ledger", Name: "mint", Unlimited: true,
			Entries: []ledger.Entry{{Leg: ledger.LegOpen}},
		}
	}
	id := s.accountID(i)
	it := ledger.Item{Account: id, N: n, Time: s.t0.Add(time.Duration(n) * time.Second), Overdraft: s.od}
	if n == 0 {
		it.Owner, it.Name = "bench", id
		it.Entries = []ledger.Entry{{Leg: ledger.LegOpen, Amount: s.od, Overdraft: s.od}}
		return it
	}
	if n%2 == 1 {
		it.Balance = s.one.Neg()
		it.Entries = []ledger.Entry{{
			Transfer: transferID(i, int(n-1)/2), Leg: ledger.LegDebit, Counterparty: s.accountID((i + 1) % s.accounts),
			Amount: s.one, DBalance: s.one.Neg(), Balance: s.one.Neg(), Overdraft: s.od,
		}}
		return it
	}
	prev := (i + s.accounts - 1) % s.accounts
	it.Entries = []ledger.Entry{{
		Transfer: transferID(prev, int(n)/2-1), Leg: ledger.LegCredit, Counterparty: s.accountID(prev),
		Amount: s.one, DBalance: s.one, Overdraft: s.od,
	}}
	return it
}

// synRecord is a transfer record's form (runtime/ledger/transfer.go).
type synRecord struct {
	ledger.TransferRequest
	Recorded   time.Time    `json:"recorded"`
	State      ledger.State `json:"state,omitempty"`
	DebitItem  uint64       `json:"debit_item,omitempty"`
	CreditItem uint64       `json:"credit_item,omitempty"`
}

func (s *SyntheticLedger) record(i, q int) synRecord {
	return synRecord{
		TransferRequest: ledger.TransferRequest{ID: transferID(i, q), From: s.accountID(i), To: s.accountID((i + 1) % s.accounts), Amount: s.one},
		Recorded:        s.t0.Add(time.Duration(2*q+1) * time.Second),
		State:           ledger.StateApplied, DebitItem: uint64(2*q + 1), CreditItem: uint64(2*q + 2),
	}
}

// List pages through the account index, one account's items (its segments:
// none) or the transfer records, computing each page's keys from the
// token: a page costs O(page). Other prefixes hold nothing.
func (s *SyntheticLedger) List(_ context.Context, prefix, token string, size int) (store.Page, error) {
	from := 0
	if token != "" {
		var err error
		if from, err = strconv.Atoi(token); err != nil || from < 0 {
			return store.Page{}, fmt.Errorf("%w: page token", store.ErrInvalidArgument)
		}
	}
	count, key := s.sequence(prefix)
	var page store.Page
	for j := from; j < count && len(page.Items) < size; j++ {
		page.Items = append(page.Items, store.ObjectInfo{Key: key(j), Version: "1", Modified: s.t0})
	}
	if end := from + len(page.Items); end < count {
		page.Next = strconv.Itoa(end)
	}
	return page, nil
}

// sequence returns how many keys lie under prefix and the j-th of them.
func (s *SyntheticLedger) sequence(prefix string) (int, func(int) string) {
	switch {
	case prefix == synIndexPre: // g… sorts before mint
		return s.accounts + 1, func(j int) string {
			if j == s.accounts {
				return synIndexPre + ledger.MintAccount
			}
			return synIndexPre + s.accountID(j)
		}
	case prefix == synTransfersPre:
		return s.accounts * synPer, func(j int) string { return synTransfersPre + transferID(j/synPer, j%synPer) }
	case strings.HasPrefix(prefix, synAccountsPre) && strings.HasSuffix(prefix, "/items/"):
		id, err := store.DecodeName(strings.TrimSuffix(prefix[len(synAccountsPre):], "/items/"))
		if i, ok := s.account(id); err == nil && ok {
			return int(s.items(i)), func(j int) string { return fmt.Sprintf("%s%0*d", prefix, synItemDigits, j) }
		}
	}
	return 0, nil
}

// PutIfAbsent fails as the key exists for an object it serves; every other
// write is refused: the ledger is read only.
func (s *SyntheticLedger) PutIfAbsent(_ context.Context, key string, _ []byte) (store.Version, error) {
	if _, err := s.object(key); err == nil {
		return "", store.ErrPrecondition
	}
	return "", fmt.Errorf("synthetic ledger: %w: write %q", store.ErrUnsupported, key)
}

func (s *SyntheticLedger) Put(_ context.Context, key string, _ []byte) (store.Version, error) {
	return "", fmt.Errorf("synthetic ledger: %w: write %q", store.ErrUnsupported, key)
}

func (s *SyntheticLedger) PutIfVersion(_ context.Context, key string, _ []byte, _ store.Version) (store.Version, error) {
	return "", fmt.Errorf("synthetic ledger: %w: write %q", store.ErrUnsupported, key)
}

func (s *SyntheticLedger) Delete(_ context.Context, key string) error {
	return fmt.Errorf("synthetic ledger: %w: delete %q", store.ErrUnsupported, key)
}

func (s *SyntheticLedger) DeleteIfVersion(_ context.Context, key string, _ store.Version) error {
	return fmt.Errorf("synthetic ledger: %w: delete %q", store.ErrUnsupported, key)
}

func (s *SyntheticLedger) SignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", store.ErrUnsupported
}

func (s *SyntheticLedger) Close() error { return nil }

// AuditMemory is one audit's measure.
type AuditMemory struct {
	Objects   int                `json:"objects"`
	Transfers int                `json:"transfers"`
	Reads     int64              `json:"reads"`     // objects the audit read (Get)
	PeakHeap  uint64             `json:"peak_heap"` // most heap in use above the start, sampled
	PeakLive  uint64             `json:"peak_live"` // most heap live after a collection, above the start
	Duration  time.Duration      `json:"duration"`  // wall time, for context only
	Report    ledger.AuditReport `json:"report"`
}

// auditSampleEvery is how often the heap is sampled during an audit.
const auditSampleEvery = 20 * time.Millisecond

// MeasureAudit runs ledger.Audit over a synthetic ledger of about objects
// objects, holding at most budget transfer entries at once (0: the
// ledger's default), and reports the most heap in use above what was in
// use when it started (runtime.MemStats.HeapInuse, sampled every 20 ms
// after a collection), and the most heap found live by a collection (the
// runtime's /gc/heap/live:bytes), which leaves out the garbage a
// collection has yet to free. The audit must find the ledger clean.
func MeasureAudit(ctx context.Context, objects, budget int) (AuditMemory, error) {
	return MeasureAuditProgress(ctx, objects, budget, 0, nil)
}

// MeasureAuditProgress is MeasureAudit calling progress (if not nil) every
// every with the objects read so far and the peaks so far.
func MeasureAuditProgress(ctx context.Context, objects, budget int, every time.Duration, progress func(reads int64, peakHeap, peakLive uint64)) (AuditMemory, error) {
	gen, err := NewSyntheticLedger(objects)
	if err != nil {
		return AuditMemory{}, err
	}
	b := store.NewBucket(gen)
	l, err := ledger.New(ctx, b, ledger.WithAuditMemory(budget))
	if err != nil {
		return AuditMemory{}, err
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, baseLive := ms.HeapInuse, liveHeap()
	var peak, peakLive atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(auditSampleEvery)
		defer t.Stop()
		last := time.Now()
		for {
			if progress != nil && every > 0 && time.Since(last) >= every {
				last = time.Now()
				progress(gen.Reads(), peak.Load(), peakLive.Load())
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			if live := liveHeap(); live > baseLive && live-baseLive > peakLive.Load() {
				peakLive.Store(live - baseLive)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	t0 := time.Now()
	rep, err := l.Audit(ctx)
	dur := time.Since(t0)
	close(done)
	wg.Wait()
	debug.FreeOSMemory()
	m := AuditMemory{Objects: gen.Objects(), Transfers: gen.Transfers(), Reads: gen.Reads(), PeakHeap: peak.Load(), PeakLive: peakLive.Load(), Duration: dur, Report: rep}
	if err != nil {
		return m, err
	}
	if rep.Transfers != gen.Transfers() || rep.Applied != gen.Transfers() || rep.Accounts != gen.accounts+1 {
		return m, fmt.Errorf("audit saw %d accounts, %d transfers (%d applied), want %d and %d", rep.Accounts, rep.Transfers, rep.Applied, gen.accounts+1, gen.Transfers())
	}
	return m, nil
}

func mustJSON(v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
