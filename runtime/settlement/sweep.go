package settlement

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// ErrSweepIncomplete: the sweep left transfers in flight (each logged);
// the next sweep tries them again.
var ErrSweepIncomplete = errors.New("settlement: sweep left transfers in flight")

var (
	errTooYoung = errors.New("settlement: index entry too young to close")
	errHeld     = errors.New("settlement: held at the peer, not settled yet")
)

// Sweep finishes the transfers in flight that were recorded at least
// SweepAge before now: each is driven again (the peer's decision asked
// for, the escrow moved accordingly). A provisional transfer held at the
// peer is asked about on every sweep until the peer reports its hold
// settled (receipted, refunded or expired there). A transfer whose peer does not
// answer stays in flight, held, and is tried again by the next sweep. An
// index entry whose transfer was never recorded (its first attempt died
// in between) is closed with a tombstone once the window has passed, so a
// late first attempt cannot record it after the sweep looked. It returns
// how many transfers it finished.
func (s *Settler) Sweep(ctx context.Context, now time.Time) (int, error) {
	cut := now.Add(-s.c.SweepAge).UnixMilli()
	done, failed := 0, 0
	var first error
	token := ""
	for {
		page, err := s.c.Bucket.List(ctx, duePre, token, sweepPage)
		if err != nil {
			return done, err
		}
		for _, it := range page.Items {
			stamp, id, err := parseDueKey(it.Key)
			if err == nil && stamp > cut {
				return done, sweepError(failed, first) // time order: the rest are younger
			}
			if err == nil {
				err = s.sweepOne(ctx, it.Key, id, now)
			}
			if errors.Is(err, errTooYoung) || errors.Is(err, errHeld) {
				continue
			}
			if ctx.Err() != nil {
				return done, ctx.Err()
			}
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
				s.c.Log.Warn("settlement: sweep left a transfer in flight; the next sweep retries it", "key", it.Key, "err", err)
				continue
			}
			done++
		}
		if page.Next == "" {
			return done, sweepError(failed, first)
		}
		token = page.Next
	}
}

func sweepError(failed int, first error) error {
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d transfers, first: %w", ErrSweepIncomplete, failed, first)
}

func parseDueKey(key string) (int64, string, error) {
	stamp, enc, ok := strings.Cut(strings.TrimPrefix(key, duePre), "/")
	n, err := strconv.ParseInt(stamp, 10, 64)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("%w: bad index key %q", ledger.ErrInternal, key)
	}
	id, err := store.DecodeName(enc)
	if err != nil {
		return 0, "", fmt.Errorf("%w: bad index key %q", ledger.ErrInternal, key)
	}
	return n, id, nil
}

// sweepOne drives one indexed transfer to its end, or tombstones an index
// entry never recorded.
func (s *Settler) sweepOne(ctx context.Context, key, id string, now time.Time) error {
	rec, err := s.outRecord(ctx, id)
	if errors.Is(err, ErrNoTransfer) {
		stamp, _, _ := parseDueKey(key)
		if now.Before(time.UnixMilli(stamp).Add(s.c.Window)) {
			return errTooYoung // its first attempt may still record it
		}
		tomb := &outRecord{Out: Out{ID: id}, Created: time.UnixMilli(stamp).UTC(), Abandoned: true}
		if _, err := s.c.Bucket.PutJSONIfAbsent(ctx, outKey(id), tomb); err != nil && !errors.Is(err, store.ErrPrecondition) {
			return err
		}
		if rec, err = s.outRecord(ctx, id); err != nil {
			return err
		}
		if rec.Abandoned {
			return s.c.Bucket.Delete(ctx, key)
		}
	} else if err != nil {
		return err
	}
	if !dueKeyMatches(key, rec) {
		// An index entry of an attempt that lost the record's race: the
		// winner has its own entry.
		return s.c.Bucket.Delete(ctx, key)
	}
	st, err := s.drive(ctx, rec, true)
	if err == nil && st.State == Held {
		return errHeld // asked again by the next sweep, until the hold is settled there
	}
	if err == nil || errors.Is(err, ErrAborted) || ledger.Refused(err) {
		return nil // finished (drive dropped the index entry)
	}
	return err
}

func dueKeyMatches(key string, rec *outRecord) bool { return key == dueKey(rec.Created, rec.ID) }

// Position is this ledger's side of the settlement with one peer.
type Position struct {
	Peer string `json:"peer"`
	// Owed is the position account's balance: what this region owes the
	// peer (negative: what the peer owes this region). At rest, a peer's
	// Owed for this region is exactly minus this one.
	Owed ledger.Amount `json:"owed"`
	// InFlight is the escrow's balance: this region's payers' money whose
	// transfers to the peer are not finished yet.
	InFlight ledger.Amount `json:"in_flight"`
}

// Position reads this ledger's position with peer (zero before any
// transfer).
func (s *Settler) Position(ctx context.Context, peer string) (Position, error) {
	p := Position{Peer: peer}
	if err := s.Quiesce(ctx); err != nil {
		return p, err
	}
	for _, x := range []struct {
		acc string
		out *ledger.Amount
	}{{PositionAccount(peer), &p.Owed}, {EscrowAccount(peer), &p.InFlight}} {
		b, err := s.c.Ledger.Balance(ctx, x.acc)
		if errors.Is(err, ledger.ErrNoAccount) {
			continue
		}
		if err != nil {
			return p, err
		}
		*x.out = b.Balance
	}
	return p, nil
}
