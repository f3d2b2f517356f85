package identity

import (
	"math"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

// Lockout policy. Password and OTP failures are counted apart, so knowing
// the password does not buy more OTP guesses. After FreeFailures in a row,
// each further failure locks that factor for BaseLock doubled per failure,
// up to MaxLock. Whatever the backoff, no account takes more than
// MaxFailuresPerHour failures in one hour window.
const (
	FreeFailures       = 5
	BaseLock           = 30 * time.Second
	MaxLock            = time.Hour
	MaxFailuresPerHour = 100
)

type counter struct {
	Consecutive int       `json:"consecutive"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

type lockState struct {
	Password     counter   `json:"password"`
	OTP          counter   `json:"otp"`
	HourStart    time.Time `json:"hour_start,omitzero"`
	HourFailures int       `json:"hour_failures"`
}

// fail records one failure of a factor and locks it if the policy says so.
func (l *lockState) fail(c *counter, now time.Time) {
	if now.Sub(l.HourStart) >= time.Hour {
		l.HourStart, l.HourFailures = now, 0
	}
	l.HourFailures++
	c.Consecutive++
	if over := c.Consecutive - FreeFailures; over >= 0 {
		c.LockedUntil = now.Add(lockFor(over))
	}
}

func lockFor(over int) time.Duration {
	d := float64(BaseLock) * math.Pow(2, float64(min(over, 16)))
	return min(time.Duration(d), MaxLock)
}

// check refuses an attempt at a locked factor without looking at it.
func (l *lockState) check(c *counter, factor string, now time.Time) error {
	if now.Sub(l.HourStart) < time.Hour && l.HourFailures >= MaxFailuresPerHour {
		return call.Errorf(ErrLocked, "too many failed attempts this hour; try again in %s",
			l.HourStart.Add(time.Hour).Sub(now).Round(time.Second))
	}
	if now.Before(c.LockedUntil) {
		return call.Errorf(ErrLocked, "%s locked after %d failures; try again in %s",
			factor, c.Consecutive, c.LockedUntil.Sub(now).Round(time.Second))
	}
	return nil
}

func (c *counter) reset() { *c = counter{} }
