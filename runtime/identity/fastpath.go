package identity

import (
	"context"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/channel"
	"github.com/openacquire/acquire/runtime/service"
)

// MaxRelying bounds the services told when a session ends: each is a call
// every logout makes.
const MaxRelying = 64

// endNoticeTimeout bounds how long a logout waits for one relying service.
const endNoticeTimeout = 10 * time.Second

// tellEnded tells every relying service that a session ended, in parallel,
// before the logout or revocation answers: their fast-path channels of the
// session are refused from the next call on (docs/design/fastpath.md). A
// service that cannot be told still sees the end through its verifier's
// session cache within auth.DefaultStaleness; it is logged here.
func (id *Identity) tellEnded(ctx context.Context, sessionUID string) {
	if id.client == nil || len(id.relying) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, url := range id.relying {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, endNoticeTimeout)
			defer cancel()
			err := service.SignedCall(ctx, id.client, url, id.svc, "fastpath_end", channel.EndResource(id.svc.URL(), sessionUID),
				func(cr auth.Credentials) any {
					return &service.EndArgs{Service: cr.Service, IdentityURL: id.svc.URL(), SessionUID: sessionUID}
				}, nil, true)
			if err != nil {
				id.svc.Logger().Error("a relying service was not told that a session ended; it sees the end within its session cache's staleness",
					"service", url, "session_uid", sessionUID, "err", err)
			}
		})
	}
	wg.Wait()
}
