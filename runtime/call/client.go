package call

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/wait"
)

// Client limits.
const (
	DefaultTimeout  = 30 * time.Second
	MaxReplyBytes   = 16 << 20
	MaxRetries      = 4
	retryBackoffMin = 50 * time.Millisecond
)

// Pins remembers which certificate a client trusts for each service URL.
// A wallet implements it on disk; tests keep it in memory.
type Pins interface {
	Pinned(url string) (fingerprint string, ok bool)
	Pin(url, fingerprint string) error
}

// MemoryPins is an in-memory Pins.
type MemoryPins struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *MemoryPins) Pinned(url string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fp, ok := p.m[url]
	return fp, ok
}

func (p *MemoryPins) Pin(url, fp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[url] = fp
	return nil
}

// Client calls Acquire services. It is safe for concurrent use; one Client
// per process keeps one reply key, generated once, and one HTTP
// connection pool.
type Client struct {
	HTTP  *http.Client
	Clock func() time.Time
	Pins  Pins

	parent   *Client // of a Derive'd client: whose reply key it uses
	keyOnce  sync.Once
	replyKey *crypto.PrivateKey
	keyErr   error

	mu       sync.Mutex
	services map[string]*TrustedKeys
}

// NewClient makes a client with a pooled HTTP transport.
func NewClient(pins Pins) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	return &Client{HTTP: &http.Client{Transport: tr, Timeout: DefaultTimeout}, Clock: time.Now, Pins: pins,
		services: map[string]*TrustedKeys{}}
}

// CallOption adjusts one call.
type CallOption func(*callOpts)

type callOpts struct{ idemKey string }

// WithIdempotencyKey makes a call safe to retry: the service runs it at
// most once for this key, and the client retries it on transient failures.
func WithIdempotencyKey(k string) CallOption { return func(o *callOpts) { o.idemKey = k } }

func (c *Client) key() (*crypto.PrivateKey, error) {
	if c.parent != nil {
		return c.parent.key()
	}
	c.keyOnce.Do(func() { c.replyKey, c.keyErr = crypto.GenerateKey() })
	return c.replyKey, c.keyErr
}

// Derive returns a client sharing c's connection pool, clock and reply
// key, with pins of its own and its own cache of service keys: for calls
// to services someone else named (a job's links), whose pins and cached
// keys must go when the work does instead of filling c's.
func (c *Client) Derive(pins Pins) *Client {
	return &Client{HTTP: c.HTTP, Clock: c.Clock, Pins: pins, parent: c, services: map[string]*TrustedKeys{}}
}

// Call sends function(args) to the service at url through an encrypted,
// signed envelope and decodes the result into out (which may be nil).
func (c *Client) Call(ctx context.Context, url, function string, args, out any, opts ...CallOption) error {
	var o callOpts
	for _, f := range opts {
		f(&o)
	}
	attempts := 1
	if o.idemKey != "" {
		attempts = MaxRetries
	}
	var err error
	for i := range attempts {
		if i > 0 {
			if werr := wait.Sleep(ctx, retryBackoffMin<<i); werr != nil {
				return err
			}
		}
		var raw json.RawMessage
		raw, err = c.callOnce(ctx, url, function, args, o.idemKey)
		if err == nil {
			return decodeInto(raw, out)
		}
		if !retryable(err) {
			return err
		}
	}
	return err
}

func (c *Client) callOnce(ctx context.Context, url, function string, args any, idemKey string) (json.RawMessage, error) {
	keys, err := c.ServiceKeys(ctx, url)
	if err != nil {
		return nil, err
	}
	return c.callWith(ctx, url, keys, function, args, idemKey)
}

// CallWithKeys calls a service whose keys the caller checked itself (a
// registry checks them against its own records, not the client's pins).
func (c *Client) CallWithKeys(ctx context.Context, url string, keys *TrustedKeys, function string, args, out any) error {
	raw, err := c.callWith(ctx, url, keys, function, args, "")
	if err != nil {
		return err
	}
	return decodeInto(raw, out)
}

