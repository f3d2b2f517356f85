package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// idemRecord is kept under calls/idem/: which request owns the key, whether
// it finished, and its sealed answer (answers may hold secrets, such as an
// OTP provisioning URI, so they are encrypted at rest).
type idemRecord struct {
	PayloadHash string    `json:"payload_mac"`
	Done        bool      `json:"done"`
	LeaseUntil  time.Time `json:"lease_until"`
	Result      string    `json:"result,omitempty"`
}

// runIdempotent runs a handler at most once per idempotency key: a retry
// with the same arguments gets the stored answer, a reuse of the key with
// other arguments is refused, and a call whose runner died is taken over
// once its lease has passed.
func (s *Service) runIdempotent(ctx context.Context, req *call.Request, h *handler) *call.Result {
	if len(req.IdempotencyKey) > MaxIdemKeyBytes {
		return call.WrapError(call.Errorf(call.ErrBadArguments, "idempotency key over %d bytes", MaxIdemKeyBytes))
	}
	key := idemKey(req.Function, req.IdempotencyKey)
	hash := s.keys.MAC("idempotency", req.Args)
	ver, done, err := s.claim(ctx, key, hash)
	if err != nil {
		return call.WrapError(s.typed(err, req.Function))
	}
	if done != nil {
		return done
	}
	res := s.run(ctx, req, h)
	if res.Exception != nil && res.Exception.Class == call.ErrInternal.Class {
		// Nothing deterministic to remember: let a retry run it again.
		_ = s.cfg.Bucket.DeleteIfVersion(ctx, key, ver)
		return res
	}
	if err := s.finish(ctx, key, ver, hash, res); err != nil {
		return call.WrapError(s.typed(err, req.Function))
	}
	return res
}

// claim takes the key for this call, or returns the stored answer.
func (s *Service) claim(ctx context.Context, key, hash string) (store.Version, *call.Result, error) {
	rec := idemRecord{PayloadHash: hash, LeaseUntil: s.cfg.Clock().Add(s.cfg.Lease)}
	ver, err := s.cfg.Bucket.PutJSONIfAbsent(ctx, key, &rec)
	if err == nil {
		return ver, nil, nil
	}
	if !errors.Is(err, store.ErrPrecondition) {
		return "", nil, err
	}
	var old idemRecord
	ver, err = s.cfg.Bucket.GetJSON(ctx, key, &old)
	if err != nil {
		return "", nil, err
	}
	switch {
	case old.PayloadHash != hash:
		return "", nil, call.Errorf(call.ErrIdempotency, "this idempotency key was used for a different request")
	case old.Done:
		res, err := s.storedResult(ctx, &old)
		return "", res, err
	case s.cfg.Clock().Before(old.LeaseUntil):
		return "", nil, call.Errorf(call.ErrInProgress, "the first call with this idempotency key is still running; retry later")
	}
	ver, err = s.cfg.Bucket.PutJSONIfVersion(ctx, key, &rec, ver)
	if errors.Is(err, store.ErrPrecondition) {
		return "", nil, call.Errorf(call.ErrInProgress, "another retry took this idempotency key over; retry later")
	}
	return ver, nil, err
}

func (s *Service) finish(ctx context.Context, key string, ver store.Version, hash string, res *call.Result) error {
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	sealed, err := s.keys.Seal(ctx, raw)
	if err != nil {
		return err
	}
	_, err = s.cfg.Bucket.PutJSONIfVersion(ctx, key, &idemRecord{PayloadHash: hash, Done: true, Result: sealed}, ver)
	return err
}

func (s *Service) storedResult(ctx context.Context, rec *idemRecord) (*call.Result, error) {
	raw, err := s.keys.Unseal(ctx, rec.Result)
	if err != nil {
		return nil, err
	}
	var res call.Result
	return &res, json.Unmarshal(raw, &res)
}

func idemKey(function, key string) string {
	sum := sha256.Sum256([]byte(function + "\x00" + key))
	return idemPrefix + hex.EncodeToString(sum[:])
}
