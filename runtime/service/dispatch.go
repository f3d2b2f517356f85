package service

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/channel"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/store"
)

const (
	seenPrefix = "calls/seen/"
	idemPrefix = "calls/idem/"
	minuteKey  = "200601021504"
)

// Serve answers one request body with a reply body. It never fails: every
// problem becomes a typed error reply, clear-text when the request could
// not be unpacked (as Acquire does).
func (s *Service) Serve(ctx context.Context, body []byte) (reply []byte, class string) {
	start := s.cfg.Clock()
	// The first call of a new key period, on any instance, creates that
	// period's generation; otherwise keys would only rotate when someone
	// fetched public_keys. The existing keys still answer if this fails.
	if _, err := s.keys.Current(ctx); err != nil {
		s.log.Warn("key rotation failed", "err", err)
	}
	if channel.IsFrame(body) {
		reply, class = s.serveFast(ctx, body)
		s.log.Debug("fast-path call", "error_class", class, "duration_ms", s.cfg.Clock().Sub(start).Milliseconds())
		return reply, class
	}
	req, err := s.unpack(ctx, body)
	var res *call.Result
	fn := ""
	if err == nil {
		fn = req.Function
		res = s.dispatch(ctx, req)
	} else {
		res = call.WrapError(s.typed(err, ""))
	}
	if res.Exception != nil {
		class = res.Exception.Class
	}
	reply, err = call.PackReply(req, res, s.certFinder(ctx), s.cfg.Clock())
	if err != nil {
		// The request named no usable certificate or reply key: answer in clear.
		class = s.typed(err, fn).Class
		reply, _ = call.PackReply(nil, call.WrapError(s.typed(err, fn)), nil, s.cfg.Clock())
	}
	s.log.Debug("call", "function", fn, "error_class", class, "duration_ms", s.cfg.Clock().Sub(start).Milliseconds())
	return reply, class
}

func (s *Service) certFinder(ctx context.Context) call.CertFinder {
	return func(fp string) (*crypto.PrivateKey, error) {
		g, err := s.keys.ByFingerprint(ctx, fp)
		if err != nil {
			return nil, err
		}
		if g.cert.Fingerprint() != fp {
			return nil, errors.New("fingerprint names an encryption key, not a certificate")
		}
		return g.cert, nil
	}
}

func (s *Service) dispatch(ctx context.Context, req *call.Request) *call.Result {
	h, ok := s.handlers[req.Function]
	if !ok {
		return call.WrapError(call.Errorf(call.ErrUnknownFunction, "%s has no function %q", s.cfg.Kind, req.Function))
	}
	if err := s.admit(ctx, req, h); err != nil {
		return call.WrapError(s.typed(err, req.Function))
	}
	if h.opts.Idempotent && req.IdempotencyKey != "" {
		return s.runIdempotent(ctx, req, h)
	}
	return s.run(ctx, req, h)
}

// admit refuses clear-text calls to anything but public functions.
// Encrypted calls passed their time and replay checks in unpack.
func (s *Service) admit(_ context.Context, req *call.Request, h *handler) error {
	if req.Encrypted || h.opts.Public {
		return nil
	}
	return call.Errorf(call.ErrPermission, "%s must be called through an encrypted envelope", req.Function)
}

// unpack opens a request. For an encrypted one it first checks the time
// window on the clear synctime (so stale envelopes cost no private-key
// work), then records the envelope's ciphertext digest with put-if-absent
// while it decrypts: the marker's flush overlaps the RSA work instead of
// adding to the call's latency. The digest is of the decoded ciphertext and
// every decoder on the way accepts only canonical text, so a second arrival
// of one request, however re-encoded, is ReplayError. A marker for bytes
// that do not decrypt is removed again.
func (s *Service) unpack(ctx context.Context, body []byte) (*call.Request, error) {
	sealed, clear, err := call.OpenEnvelope(body)
	if err != nil || sealed == nil {
		return clear, err
	}
	skew := s.cfg.Clock().Sub(sealed.SyncTime)
	if skew > s.cfg.ClockSkew || skew < -s.cfg.ClockSkew {
		return nil, call.Errorf(call.ErrClock, "request time is %s away from the service's clock (limit %s)",
			skew.Round(time.Second), s.cfg.ClockSkew)
	}
	g, err := s.keys.ByFingerprint(ctx, sealed.Fingerprint)
	if err != nil {
		return nil, call.Errorf(call.ErrUnpacking, "no key with fingerprint %q", clip(sealed.Fingerprint, 64))
	}
	sum, err := g.key.CiphertextDigest(sealed.Ciphertext)
	if err != nil {
		return nil, call.Errorf(call.ErrUnpacking, "request ciphertext is malformed")
	}
	marker := seenPrefix + sealed.SyncTime.UTC().Format(minuteKey) + "/" + hex.EncodeToString(sum[:])
	type put struct {
		v   store.Version
		err error
	}
	done := make(chan put, 1)
	go func() {
		v, err := s.cfg.Bucket.PutIfAbsent(ctx, marker, nil)
		done <- put{v, err}
	}()
	req, err := sealed.Decrypt(func(string) (*crypto.PrivateKey, error) { return g.key, nil })
	p := <-done
	switch {
	case errors.Is(p.err, store.ErrPrecondition):
		return nil, call.Errorf(call.ErrReplay, "this envelope was already received; send a new one")
	case p.err != nil:
		return nil, p.err
	case err != nil:
		_ = s.cfg.Bucket.DeleteIfVersion(ctx, marker, p.v)
		return nil, err
	}
	return req, nil
}

// clip bounds caller-chosen text before it goes into an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (s *Service) run(ctx context.Context, req *call.Request, h *handler) *call.Result {
	out, err := h.run(ctx, req)
	if err != nil {
		return call.WrapError(s.typed(err, req.Function))
	}
	res, err := call.WrapReturn(out)
	if err != nil {
		return call.WrapError(s.typed(err, req.Function))
	}
	return res
}

// typed turns any error into a wire error. Typed errors pass through;
// anything else is logged here and answered with a bare InternalError, so
// no internal detail reaches the caller.
func (s *Service) typed(err error, fn string) *call.Error {
	var ce *call.Error
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return call.Errorf(call.ErrUnavailable, "the call timed out")
	}
	incident := NewID()[:12]
	s.log.Error("internal error", "function", fn, "incident", incident, "err", err)
	return call.Errorf(call.ErrInternal, "internal error (incident %s)", incident)
}

// Sweep deletes replay markers older than the timestamp window, oldest
// first, at most limit of them. Markers are only needed while a replay
// could still pass the time check.
func (s *Service) Sweep(ctx context.Context, limit int) (int, error) {
	cutoff := s.cfg.Clock().Add(-2 * s.cfg.ClockSkew).UTC().Format(minuteKey)
	page, err := s.cfg.Bucket.List(ctx, seenPrefix, "", limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range page.Items {
		minute, _, _ := strings.Cut(it.Key[len(seenPrefix):], "/")
		if minute >= cutoff {
			break
		}
		if err := s.cfg.Bucket.Delete(ctx, it.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// cleanJSONError keeps decoder messages but drops Go type names.
func cleanJSONError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if i := strings.Index(msg, " of type "); i > 0 {
		msg = msg[:i]
	}
	return msg
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = json.Valid
