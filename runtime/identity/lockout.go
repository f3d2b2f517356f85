package identity

import (
	"math"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

// Login throttling (see docs/design/foundation.md, Identity). Nothing a
// caller without the password can do stops the owner logging in:
//
//   - Each pending login may make MaxSessionAttempts approval attempts,
//     each counted on the session record by compare-and-swap before it is
//     judged; past that the session is denied and a new one must be asked.
//   - Password failures never lock the account. Each attempt is counted as
//     a failure before the password is hashed (a success takes it back), so
//     parallel guesses cannot share one check. After FreeFailures in a row
//     the account answers quietly: every failure, of either factor, is the
//     same PasswordError, so guessing reveals nothing about the password.
//   - One-time code failures (only possible with the right password) lock
//     the code: after FreeFailures in a row, each further failure locks it
//     for BaseLock doubled per failure, up to MaxLock, and no account takes
//     more than MaxFailuresPerHour code failures in an hour window.
const (
	MaxSessionAttempts = 5
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

// failPassword counts one password attempt as failed. It never locks.
func (l *lockState) failPassword() { l.Password.Consecutive++ }

// quiet says whether failures answer without naming the factor.
func (l *lockState) quiet() bool { return l.Password.Consecutive >= FreeFailures }

// failOTP records one failure of the one-time code and locks it if the
// policy says so.
func (l *lockState) failOTP(now time.Time) {
	if now.Sub(l.HourStart) >= time.Hour {
		l.HourStart, l.HourFailures = now, 0
	}
	l.HourFailures++
	l.OTP.Consecutive++
	if over := l.OTP.Consecutive - FreeFailures; over >= 0 {
		l.OTP.LockedUntil = now.Add(lockFor(over))
	}
}

func lockFor(over int) time.Duration {
	d := float64(BaseLock) * math.Pow(2, float64(min(over, 16)))
	return min(time.Duration(d), MaxLock)
}

// checkOTP refuses an attempt at a locked one-time code without looking at it.
func (l *lockState) checkOTP(now time.Time) error {
	if now.Sub(l.HourStart) < time.Hour && l.HourFailures >= MaxFailuresPerHour {
		return call.Errorf(ErrLocked, "too many failed one-time codes this hour; try again in %s",
			l.HourStart.Add(time.Hour).Sub(now).Round(time.Second))
	}
	if now.Before(l.OTP.LockedUntil) {
		return call.Errorf(ErrLocked, "one-time code locked after %d failures; try again in %s",
			l.OTP.Consecutive, l.OTP.LockedUntil.Sub(now).Round(time.Second))
	}
	return nil
}

func (c *counter) reset() { *c = counter{} }

// wrongCredentials is the one answer to a wrong password, an unknown
// username, and, on a quiet account, any failure: alike in class and text.
func wrongCredentials(username string) error {
	return call.Errorf(ErrPassword, "wrong password or one-time code for %q", username)
}