func (c *Client) callWith(ctx context.Context, url string, keys *TrustedKeys, function string, args any, idemKey string) (json.RawMessage, error) {
	reply, err := c.key()
	if err != nil {
		return nil, err
	}
	body, err := PackRequest(keys.Key, reply.Public(), keys.Newest, function, args, idemKey, c.Clock())
	if err != nil {
		return nil, err
	}
	resp, err := c.post(ctx, url, body)
	if err != nil {
		return nil, err
	}
	return UnpackReply(resp, ReplyCheck{ReplyKey: reply, Certs: keys.Certs, Function: function, URL: url})
}

// CallClear calls a public function without encryption (no secrets in
// either direction).
func (c *Client) CallClear(ctx context.Context, url, function string, args, out any) error {
	body, err := PackClearRequest(function, args, c.Clock())
	if err != nil {
		return err
	}
	resp, err := c.post(ctx, url, body)
	if err != nil {
		return err
	}
	raw, err := UnpackReply(resp, ReplyCheck{Function: function, URL: url})
	if err != nil {
		return err
	}
	return decodeInto(raw, out)
}

// ServiceKeys fetches, checks and caches a service's keys. The first time
// a URL is seen its certificate is pinned; after that only generations
// endorsed from the pinned one are accepted.
func (c *Client) ServiceKeys(ctx context.Context, url string) (*TrustedKeys, error) {
	id := ServiceID(url)
	c.mu.Lock()
	k := c.services[id]
	c.mu.Unlock()
	if k != nil {
		return k, nil
	}
	var pk PublicKeys
	if err := c.CallClear(ctx, url, "public_keys", struct{}{}, &pk); err != nil {
		return nil, err
	}
	pinned := ""
	if c.Pins != nil {
		pinned, _ = c.Pins.Pinned(id)
	}
	k, err := pk.Verify(pinned)
	if err != nil {
		return nil, err
	}
	if c.Pins != nil && k.Newest != pinned {
		if err := c.Pins.Pin(id, k.Newest); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.services[id] = k
	c.mu.Unlock()
	return k, nil
}

// Forget drops cached keys, e.g. after a rotation made a call fail.
func (c *Client) Forget(url string) {
	c.mu.Lock()
	delete(c.services, ServiceID(url))
	c.mu.Unlock()
}

// TransportError is a failure to reach a service at all.
type TransportError struct {
	URL string
	Err error
}

func (e *TransportError) Error() string { return fmt.Sprintf("cannot reach %s: %v", e.URL, e.Err) }
func (e *TransportError) Unwrap() error { return e.Err }

func (c *Client) post(ctx context.Context, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, &TransportError{URL: url, Err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxReplyBytes+1))
	if err != nil {
		return nil, &TransportError{URL: url, Err: err}
	}
	if len(b) > MaxReplyBytes {
		return nil, Errorf(ErrTooLarge, "reply from %s over %d bytes", url, MaxReplyBytes)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != 500 && !json.Valid(b) {
		return nil, &TransportError{URL: url, Err: fmt.Errorf("HTTP %d", resp.StatusCode)}
	}
	return b, nil
}

func retryable(err error) bool {
	var te *TransportError
	return errors.As(err, &te) || errors.Is(err, ErrInProgress) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBusy)
}

func decodeInto(raw json.RawMessage, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return Errorf(ErrUnpacking, "result does not decode: %s", err)
	}
	return nil
}

// Post sends a body the caller packed itself (a fast-path frame) and
// returns the reply's bytes, with this client's limits and transport.
func (c *Client) Post(ctx context.Context, url string, body []byte) ([]byte, error) {
	return c.post(ctx, url, body)
}

// Retryable says whether a call that failed with err may be sent again
// (its service was not reached, or asked for a retry).
func Retryable(err error) bool { return retryable(err) }

// ResultInto reads a result payload (a reply's, once opened) into out, or
// returns the remote typed error.
func ResultInto(payload []byte, function, url string, out any) error {
	res, err := parseResult(payload)
	if err != nil {
		return err
	}
	raw, err := resultValue(res, ReplyCheck{Function: function, URL: url})
	if err != nil {
		return err
	}
	return decodeInto(raw, out)
}
