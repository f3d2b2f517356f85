package ledger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTransferFile measures durable transfers per second on the
// local-files store (every write flushed before it is acknowledged), over
// distinct accounts and into one hot account, at 1, 16 and 64 goroutines. It
// also reports the store's own bound measured in the same run: durable
// put-if-absent calls per second at that concurrency, divided by 3 (a
// transfer is at least three dependent durable writes: record, debit, credit).
func BenchmarkTransferFile(b *testing.B) {
	for _, mode := range []string{"distinct", "hot"} {
		for _, conc := range []int{1, 16, 64} {
			for _, cache := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s/g%d/outcome=%v", mode, conc, cache), func(b *testing.B) {
					benchTransfers(b, mode, conc, cache)
				})
			}
		}
	}
}

func benchTransfers(b *testing.B, mode string, conc int, outcome bool) {
	ctx := context.Background()
	bk, _ := openBucket(b, "file")
	var opts []Option
	if !outcome {
		opts = append(opts, WithoutOutcomeCache())
	}
	l := newLedger(b, bk, opts...)
	const accounts = 256
	for i := range accounts {
		mustAccount(b, l, fmt.Sprintf("a%d", i), "0")
		deposit(b, l, fmt.Sprintf("d%d", i), fmt.Sprintf("a%d", i), "1000000")
	}
	mustAccount(b, l, "hot", "0")
	// The store's bound at this concurrency.
	var puts atomic.Int64
	dl := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(dl); i++ {
				if _, err := bk.PutIfAbsent(ctx, fmt.Sprintf("probe/g%d/%d", g, i), []byte(`{}`)); err != nil {
					b.Error(err)
					return
				}
				puts.Add(1)
			}
		}()
	}
	wg.Wait()
	putRate := float64(puts.Load()) / 0.3

	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				// Each goroutine pays from its own slice of accounts, so
				// "distinct" means no two concurrent transfers share one.
				from := (int(i)*conc + g) % accounts
				to := fmt.Sprintf("a%d", (from+accounts/2)%accounts)
				if mode == "hot" {
					to = "hot"
				}
				_, err := l.Transfer(ctx, TransferRequest{ID: fmt.Sprintf("b%d", i), From: fmt.Sprintf("a%d", from), To: to, Amount: MustParse("0.01")})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "transfers/s")
	b.ReportMetric(putRate/3, "bound/s")
}
