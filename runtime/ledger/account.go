package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/textsafe"
)

// AccountSpec describes an account to create. ID is optional: empty means
// a fresh random id. With an explicit ID, creation is idempotent: the same
// spec again returns the account, a different one ErrAccountExists.
type AccountSpec struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	Name      string `json:"name"`
	Overdraft Amount `json:"overdraft"`
}

// Account is an account's fixed description (its state is in Balance).
type Account struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	Unlimited bool      `json:"unlimited,omitempty"`
}

// accountIndex is the object under ledger/index/accounts/<id>: it lets
// Audit and ListAccounts find every account. It is written before item 0,
// so an account whose item 0 exists is always listed.
type accountIndex struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	Name      string `json:"name"`
	Overdraft Amount `json:"overdraft"`
	Unlimited bool   `json:"unlimited,omitempty"`
}

// CreateAccount creates an account with the given overdraft limit (>= 0).
func (l *Ledger) CreateAccount(ctx context.Context, spec AccountSpec) (Account, error) {
	if spec.ID == MintAccount {
		return Account{}, fmt.Errorf("%w: %q is reserved", ErrInvalid, MintAccount)
	}
	if spec.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return Account{}, err
		}
		spec.ID = "acct-" + hex.EncodeToString(b[:])
	}
	return l.createAccount(ctx, spec, false)
}

// checkText refuses text over limit, not UTF-8, or holding characters a
// terminal acts on (escape sequences, bidirectional overrides): another
// user's statement shows it.
func checkText(what, s string, limit int) error {
	if len(s) > limit || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s: not UTF-8 or over %d bytes", ErrInvalid, what, limit)
	}
	if r, bad := textsafe.Find(s); bad {
		return fmt.Errorf("%w: %s: holds control or format character %U", ErrInvalid, what, r)
	}
	return nil
}

func (l *Ledger) createAccount(ctx context.Context, spec AccountSpec, unlimited bool) (Account, error) {
	if err := errors.Join(checkID("account", spec.ID), checkText("owner", spec.Owner, MaxNameBytes),
		checkText("name", spec.Name, MaxNameBytes)); err != nil {
		return Account{}, err
	}
	if spec.Overdraft.IsNegative() || spec.Overdraft.Cmp(MaxAmount) > 0 {
		return Account{}, fmt.Errorf("%w: %s", ErrOverdraft, spec.Overdraft)
	}
	idx := accountIndex{ID: spec.ID, Owner: spec.Owner, Name: spec.Name, Overdraft: spec.Overdraft, Unlimited: unlimited}
	if _, err := l.b.PutJSONIfAbsent(ctx, accountIndexKey(spec.ID), idx); errors.Is(err, store.ErrPrecondition) {
		var old accountIndex
		if _, err := l.b.GetJSON(ctx, accountIndexKey(spec.ID), &old); err != nil {
			return Account{}, err
		}
		if old != idx {
			return Account{}, fmt.Errorf("%w: %s", ErrAccountExists, spec.ID)
		}
	} else if err != nil {
		return Account{}, err
	}
	now := l.clock()
	genesis := Item{
		Account: spec.ID, N: 0, Time: now, Owner: spec.Owner, Name: spec.Name, Unlimited: unlimited,
		Overdraft: spec.Overdraft,
		Entries:   []Entry{{Leg: LegOpen, Amount: spec.Overdraft, Overdraft: spec.Overdraft}},
	}
	if _, err := l.b.PutJSONIfAbsent(ctx, itemKey(spec.ID, 0), genesis); errors.Is(err, store.ErrPrecondition) {
		// Created before (by us, a retry, or a racer with the same spec,
		// which the index check above already compared).
		return l.GetAccount(ctx, spec.ID)
	} else if err != nil {
		return Account{}, err
	}
	return Account{ID: spec.ID, Owner: spec.Owner, Name: spec.Name, Created: now, Unlimited: unlimited}, nil
}

