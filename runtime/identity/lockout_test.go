package identity

import (
	"errors"
	"testing"
	"time"
)

func TestLockBackoffDoublesAndCaps(t *testing.T) {
	var l lockState
	now := time.Unix(1_700_000_000, 0)
	for i := range FreeFailures - 1 {
		l.fail(&l.Password, now)
		if err := l.check(&l.Password, "password", now); err != nil {
			t.Fatalf("locked after %d failures: %v", i+1, err)
		}
	}
	want := BaseLock
	for range 10 {
		l.fail(&l.Password, now)
		if got := l.Password.LockedUntil.Sub(now); got != min(want, MaxLock) {
			t.Fatalf("lock %s, want %s", got, min(want, MaxLock))
		}
		if err := l.check(&l.Password, "password", now); !errors.Is(err, ErrLocked) {
			t.Fatalf("not locked: %v", err)
		}
		if err := l.check(&l.Password, "password", l.Password.LockedUntil); err != nil {
			t.Fatalf("still locked at the end of the lock: %v", err)
		}
		want *= 2
	}
	// The OTP counter is separate: password failures never lock it.
	if err := l.check(&l.OTP, "otp", now); err != nil {
		t.Fatalf("OTP locked by password failures: %v", err)
	}
}

func TestHourlyCapLocksEveryFactorUntilTheHourEnds(t *testing.T) {
	var l lockState
	start := time.Unix(1_700_000_000, 0)
	for i := range MaxFailuresPerHour {
		// Alternate factors and reset their streaks, so only the hourly cap can lock.
		c := &l.Password
		if i%2 == 1 {
			c = &l.OTP
		}
		l.fail(c, start.Add(time.Duration(i)*time.Second))
		c.reset()
	}
	mid := start.Add(30 * time.Minute)
	if err := l.check(&l.Password, "password", mid); !errors.Is(err, ErrLocked) {
		t.Fatalf("hourly cap did not lock the password: %v", err)
	}
	if err := l.check(&l.OTP, "otp", mid); !errors.Is(err, ErrLocked) {
		t.Fatalf("hourly cap did not lock the OTP: %v", err)
	}
	if err := l.check(&l.Password, "password", start.Add(time.Hour)); err != nil {
		t.Fatalf("cap still applies after the hour: %v", err)
	}
}
