package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// A trust record is the list, kept on a service's own store, of the other
// services it trusts to act in their own name (cash cheques, invoice,
// check grants), beside the list it was configured with (settings or a
// function's environment). The running service reads it, so a trust
// added or removed by whoever holds the store (the Terraform provider's
// acquire_trust, on every platform) takes effect without a redeploy:
// a cloud function's environment cannot change without one.
const trustedKey = "service/trusted_services.json"

// MaxTrustedRecord bounds the services one trust record lists.
const MaxTrustedRecord = 64

// TrustedCacheFor is how long a read of the trust record is believed: a
// removed trust stops within this time on every instance. A caller not on
// the record read makes the instance read it again at once (rate-limited
// by trustedMissEvery), so an added trust is seen at the next call.
const TrustedCacheFor = 30 * time.Second

// trustedMissEvery bounds the re-reads that callers not on the record
// cause: a stranger sending service authorisations costs at most one
// store read per this interval, however fast it sends.
const trustedMissEvery = 100 * time.Millisecond

// ErrTrustedRecordFull refuses an addition to a full trust record.
var ErrTrustedRecordFull = errors.New("service: the trust record is full")

type trustedRecord struct {
	Services []string  `json:"services"`
	Updated  time.Time `json:"updated"`
}

// TrustedRecord answers the services on the trust record of the service
// whose store is b (none when there is no record), sorted.
func TrustedRecord(ctx context.Context, b *store.Bucket) ([]string, error) {
	var rec trustedRecord
	if _, err := b.GetJSON(ctx, trustedKey, &rec); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return rec.Services, nil
}

// SetTrusted adds serviceURL to (or, trusted false, removes it from) the
// trust record on b and answers the record as written. The URL must be
// canonical (the caller checks its form; the verifier compares exactly).
// Removing what is not there, or adding what is, changes nothing.
func SetTrusted(ctx context.Context, b *store.Bucket, serviceURL string, trusted bool, now time.Time) ([]string, error) {
	if serviceURL == "" || len(serviceURL) > 512 {
		return nil, fmt.Errorf("service: trusted service URL of %d bytes", len(serviceURL))
	}
	if !trusted {
		cur, err := TrustedRecord(ctx, b)
		if err != nil || !slices.Contains(cur, serviceURL) {
			return cur, err // nothing to remove: no write
		}
	}
	var out []string
	_, err := b.Update(ctx, trustedKey, 20, func(old []byte, exists bool) ([]byte, error) {
		var rec trustedRecord
		if exists {
			if err := json.Unmarshal(old, &rec); err != nil {
				return nil, err
			}
		}
		has := slices.Contains(rec.Services, serviceURL)
		if has == trusted {
			out = rec.Services
			return old, nil // unchanged (written back as it was)
		}
		if trusted {
			if len(rec.Services) >= MaxTrustedRecord {
				return nil, ErrTrustedRecordFull
			}
			rec.Services = append(rec.Services, serviceURL)
			slices.Sort(rec.Services)
		} else {
			rec.Services = slices.DeleteFunc(rec.Services, func(s string) bool { return s == serviceURL })
		}
		rec.Updated = now.UTC()
		out = rec.Services
		return json.Marshal(&rec)
	})
	return out, err
}

// TrustedCache answers from a service's trust record, read at most every
// TrustedCacheFor (and again when asked about a service not on it). It
// uses the wall clock, not the service's: freshness is how long an
// instance may act on an old record, whatever time the service keeps.
type TrustedCache struct {
	B   *store.Bucket
	Now func() time.Time // nil: time.Now

	mu   sync.Mutex
	list []string
	read time.Time // when list was read; zero: never
}

// Trusts says whether serviceURL is on the trust record.
func (c *TrustedCache) Trusts(ctx context.Context, serviceURL string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	fresh := !c.read.IsZero() && now.Sub(c.read) < TrustedCacheFor
	if fresh && slices.Contains(c.list, serviceURL) {
		return true, nil
	}
	if fresh && now.Sub(c.read) < trustedMissEvery {
		return false, nil
	}
	list, err := TrustedRecord(ctx, c.B)
	if err != nil {
		return false, err
	}
	c.list, c.read = list, now
	return slices.Contains(list, serviceURL), nil
}

func (c *TrustedCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