// GetAccount returns an account's description from its item 0.
func (l *Ledger) GetAccount(ctx context.Context, id string) (Account, error) {
	if err := checkID("account", id); err != nil {
		return Account{}, err
	}
	var g Item
	if _, err := l.b.GetJSON(ctx, itemKey(id, 0), &g); errors.Is(err, store.ErrNotFound) {
		return Account{}, fmt.Errorf("%w: %s", ErrNoAccount, id)
	} else if err != nil {
		return Account{}, err
	}
	return Account{ID: g.Account, Owner: g.Owner, Name: g.Name, Created: g.Time, Unlimited: g.Unlimited}, nil
}

// ListAccounts returns one page of account ids in lexical order; pass the
// returned token to get the next page ("" when done).
func (l *Ledger) ListAccounts(ctx context.Context, pageToken string, pageSize int) ([]string, string, error) {
	page, err := l.b.List(ctx, accountIndexPre, pageToken, min(max(pageSize, 1), MaxPageSize))
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, 0, len(page.Items))
	for _, it := range page.Items {
		id, err := store.DecodeName(it.Key[len(accountIndexPre):])
		if err != nil {
			return nil, "", internal("bad account index key %q", it.Key)
		}
		ids = append(ids, id)
	}
	return ids, page.Next, nil
}

// Balance is an account's state after its newest item.
type Balance struct {
	Account    string    `json:"account"`
	Balance    Amount    `json:"balance"`
	Liability  Amount    `json:"liability"`
	Receivable Amount    `json:"receivable"`
	Overdraft  Amount    `json:"overdraft"`
	Available  Amount    `json:"available"` // balance − liability + overdraft
	Unlimited  bool      `json:"unlimited,omitempty"`
	Item       uint64    `json:"item"` // index of the item it was read from
	Time       time.Time `json:"time"` // when that item was written
}

func balanceOf(it *Item) (Balance, error) {
	av, err := available(it.Balance, it.Liability, it.Overdraft)
	if err != nil {
		return Balance{}, internal("account %s: %v", it.Account, err)
	}
	return Balance{
		Account: it.Account, Balance: it.Balance, Liability: it.Liability, Receivable: it.Receivable,
		Overdraft: it.Overdraft, Available: av, Unlimited: it.Unlimited, Item: it.N, Time: it.Time,
	}, nil
}

// Balance reads an account's current state: the newest item of its log,
// found from the best starting point known and confirmed by probing that
// the next item does not exist.
func (l *Ledger) Balance(ctx context.Context, acc string) (Balance, error) {
	if err := checkID("account", acc); err != nil {
		return Balance{}, err
	}
	it, err := l.findHead(ctx, acc)
	if err != nil {
		return Balance{}, err
	}
	return balanceOf(it)
}

// SetOverdraft changes an account's overdraft limit. The change is an entry
// in the account's log, decided against the newest state: a limit that is
// negative, above MaxAmount, or below what the balance already uses
// (balance − liability + limit < 0) is refused with ErrOverdraft.
func (l *Ledger) SetOverdraft(ctx context.Context, acc string, limit Amount, authorisation string) (Balance, error) {
	if err := errors.Join(checkID("account", acc), checkText("authorisation", authorisation, MaxAuthorisationBytes)); err != nil {
		return Balance{}, err
	}
	r := &legReq{entry: Entry{Leg: LegOverdraft, Amount: limit, Authorisation: authorisation}}
	if err := l.apply(ctx, acc, r); err != nil {
		return Balance{}, err
	}
	e := r.got
	av, err := available(e.Balance, e.Liability, e.Overdraft)
	if err != nil {
		return Balance{}, internal("%v", err)
	}
	return Balance{Account: acc, Balance: e.Balance, Liability: e.Liability, Receivable: e.Receivable,
		Overdraft: e.Overdraft, Available: av, Item: r.n}, nil
}
