// Package ledger is Acquire's double-entry ledger on an object store.
//
// Each account is an append-only log of immutable items written with
// put-if-absent; each item carries the running balance, liability,
// receivable and overdraft limit, so an account's state is one read of its
// newest item and its log is the audit trail. Transfers are recorded under a
// client-chosen id before they are applied, first to the debit account and
// then to the credit account; every log entry names its transfer and leg,
// and an account's log is the only authority on whether a leg was applied,
// so a crash at any point leaves a state that any later call finishes
// exactly once. Correctness rests only on the store's conditional writes:
// many processes may run the ledger against one bucket at once. In-process
// state (the per-account batcher and item cache) is an optimisation; items
// are immutable, so caching them is always sound.
//
// See DESIGN.md in this folder for the layout and the exactly-once argument.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// Typed errors. Every error the ledger returns wraps one of these (or a
// store error, or a context error), so callers use errors.Is.
var (
	// ErrInsufficientFunds: the debit would take the account below minus
	// its overdraft limit. The transfer is refused, permanently: the refusal
	// is written into the payer's log, and a retry returns it again.
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrPayeeLimit: the credit would take the payee's balance or
	// receivable beyond MaxAmount. A transfer is refused for it before
	// anything moves, permanently like ErrInsufficientFunds; a receipt is
	// refused for it before its resolution is recorded.
	ErrPayeeLimit = errors.New("ledger: the payee's account cannot take the amount within the ledger's bound")
	// ErrIDConflict: a transfer id was reused with different content.
	ErrIDConflict = errors.New("ledger: transfer id reused with different content")
	// ErrNoAccount: the account does not exist.
	ErrNoAccount = errors.New("ledger: no such account")
	// ErrAccountExists: an account id was reused with different content.
	ErrAccountExists = errors.New("ledger: account exists with different content")
	// ErrNoTransfer: the transfer id is not recorded.
	ErrNoTransfer = errors.New("ledger: no such transfer")
	// ErrNotProvisional: receipt, refund or void of a direct transfer.
	ErrNotProvisional = errors.New("ledger: transfer is not provisional")
	// ErrAlreadyResolved: the provisional transfer was already receipted,
	// refunded, voided or expired (differently from this request).
	ErrAlreadyResolved = errors.New("ledger: provisional transfer already resolved")
	// ErrExpired: the provisional transfer passed its receipt_by time and
	// has been (or now is) expired.
	ErrExpired = errors.New("ledger: provisional transfer expired")
	// ErrOverReceipt: a receipt above the transfer's amount.
	ErrOverReceipt = errors.New("ledger: receipt above the transferred amount")
	// ErrRefused: the operation concerns a transfer that was refused.
	ErrRefused = errors.New("ledger: transfer was refused")
	// ErrOverdraft: an overdraft limit that is negative, too large, or below
	// what the balance already uses.
	ErrOverdraft = errors.New("ledger: invalid overdraft limit")
	// ErrInvalid: a malformed request (bad id, amount <= 0, same account on
	// both sides, oversized text, ...).
	ErrInvalid = errors.New("ledger: invalid request")
	// ErrBadAmount: a malformed decimal amount.
	ErrBadAmount = errors.New("ledger: malformed amount")
	// ErrAmountOutOfRange: an amount or a result beyond ±MaxAmount.
	ErrAmountOutOfRange = errors.New("ledger: amount out of range")
	// ErrInternal: an invariant would break. Nothing was written.
	ErrInternal = errors.New("ledger: internal invariant violated")
	// ErrContention: the bounded retry loop on one account's log gave up.
	ErrContention = errors.New("ledger: too much contention on an account log")
	// ErrAudit: Audit found anomalies (listed in its report).
	ErrAudit = errors.New("ledger: audit found anomalies")
	// ErrSweepIncomplete: Expire could not finish some due transfers (each
	// was logged); it went on with the rest, and the next sweep retries them.
	ErrSweepIncomplete = errors.New("ledger: expiry sweep left transfers unfinished")
)

