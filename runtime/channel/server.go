package channel

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

// Server is one service instance's side of its channels: the ticket key
// and the replay windows, both in memory (docs/design/fastpath.md, State).
type Server struct {
	audience string
	tickets  *sealer

	mu      sync.Mutex
	windows map[ID]*window
}

// NewServer makes the fast-path side of the service at audience (its URL).
func NewServer(audience string) (*Server, error) {
	s, err := newSealer()
	if err != nil {
		return nil, err
	}
	return &Server{audience: audience, tickets: s, windows: map[ID]*window{}}, nil
}

// Open makes a channel with a client whose X25519 half is clientPub, for
// the session b names (the caller has verified the session's authorisation
// for that half). It sets b's ID and its expiry: the session's, or Life
// from now, whichever is first. It returns the service's half and the
// sealed ticket.
func (s *Server) Open(clientPub []byte, b Binding, now time.Time) (servicePub, sealed []byte, _ Binding, _ error) {
	var err error
	if b.ID, err = NewID(); err != nil {
		return nil, nil, b, err
	}
	if b.Expires.IsZero() || b.Expires.After(now.Add(Life)) {
		b.Expires = now.Add(Life)
	}
	b.Expires = b.Expires.UTC().Truncate(time.Nanosecond)
	b.Audience = s.audience
	half, err := NewHalf()
	if err != nil {
		return nil, nil, b, err
	}
	secret, err := agree(half, clientPub)
	if err != nil {
		return nil, nil, b, err
	}
	servicePub = half.PublicKey().Bytes()
	keys, err := derive(secret, &b, clientPub, servicePub)
	if err != nil {
		return nil, nil, b, err
	}
	if sealed, err = s.tickets.seal(&ticket{Binding: b, Keys: keys}); err != nil {
		return nil, nil, b, call.Errorf(call.ErrBadArguments, "%s", err)
	}
	s.mu.Lock()
	if len(s.windows) >= MaxChannels {
		s.windows = map[ID]*window{} // bounded: every channel reopens once
	}
	s.windows[b.ID] = &window{}
	s.mu.Unlock()
	return servicePub, sealed, b, nil
}

// Call is a request that passed every channel check: its ticket opened
// here, it is for this service, unexpired, untampered, not a replay and
// timely.
type Call struct {
	Binding
	Seq   uint64
	Inner Inner
	keys  Keys
}

// Accept checks a request frame and opens it. Nothing in it is trusted
// until the AEAD tag verifies, and the window only moves after that, so a
// forged frame cannot burn a sequence number. skew bounds how far the
// request's time may be from now.
func (s *Server) Accept(body []byte, now time.Time, skew time.Duration) (*Call, error) {
	req, err := ParseRequest(body)
	if err != nil {
		return nil, err
	}
	t, err := s.tickets.open(req.Ticket)
	if err != nil {
		return nil, call.Errorf(ErrUnknown, "this channel is not known here; open a new one")
	}
	if t.Audience != s.audience {
		return nil, call.Errorf(ErrAudience, "the channel is for another service")
	}
	if !now.Before(t.Expires) {
		return nil, call.Errorf(ErrExpired, "the channel expired at %s", t.Expires.Format(time.RFC3339))
	}
	aead, err := newAEAD(t.C2S[:])
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nonce(dirToService, req.Seq), req.sealed, req.header)
	if err != nil {
		return nil, call.Errorf(ErrIntegrity, "the fast-path request does not authenticate under its channel")
	}
	if err := s.mark(t.ID, req.Seq); err != nil {
		return nil, err
	}
	c := &Call{Binding: t.Binding, Seq: req.Seq, keys: t.Keys}
	if err := json.Unmarshal(plain, &c.Inner); err != nil {
		return nil, call.Errorf(call.ErrUnpacking, "the fast-path request is not JSON")
	}
	if c.Inner.Function == "" || len(c.Inner.Function) > call.MaxFunctionBytes {
		return nil, call.Errorf(call.ErrUnpacking, "function name missing or too long")
	}
	if d := now.Sub(time.Unix(0, c.Inner.TimeNs)); d > skew || d < -skew {
		return nil, call.Errorf(call.ErrClock, "request time is %s away from the service's clock (limit %s)", d.Round(time.Second), skew)
	}
	return c, nil
}

// mark records seq in the channel's window, refusing a replay or a
// sequence number further behind than the window reaches.
func (s *Server) mark(id ID, seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[id]
	if w == nil {
		return call.Errorf(ErrUnknown, "this channel's window is not held here; open a new one")
	}
	return w.mark(seq)
}

// Reply seals a result to the client under the channel's reply key, with
// the request's sequence number.
func (c *Call) Reply(plain []byte) ([]byte, error) {
	aead, err := newAEAD(c.keys.S2C[:])
	if err != nil {
		return nil, err
	}
	h := replyHeader(c.Seq)
	return aead.Seal(h, nonce(dirToClient, c.Seq), plain, h), nil
}

// window is a sliding replay window: the highest sequence number seen and
// one bit for each of the Window numbers up to it, kept in a ring (bit
// seq mod Window).
type window struct {
	high uint64
	bits [Window / 64]uint64
}

func (w *window) bit(seq uint64) (word int, mask uint64) {
	i := seq % Window
	return int(i / 64), 1 << (i % 64)
}

func (w *window) mark(seq uint64) error {
	switch {
	case seq > w.high:
		if seq-w.high >= Window {
			w.bits = [Window / 64]uint64{}
		} else {
			for s := w.high + 1; s < seq; s++ {
				word, mask := w.bit(s)
				w.bits[word] &^= mask
			}
		}
		w.high = seq
	case w.high-seq >= Window:
		return call.Errorf(ErrBehind, "sequence number %d is %d or more behind %d; the call did not run", seq, Window, w.high)
	default:
		if word, mask := w.bit(seq); w.bits[word]&mask != 0 {
			return call.Errorf(call.ErrReplay, "sequence number %d was already received", seq)
		}
	}
	word, mask := w.bit(seq)
	w.bits[word] |= mask
	return nil
}
