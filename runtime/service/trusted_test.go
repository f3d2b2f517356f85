package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// TestTrustRecord: additions are seen at the next question (the miss
// reads the record again), removals once the read is TrustedCacheFor old;
// strangers asking fast cost at most one read per interval.
func TestTrustRecord(t *testing.T) {
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://trust-record-"+randomHex(8))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	c := &service.TrustedCache{B: b, Now: func() time.Time { return now }}
	const a, z = "https://a.example/access", "https://z.example/access"
	if ok, err := c.Trusts(ctx, a); ok || err != nil {
		t.Fatalf("empty record trusts %s: %v %v", a, ok, err)
	}
	got, err := service.SetTrusted(ctx, b, z, true, now)
	if err != nil || !slices.Equal(got, []string{z}) {
		t.Fatalf("add: %v %v", got, err)
	}
	if got, _ = service.SetTrusted(ctx, b, a, true, now); !slices.Equal(got, []string{a, z}) {
		t.Fatalf("record %v, want sorted", got)
	}
	now = now.Add(time.Second) // past the stranger rate limit
	if ok, err := c.Trusts(ctx, a); !ok || err != nil {
		t.Fatalf("added trust not seen at once: %v %v", ok, err)
	}
	if got, _ = service.SetTrusted(ctx, b, a, false, now); !slices.Equal(got, []string{z}) {
		t.Fatalf("after removal %v", got)
	}
	if ok, _ := c.Trusts(ctx, a); !ok {
		t.Fatal("a fresh read is believed until it is TrustedCacheFor old")
	}
	now = now.Add(service.TrustedCacheFor)
	if ok, _ := c.Trusts(ctx, a); ok {
		t.Fatal("removed trust still believed after TrustedCacheFor")
	}
	if got, err = service.SetTrusted(ctx, b, a, false, now); err != nil || !slices.Equal(got, []string{z}) {
		t.Fatalf("removing what is not there: %v %v", got, err)
	}
	// A stranger asking again at once is answered from the last read.
	if _, err := b.PutJSON(ctx, "service/trusted_services.json", map[string]any{"services": []string{"https://x.example/s"}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Trusts(ctx, "https://x.example/s"); ok {
		t.Fatal("a miss within the rate limit read the store again")
	}
	for i := range service.MaxTrustedRecord + 1 {
		_, err = service.SetTrusted(ctx, b, "https://s"+string(rune('a'+i%26))+".example/"+randomHex(4), true, now)
	}
	if err == nil {
		t.Fatal("a full record took another service")
	}
}
