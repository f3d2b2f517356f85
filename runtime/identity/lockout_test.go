package identity

import (
	"errors"
	"testing"
	"time"
)

func TestOTPLockBackoffDoublesAndCaps(t *testing.T) {
	var l lockState
	now := time.Unix(1_700_000_000, 0)
	for i := range FreeFailures - 1 {
		l.failOTP(now)
		if err := l.checkOTP(now); err != nil {
			t.Fatalf("locked after %d failures: %v", i+1, err)
		}
	}
	want := BaseLock
	for range 10 {
		l.failOTP(now)
		if got := l.OTP.LockedUntil.Sub(now); got != min(want, MaxLock) {
			t.Fatalf("lock %s, want %s", got, min(want, MaxLock))
		}
		if err := l.checkOTP(now); !errors.Is(err, ErrLocked) {
			t.Fatalf("not locked: %v", err)
		}
		if err := l.checkOTP(l.OTP.LockedUntil); err != nil {
			t.Fatalf("still locked at the end of the lock: %v", err)
		}
		want *= 2
	}
}

// Password failures never lock anything: past FreeFailures they only make
// the account answer quietly.
func TestPasswordFailuresNeverLock(t *testing.T) {
	var l lockState
	now := time.Unix(1_700_000_000, 0)
	for i := range 10 * MaxFailuresPerHour {
		if l.quiet() != (i >= FreeFailures) {
			t.Fatalf("after %d failures quiet = %v", i, l.quiet())
		}
		l.failPassword()
	}
	if err := l.checkOTP(now); err != nil {
		t.Fatalf("password failures locked the code: %v", err)
	}
}

func TestHourlyCapLocksTheCodeUntilTheHourEnds(t *testing.T) {
	var l lockState
	start := time.Unix(1_700_000_000, 0)
	for i := range MaxFailuresPerHour {
		l.failOTP(start.Add(time.Duration(i) * time.Second))
		l.OTP.reset() // only the hourly cap can lock
	}
	mid := start.Add(30 * time.Minute)
	if err := l.checkOTP(mid); !errors.Is(err, ErrLocked) {
		t.Fatalf("hourly cap did not lock the code: %v", err)
	}
	if err := l.checkOTP(start.Add(time.Hour)); err != nil {
		t.Fatalf("cap still applies after the hour: %v", err)
	}
}
