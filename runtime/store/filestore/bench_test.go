package filestore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPutIfAbsentConcurrent measures durable put-if-absent calls per second of
// small objects at several concurrencies (the ledger's write pattern).
func BenchmarkPutIfAbsentConcurrent(b *testing.B) {
	for _, conc := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("g%d", conc), func(b *testing.B) {
			d := newDriver(b)
			ctx := context.Background()
			data := make([]byte, 600)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range conc {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := d.PutIfAbsent(ctx, fmt.Sprintf("bench/k%d", i), data); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
		})
	}
}