// Refused says whether err is a transfer's final refusal (nothing moved,
// and a retry of that id is refused again): insufficient funds, or a payee
// that cannot take the amount.
func Refused(err error) bool {
	return errors.Is(err, ErrInsufficientFunds) || errors.Is(err, ErrPayeeLimit)
}

// refusalError is the error of a transfer refused for reason.
func refusalError(reason, id string) error {
	if reason == RefusalPayeeLimit {
		return fmt.Errorf("%w: transfer %s", ErrPayeeLimit, id)
	}
	return fmt.Errorf("%w: transfer %s", ErrInsufficientFunds, id)
}

// Limits.
const (
	// MaxIDBytes bounds account and transfer ids.
	MaxIDBytes = 128
	// MaxDescriptionBytes bounds a transfer's description.
	MaxDescriptionBytes = 1024
	// MaxAuthorisationBytes bounds the opaque authorisation recorded.
	MaxAuthorisationBytes = 16 << 10
	// MaxNameBytes bounds account owner and name.
	MaxNameBytes = 256
	// maxEntriesPerItem bounds how many entries one batched item holds.
	maxEntriesPerItem = 256
	// maxItemBytes bounds one item's encoded size (estimated before write).
	maxItemBytes = 4 << 20
	// maxAppendAttempts bounds the put-if-absent loop on one account log.
	maxAppendAttempts = 2000
	// hintEvery: the head hint is rewritten when an item index is a
	// multiple of this (best effort). Each rewrite replaces a file on the
	// local-files store, and freed inodes make later file creation slower
	// on ext4 without a journal; a stale hint costs a new process a
	// gallop of about log2(hintEvery) reads, once per account.
	hintEvery = 256
	// recentItemsMax bounds how many recent items per account stay indexed
	// in memory.
	recentItemsMax = 4096
	// maxCachedAccounts bounds how many idle account states stay in memory.
	maxCachedAccounts = 100_000
	// maxPendingOutcomes bounds background outcome writes in flight.
	maxPendingOutcomes = 256
	// MaxPageSize bounds a statement page.
	MaxPageSize = 1000
)

// MintAccount is the account money is created from: deposits are transfers
// from it. It may go negative without limit (down to -MaxAmount), so the
// sum of all balances over all accounts, the mint included, is always
// exactly zero.
const MintAccount = "mint"

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// CheckID checks an account or transfer id the way the ledger does
// (ErrInvalid), for callers that derive ledger ids from ids they are given.
func CheckID(kind, id string) error { return checkID(kind, id) }

func checkID(kind, id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("%w: %s id %q (want [A-Za-z0-9][A-Za-z0-9_.:-]{0,127})", ErrInvalid, kind, id)
	}
	return nil
}

// Keys. Ids are validated by idRE and also passed through store.EncodeName,
// so an id can never escape its prefix.
const (
	prefix            = "ledger/"
	accountIndexPre   = prefix + "index/accounts/"
	transfersPre      = prefix + "transfers/"
	resolutionsPre    = prefix + "resolutions/"
	expiryPre         = prefix + "expiry/"
	accountsPre       = prefix + "accounts/"
	itemIndexDigits   = 20
	expiryStampDigits = 20
)

func accountIndexKey(acc string) string { return accountIndexPre + store.EncodeName(acc) }
func itemsPrefix(acc string) string     { return accountsPre + store.EncodeName(acc) + "/items/" }
func itemKey(acc string, n uint64) string {
	return fmt.Sprintf("%s%0*d", itemsPrefix(acc), itemIndexDigits, n)
}
func headHintKey(acc string) string  { return accountsPre + store.EncodeName(acc) + "/head" }
func transferKey(id string) string   { return transfersPre + store.EncodeName(id) }
func resolutionKey(id string) string { return resolutionsPre + store.EncodeName(id) }
func expiryKey(receiptBy time.Time, id string) string {
	return fmt.Sprintf("%s%0*d/%s", expiryPre, expiryStampDigits, receiptBy.UnixMilli(), store.EncodeName(id))
}

