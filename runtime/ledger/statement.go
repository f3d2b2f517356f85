package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// Line is one entry of a statement: what changed, when, why (transfer and
// authorisation) and the account's state after it.
type Line struct {
	Account string    `json:"account"`
	Item    uint64    `json:"item"`
	Index   int       `json:"index"` // entry index inside the item
	Time    time.Time `json:"time"`
	Entry
}

// StatementPage is one page of a statement; Next is "" on the last page.
type StatementPage struct {
	Lines []Line `json:"lines"`
	Next  string `json:"next,omitempty"`
}

// item reads item n, which must exist (n is at most a head read before),
// from its object or its segment (compact.go).
func (l *Ledger) item(ctx context.Context, acc string, n uint64) (*Item, error) {
	it, err := l.readItem(ctx, acc, n, nil)
	if err != nil {
		return nil, err
	}
	if it == nil && n == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoAccount, acc)
	}
	if it == nil {
		return nil, fmt.Errorf("ledger: %s item %d: %w", acc, n, store.ErrNotFound)
	}
	return it, nil
}

// firstAtOrAfter returns the smallest item index in [0, head.N+1] whose
// time is >= t (head.N+1 if none). Item times never decrease along a log,
// so this is a binary search.
func (l *Ledger) firstAtOrAfter(ctx context.Context, acc string, head *Item, t time.Time) (uint64, error) {
	lo, hi := uint64(0), head.N+1 // answer in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		it, err := l.item(ctx, acc, mid)
		if err != nil {
			return 0, err
		}
		if it.Time.Before(t) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Statement returns the entries of acc's log written in [from, to), oldest
// first, at most pageSize (1..MaxPageSize) per page. Pass the returned
// Next as pageToken for the next page. A zero to means now.
func (l *Ledger) Statement(ctx context.Context, acc string, from, to time.Time, pageToken string, pageSize int) (StatementPage, error) {
	if err := checkID("account", acc); err != nil {
		return StatementPage{}, err
	}
	pageSize = min(max(pageSize, 1), MaxPageSize)
	if to.IsZero() {
		to = l.clock().Add(time.Microsecond) // items carry clock() times: include this instant
	}
	head, err := l.findHead(ctx, acc)
	if err != nil {
		return StatementPage{}, err
	}
	var n uint64
	skip := 0
	if pageToken != "" {
		a, b, ok := strings.Cut(pageToken, ".")
		n1, err1 := strconv.ParseUint(a, 10, 64)
		s1, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || s1 < 0 || s1 >= maxEntriesPerItem {
			return StatementPage{}, fmt.Errorf("%w: page token %q", ErrInvalid, pageToken)
		}
		n, skip = n1, s1
	} else if n, err = l.firstAtOrAfter(ctx, acc, head, from); err != nil {
		return StatementPage{}, err
	}
	var page StatementPage
	for ; n <= head.N; n, skip = n+1, 0 {
		it, err := l.item(ctx, acc, n)
		if err != nil {
			return StatementPage{}, err
		}
		if !it.Time.Before(to) {
			return page, nil
		}
		for i := skip; i < len(it.Entries); i++ {
			if len(page.Lines) == pageSize {
				page.Next = fmt.Sprintf("%d.%d", n, i)
				return page, nil
			}
			page.Lines = append(page.Lines, Line{Account: acc, Item: n, Index: i, Time: it.Time, Entry: it.Entries[i]})
		}
	}
	return page, nil
}

// BalanceAt returns acc's state as it was at time t: after the last item
// written at or before t. Before the account existed it is ErrNoAccount.
func (l *Ledger) BalanceAt(ctx context.Context, acc string, t time.Time) (Balance, error) {
	if err := checkID("account", acc); err != nil {
		return Balance{}, err
	}
	head, err := l.findHead(ctx, acc)
	if err != nil {
		return Balance{}, err
	}
	// The first item after t, minus one.
	n, err := l.firstAtOrAfter(ctx, acc, head, t.Add(time.Nanosecond))
	if err != nil {
		return Balance{}, err
	}
	if n == 0 {
		return Balance{}, fmt.Errorf("%w: %s did not exist at %v", ErrNoAccount, acc, t)
	}
	it := head
	if n-1 != head.N {
		if it, err = l.item(ctx, acc, n-1); err != nil {
			return Balance{}, err
		}
	}
	return balanceOf(it)
}
