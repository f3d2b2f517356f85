package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/store"
)

// MaxEmptyObjects bounds what Delete removes from a store with
// deleteData; a larger store is left as it is, with ErrStoreNotEmpty.
const MaxEmptyObjects = 100000

// ErrStoreNotEmpty is returned when a store could not be emptied.
var ErrStoreNotEmpty = errors.New("fn deploy: the store was not emptied")

// emptyStore deletes every object of the service's store, with the
// deployer's own credentials for its cloud (the bucket is not ours: it
// stays). A function without a store URL has nothing to empty.
func emptyStore(ctx context.Context, storeURL string) error {
	if storeURL == "" {
		return nil
	}
	if _, err := checkStoreURL(storeURL); err != nil {
		return err
	}
	s3store.Register()
	gcsstore.Register()
	blobstore.Register()
	b, err := store.Open(ctx, storeURL)
	if err != nil {
		return fmt.Errorf("%w: open: %w", ErrStoreNotEmpty, err)
	}
	defer func() { _ = b.Close() }()
	removed := 0
	// Each round lists the first page again: what it held is deleted.
	for {
		page, err := b.List(ctx, "", "", store.MaxPageSize)
		if err != nil {
			return fmt.Errorf("%w: list: %w", ErrStoreNotEmpty, err)
		}
		if len(page.Items) == 0 {
			return nil
		}
		if removed += len(page.Items); removed > MaxEmptyObjects {
			return fmt.Errorf("%w: over %d objects", ErrStoreNotEmpty, MaxEmptyObjects)
		}
		for _, o := range page.Items {
			if err := b.Delete(ctx, o.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: delete: %w", ErrStoreNotEmpty, err)
			}
		}
	}
}
