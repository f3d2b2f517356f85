package wallet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// RetryKey is this wallet's secret for deriving what a retried command must
// repeat, such as the uid of the cheque that pays for a request: the same
// request id gives the same uid on every run from this wallet, across
// logins, and nobody without the wallet can predict it (so cannot claim
// the uid first). It is derived from wallet.key (made on first need)
// under its own label, so it reveals nothing of the key that seals sessions.
func (w *Wallet) RetryKey() ([]byte, error) {
	if err := w.ensureDir(); err != nil {
		return nil, err
	}
	k, err := w.walletKey(true)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte("acquire-wallet-retry-key-v1"))
	return m.Sum(nil), nil
}

// DeriveID is a stable id for one purpose and its parts (each part
// newline-separated, so "a"+"bc" and "ab"+"c" differ): the prefix and 40
// hex digits of HMAC-SHA256 under RetryKey.
func (w *Wallet) DeriveID(prefix string, parts ...string) (string, error) {
	k, err := w.RetryKey()
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(strings.Join(parts, "\n")))
	return prefix + hex.EncodeToString(m.Sum(nil))[:40], nil
}

// retry is a value a command chose on its first run (a time computed from
// "now", say) that its retries must send again.
type retry struct {
	Value string    `json:"value"`
	Until time.Time `json:"until"` // forgotten after this
}

// Remember answers the value kept under key (a DeriveID result) if there is
// one still in date, else keeps value until the time until and answers it:
// a retried command sends what its first run sent. At most MaxRetries are
// kept; entries past their time are dropped first.
func (w *Wallet) Remember(key, value string, until time.Time) (string, error) {
	if len(key) > MaxURLBytes || len(value) > MaxURLBytes {
		return "", fmt.Errorf("%w: retry key or value over %d bytes", ErrInvalid, MaxURLBytes)
	}
	now := w.now()
	out := value
	err := w.update(func(f *walletFile) error {
		for k, r := range f.Retries {
			if !now.Before(r.Until) {
				delete(f.Retries, k)
			}
		}
		if r, ok := f.Retries[key]; ok {
			out = r.Value
			return nil
		}
		if len(f.Retries) >= MaxRetries {
			return fmt.Errorf("%w: %d remembered retries; wait for some to pass their time", ErrLimit, MaxRetries)
		}
		if f.Retries == nil {
			f.Retries = map[string]retry{}
		}
		f.Retries[key] = retry{Value: value, Until: until.UTC()}
		return nil
	})
	return out, err
}
