package channel

import (
	"crypto/cipher"
	"crypto/ecdh"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

// Client is the client's side of one channel. It is safe for concurrent
// use: each call takes the next sequence number.
type Client struct {
	Binding
	ticket []byte
	c2s    cipher.AEAD
	s2c    cipher.AEAD
	seq    atomic.Uint64
}

// Establish derives the channel's keys from the client's half and the
// service's answer to fastpath_open (which came through the envelope,
// signed by the pinned certificate). b names the session and the service
// as the client knows them; ID and Expires come from the answer.
func Establish(half *ecdh.PrivateKey, servicePub, sealedTicket []byte, b Binding) (*Client, error) {
	if len(sealedTicket) == 0 || len(sealedTicket) > MaxTicketBytes {
		return nil, call.Errorf(call.ErrUnpacking, "the channel ticket is empty or over %d bytes", MaxTicketBytes)
	}
	secret, err := agree(half, servicePub)
	if err != nil {
		return nil, err
	}
	b.Expires = b.Expires.UTC()
	keys, err := derive(secret, &b, half.PublicKey().Bytes(), servicePub)
	if err != nil {
		return nil, err
	}
	c := &Client{Binding: b, ticket: append([]byte(nil), sealedTicket...)}
	if c.c2s, err = newAEAD(keys.C2S[:]); err != nil {
		return nil, err
	}
	if c.s2c, err = newAEAD(keys.S2C[:]); err != nil {
		return nil, err
	}
	return c, nil
}

// Expired says whether the channel is past its expiry at now (less a
// margin, so a call sent now does not arrive at an expired channel).
func (c *Client) Expired(now time.Time) bool { return !now.Add(time.Minute).Before(c.Expires) }

// Seal makes a request frame for function(payload) and returns it with
// its sequence number, which the reply must carry.
func (c *Client) Seal(function string, payload json.RawMessage, idemKey string, now time.Time) ([]byte, uint64, error) {
	plain, err := json.Marshal(&Inner{Function: function, Payload: payload, TimeNs: now.UnixNano(), IdempotencyKey: idemKey})
	if err != nil {
		return nil, 0, err
	}
	seq := c.seq.Add(1)
	h := requestHeader(c.ticket, seq)
	return c.c2s.Seal(h, nonce(dirToService, seq), plain, h), seq, nil
}

// Open reads the reply to the request with sequence number seq. A clear
// refusal comes back as refusal (the call did not run); a sealed reply
// must authenticate under the channel and carry seq.
func (c *Client) Open(body []byte, seq uint64) (plain []byte, refusal *call.Error, err error) {
	r, err := parseReply(body)
	if err != nil {
		return nil, nil, err
	}
	if r.refusal != nil {
		return nil, r.refusal, nil
	}
	if r.seq != seq {
		return nil, nil, call.Errorf(ErrIntegrity, "the reply answers call %d, not %d", r.seq, seq)
	}
	plain, err = c.s2c.Open(nil, nonce(dirToClient, seq), r.sealed, r.header)
	if err != nil {
		return nil, nil, call.Errorf(ErrIntegrity, "the fast-path reply does not authenticate under its channel")
	}
	return plain, nil, nil
}
