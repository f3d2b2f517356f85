package accounting_test

import (
	"context"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
)

// BenchmarkBalance is one balance read through the envelope and on a
// fast-path channel, client and host in this process over loopback HTTP
// on a memory store: for profiles of the call path's own cost (make bench
// has the figures on files beside their anchors).
func BenchmarkBalance(b *testing.B) {
	ctx := context.Background()
	env := hosttest.Start(b, hosttest.Options{Kinds: host.Kinds})
	acc := env.Accounting()
	s := env.Users(b, pw, "reader")["reader"]
	a, err := acc.CreateAccount(ctx, s, "main", ledger.Zero)
	if err != nil {
		b.Fatal(err)
	}
	fast := *s
	for _, c := range []struct {
		name string
		s    *identity.Session
	}{{"envelope", s}, {"fastpath", fast.UseFastPath()}} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := acc.Balance(ctx, c.s, a.ID, time.Time{}); err != nil { // opens the channel
				b.Fatal(err)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := acc.Balance(ctx, c.s, a.ID, time.Time{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
