package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/store"
)

// The registry's keys and objects, as registry.put leaves them for each
// registered service: the URL index registry/by-url/<url> holding
// {"uid": ...} (written first, put-if-absent) and the record
// registry/services/<uid>, a registry.Record. Both are written here
// straight into the store instead of through register_service, whose
// challenge-response needs a live service per record; the
// registry_test.go of this command checks the result against what a real
// registry writes and answers.
const (
	registryRecords = "registry/services/"
	registryByURL   = "registry/by-url/"
	// benchRegion is the home region in the UIDs (registry/uid.go).
	benchRegion = "00000000be0c4a1e"
)

func init() {
	lines = append(lines, line{
		name:  "registry list_services page of 100 (records read)",
		build: buildRegistry,
		op: func(ctx context.Context, e *env, _ int) error {
			_, err := listServices(ctx, e.b, "", 100, 100)
			return err
		},
	})
}

// registryRecord is service i's record: a storage service with a
// federated UID (kind prefix, 16 hex digits, @region) spread over the key
// space as random UIDs are.
func registryRecord(i int) registry.Record {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	// A certificate fingerprint's form: the MD5 in colon-separated hex.
	sum := crypto.MD5Hex(fmt.Appendf(nil, "cert-%d", i))
	fp := make([]string, 0, len(sum)/2)
	for j := 0; j < len(sum); j += 2 {
		fp = append(fp, sum[j:j+2])
	}
	return registry.Record{
		UID:        fmt.Sprintf("stor-%016x%s%s", uint64(i)*0x9e3779b97f4a7c15, registry.UIDRegionSep, benchRegion),
		Kind:       "storage",
		URL:        fmt.Sprintf("https://storage-%07d.bench.example/storage", i),
		PinnedCert: strings.Join(fp, ":"),
		Registered: at,
		Refreshed:  at,
	}
}

// buildRegistry registers services [from, to) as registry.put does.
func buildRegistry(ctx context.Context, e *env, from, to int) error {
	return parallel(from, to, func(i int) error {
		rec := registryRecord(i)
		if _, err := e.b.PutJSONIfAbsent(ctx, registryByURL+store.EncodeName(rec.URL), map[string]string{"uid": rec.UID}); err != nil {
			return err
		}
		_, err := e.b.PutJSON(ctx, registryRecords+store.EncodeName(rec.UID), &rec)
		return err
	})
}

// listServices is what list_services does for one page (registry's
// handleList): a page of the records folder, each record read.
func listServices(ctx context.Context, b *store.Bucket, token string, size, want int) ([]registry.Record, error) {
	p, err := page(ctx, b, registryRecords, token, size, want)
	if err != nil {
		return nil, err
	}
	out := make([]registry.Record, 0, len(p.Items))
	for _, it := range p.Items {
		var rec registry.Record
		if _, err := b.GetJSON(ctx, it.Key, &rec); err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
