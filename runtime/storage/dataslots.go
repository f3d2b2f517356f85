package storage

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// Chunk transfers served by this host hold a slot each (a chunk's memory,
// an open object), and a slot must not be held by a peer that sends or
// reads nothing. So (see the design note):
//   - a PUT takes its slot only once the first byte of its body is here;
//   - one principal (a user, or a PAR) holds at most MaxChunksPerPrincipal
//     slots, so no one user's transfers, idle or not, starve another's;
//   - a transfer holding a slot must keep moving: no pause longer than
//     the stall timeout, and on average MinDataBytesPerSecond after a
//     grace, else the connection is cut and the slot freed;
//   - a request waits at most the queue timeout for a slot, then 503.

// pacing holds the data handler's timings (a test makes them short).
type pacing struct {
	start, stall, queue, grace time.Duration
	minRate                    int64 // bytes per second
}

var defaultPacing = pacing{start: DataStartTimeout, stall: DataStallTimeout, queue: DataQueueTimeout,
	grace: DataGrace, minRate: MinDataBytesPerSecond}

// deadline is when a transfer of size bytes starting now must have ended.
func (p pacing) deadline(now time.Time, size int64) time.Time {
	return now.Add(p.grace + time.Duration(float64(size)/float64(p.minRate)*float64(time.Second)))
}

// slotPool bounds the chunk transfers in flight, in all and per principal.
type slotPool struct {
	all    chan struct{}
	perMax int
	mu     sync.Mutex
	per    map[string]*principalSlots
}

type principalSlots struct {
	held  chan struct{}
	users int // requests holding or waiting for one of these slots
}

func newSlotPool(all, perMax int) *slotPool {
	return &slotPool{all: make(chan struct{}, all), perMax: perMax, per: map[string]*principalSlots{}}
}

var errNoSlot = errors.New("storage: no transfer slot became free in time")

// acquire takes one of who's slots, then one of all, waiting until ctx
// ends; release gives both back.
func (p *slotPool) acquire(ctx context.Context, who string) (release func(), err error) {
	p.mu.Lock()
	ps := p.per[who]
	if ps == nil {
		ps = &principalSlots{held: make(chan struct{}, p.perMax)}
		p.per[who] = ps
	}
	ps.users++
	p.mu.Unlock()
	leave := func() {
		p.mu.Lock()
		if ps.users--; ps.users == 0 {
			delete(p.per, who)
		}
		p.mu.Unlock()
	}
	select {
	case ps.held <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, errNoSlot
	}
	select {
	case p.all <- struct{}{}:
	case <-ctx.Done():
		<-ps.held
		leave()
		return nil, errNoSlot
	}
	return func() {
		<-p.all
		<-ps.held
		leave()
	}, nil
}

// takeSlot waits (up to the queue timeout) for a slot for who.
func (s *Storage) takeSlot(r *http.Request, who string) (func(), error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.pace.queue)
	defer cancel()
	release, err := s.slots.acquire(ctx, who)
	if err != nil {
		return nil, &dataError{http.StatusServiceUnavailable, "too many transfers in flight; try again"}
	}
	return release, nil
}

// pacedBody reads a request body that must keep moving: each read has
// until the stall timeout, and the whole body until its deadline.
type pacedBody struct {
	r     io.Reader
	rc    *http.ResponseController
	now   func() time.Time
	stall time.Duration
	end   time.Time
}

func (b *pacedBody) Read(p []byte) (int, error) {
	d := b.now().Add(b.stall)
	if b.end.Before(d) {
		d = b.end
	}
	_ = b.rc.SetReadDeadline(d)
	return b.r.Read(p)
}
