package store

import (
	"context"
	"fmt"
)

// List returns one page of objects whose keys start with prefix, in byte-wise
// lexical key order. pageToken is "" for the first page, then the previous
// page's Next; pageSize is clamped to [1, MaxPageSize].
func (b *Bucket) List(ctx context.Context, prefix, pageToken string, pageSize int) (Page, error) {
	err := b.checkList(prefix, pageToken)
	if err != nil {
		return Page{}, opError("list", prefix, err)
	}
	pageSize = min(max(pageSize, 1), MaxPageSize)
	var page Page
	err = retryRead(ctx, func() error {
		var err error
		page, err = b.d.List(ctx, prefix, pageToken, pageSize)
		return err
	})
	if err == nil {
		err = checkPage(page, prefix, pageSize)
	}
	if err != nil {
		return Page{}, opError("list", prefix, err)
	}
	return page, nil
}

func (b *Bucket) checkList(prefix, pageToken string) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if len(pageToken) > MaxPageTokenBytes {
		return fmt.Errorf("%w: page token of %d bytes", ErrInvalidArgument, len(pageToken))
	}
	return validatePrefix(prefix)
}

// checkPage asserts the driver kept its promises: ordering and prefix are
// what callers (and ListAll's loop) rely on. It fills StoredSize where the
// driver left it 0 (drivers that store data as given).
func checkPage(page Page, prefix string, pageSize int) error {
	if len(page.Items) > pageSize {
		return fmt.Errorf("driver returned %d items for page size %d", len(page.Items), pageSize)
	}
	prev := ""
	for i, it := range page.Items {
		if !hasPrefixAndAfter(it.Key, prefix, prev) {
			return fmt.Errorf("driver returned key %q out of order or outside the prefix", it.Key)
		}
		if it.Version == "" || it.Size < 0 || it.StoredSize < 0 {
			return fmt.Errorf("driver returned bad info for key %q", it.Key)
		}
		if it.StoredSize == 0 {
			page.Items[i].StoredSize = it.Size
		}
		prev = it.Key
	}
	return nil
}

// ListAll follows pages and returns every object under prefix. It fails with
// ErrTooMany as soon as more than limit objects exist, so a caller states how
// much memory it is ready to spend; limit must be in [0, MaxListAll].
func (b *Bucket) ListAll(ctx context.Context, prefix string, limit int) ([]ObjectInfo, error) {
	if limit < 0 || limit > MaxListAll {
		err := fmt.Errorf("%w: limit %d outside [0, %d]", ErrInvalidArgument, limit, MaxListAll)
		return nil, opError("list-all", prefix, err)
	}
	var all []ObjectInfo
	token := ""
	// Each page but the last holds at least one item, so the loop ends
	// within limit+2 pages; the bound only guards against a driver bug.
	for pages := 0; pages <= limit+2; pages++ {
		page, err := b.List(ctx, prefix, token, min(limit+1, MaxPageSize))
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if len(all) > limit {
			return nil, opError("list-all", prefix, fmt.Errorf("%w: more than %d", ErrTooMany, limit))
		}
		if page.Next == "" {
			return all, nil
		}
		if page.Next == token {
			return nil, opError("list-all", prefix, fmt.Errorf("driver pagination made no progress"))
		}
		token = page.Next
	}
	return nil, opError("list-all", prefix, fmt.Errorf("driver pagination did not end"))
}