// Ledger is the ledger on one bucket. It is safe for concurrent use, and
// any number of Ledgers (in this or other processes) may share a bucket.
type Ledger struct {
	b   *store.Bucket
	now func() time.Time
	log *slog.Logger

	mu       sync.Mutex
	accounts map[string]*accountState

	outcomes chan struct{} // semaphore of background outcome writes
	bg       sync.WaitGroup

	noOutcome bool // see WithoutOutcomeCache
	// auditMaxEntries, if set (tests), replaces the audit's memory budget.
	auditMaxEntries int
	segments        segmentCache
	horizon         time.Duration // see WithRetryHorizon
	runs            runView
	cursorMu        sync.Mutex
	recordCursor    string // where the next CompactRecords lists from
	inlineBG        bool   // see WithInlineBackground

	// crashAt, set only by tests, is called at each numbered step of a
	// transfer or resolution; a non-nil error makes the ledger stop right
	// there, as if the process died, and return that error.
	crashAt func(step string) error
}

// Option configures a Ledger.
type Option func(*Ledger)

// WithClock replaces time.Now (tests, expiry).
func WithClock(now func() time.Time) Option { return func(l *Ledger) { l.now = now } }

// WithLogger sets where the expiry sweep reports transfers it could not
// finish (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(l *Ledger) { l.log = log } }

// WithoutOutcomeCache skips the best-effort write that caches a finished
// transfer's outcome in its record. The cache is written only when a retry
// or Complete finds a transfer already applied (never on its first run), so
// skipping it saves a write per retried id at the price of a log scan on
// every later retry or Complete of that id.
func WithoutOutcomeCache() Option { return func(l *Ledger) { l.noOutcome = true } }

// WithInlineBackground runs the best-effort writes (outcome cache, head
// hints, expiry index clean-up) in the caller, where they are started,
// instead of in goroutines. A deterministic simulation needs it: two
// background writes racing a simulated crash would land or not as the Go
// scheduler decides, and a seed would no longer replay.
func WithInlineBackground() Option { return func(l *Ledger) { l.inlineBG = true } }

// New returns a ledger on bucket b and makes sure the mint account exists.
func New(ctx context.Context, b *store.Bucket, opts ...Option) (*Ledger, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil bucket", ErrInvalid)
	}
	l := &Ledger{
		b:        b,
		now:      time.Now,
		log:      slog.Default(),
		accounts: map[string]*accountState{},
		outcomes: make(chan struct{}, maxPendingOutcomes),
		horizon:  DefaultRetryHorizon,
	}
	for _, o := range opts {
		o(l)
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	_, err := l.createAccount(ctx, AccountSpec{ID: MintAccount, Owner: "ledger", Name: "mint"}, true)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Close waits for background best-effort writes (head hints, transfer
// outcomes) to finish. It does not close the bucket.
func (l *Ledger) Close() error {
	l.bg.Wait()
	return nil
}

func (l *Ledger) step(name string) error {
	if l.crashAt == nil {
		return nil
	}
	return l.crashAt(name)
}

// clock returns the current time in UTC, truncated to microseconds so it
// survives a JSON round trip unchanged.
func (l *Ledger) clock() time.Time { return l.now().UTC().Truncate(time.Microsecond) }

// background runs fn if a slot is free, else drops it: fn is only ever a
// best-effort write whose absence costs speed, never correctness.
func (l *Ledger) background(fn func(ctx context.Context)) {
	if l.inlineBG {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fn(ctx)
		return
	}
	select {
	case l.outcomes <- struct{}{}:
	default:
		return
	}
	l.bg.Add(1)
	go func() {
		defer l.bg.Done()
		defer func() { <-l.outcomes }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fn(ctx)
	}()
}

func internal(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInternal, fmt.Sprintf(format, args...))
}
