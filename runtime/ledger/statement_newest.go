package ledger

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// newestTokenPrefix marks page tokens of newest-first statements, so a
// token cannot be passed to a statement of the other direction.
const newestTokenPrefix = "r"

// StatementNewest returns the entries of acc's log written in [from, to),
// newest first, at most pageSize (1..MaxPageSize) per page; pass the
// returned Next as pageToken for the next (older) page. A zero to means
// now. It finds the newest item before to by binary search, so the first
// page costs O(log n + page) item reads whatever the history, as
// Statement's does from a from time: a statement reads from any point,
// both ways, at logarithmic cost.
func (l *Ledger) StatementNewest(ctx context.Context, acc string, from, to time.Time, pageToken string, pageSize int) (StatementPage, error) {
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
	// n is one past the item to read next; skip how many of its entries,
	// counted from its last, the previous page already returned.
	var n uint64
	skip := 0
	if pageToken != "" {
		if n, skip, err = parseNewestToken(pageToken, head.N); err != nil {
			return StatementPage{}, err
		}
	} else if n, err = l.firstAtOrAfter(ctx, acc, head, to); err != nil {
		return StatementPage{}, err
	}
	var page StatementPage
	for ; n > 0; n, skip = n-1, 0 {
		it, err := l.item(ctx, acc, n-1)
		if err != nil {
			return StatementPage{}, err
		}
		if it.Time.Before(from) {
			return page, nil
		}
		for i := len(it.Entries) - 1 - skip; i >= 0; i-- {
			if len(page.Lines) == pageSize {
				page.Next = fmt.Sprintf("%s%d.%d", newestTokenPrefix, n, len(it.Entries)-1-i)
				return page, nil
			}
			page.Lines = append(page.Lines, Line{Account: acc, Item: n - 1, Index: i, Time: it.Time, Entry: it.Entries[i]})
		}
	}
	return page, nil
}

func parseNewestToken(token string, headN uint64) (uint64, int, error) {
	rest, ok := strings.CutPrefix(token, newestTokenPrefix)
	a, b, ok2 := strings.Cut(rest, ".")
	n, err1 := strconv.ParseUint(a, 10, 64)
	skip, err2 := strconv.Atoi(b)
	if !ok || !ok2 || err1 != nil || err2 != nil || n == 0 || n > headN+1 || skip < 0 || skip >= maxEntriesPerItem {
		return 0, 0, fmt.Errorf("%w: page token %q", ErrInvalid, token)
	}
	return n, skip, nil
}
