package wallet

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/openacquire/acquire/runtime/crypto"
)

// kdfParams are the argon2id parameters and salt that turn the wallet
// passphrase into the master secret.
type kdfParams struct {
	Salt      string `json:"salt"`
	MemoryKiB uint32 `json:"memory_kib"`
	Passes    uint32 `json:"passes"`
	Lanes     uint8  `json:"lanes"`
}

// The passphrase KDF costs what an identity service spends on a password
// (about 50 ms here), once per process.
var defaultKDF = kdfParams{MemoryKiB: 19456, Passes: 2, Lanes: 1}

const (
	kdfSaltBytes     = 16
	maxKDFMemoryKiB  = 1 << 20 // a hostile wallet file must not make us allocate more
	maxKDFPasses     = 16
	maxPassphraseLen = 1024
)

func (p *kdfParams) check() error {
	salt, err := base64.RawStdEncoding.DecodeString(p.Salt)
	if err != nil || len(salt) < 8 || len(salt) > 64 || p.MemoryKiB < 8*1024 || p.MemoryKiB > maxKDFMemoryKiB ||
		p.Passes < 1 || p.Passes > maxKDFPasses || p.Lanes < 1 {
		return fmt.Errorf("%w: passphrase KDF parameters out of bounds", ErrCorrupt)
	}
	return nil
}

// sealing says how new records are sealed.
func (w *Wallet) sealing() string {
	if w.passphrase != "" {
		return SealedWithPassphrase
	}
	return SealedWithKey
}

// masterFor returns the master secret for records sealed the given way.
// With create, a missing wallet key or KDF salt is made (callers hold the
// update lock and f is the file being written).
func (w *Wallet) masterFor(sealing string, f *walletFile, create bool) ([]byte, error) {
	switch sealing {
	case SealedWithKey:
		if m := w.masters[SealedWithKey]; m != nil {
			return m, nil
		}
		m, err := w.walletKey(create)
		if err != nil {
			return nil, err
		}
		w.masters[SealedWithKey] = m
		return m, nil
	case SealedWithPassphrase:
		if w.passphrase == "" {
			return nil, fmt.Errorf("%w: this record was sealed with a wallet passphrase; set %s", ErrUnseal, EnvPassphrase)
		}
		if len(w.passphrase) > maxPassphraseLen {
			return nil, fmt.Errorf("%w: wallet passphrase over %d bytes", ErrInvalid, maxPassphraseLen)
		}
		if f.KDF == nil {
			if !create {
				return nil, fmt.Errorf("%w: the wallet has no passphrase salt", ErrUnseal)
			}
			salt := make([]byte, kdfSaltBytes)
			if _, err := rand.Read(salt); err != nil {
				return nil, err
			}
			p := defaultKDF
			p.Salt = base64.RawStdEncoding.EncodeToString(salt)
			f.KDF = &p
		}
		if err := f.KDF.check(); err != nil {
			return nil, err
		}
		cacheKey := SealedWithPassphrase + ":" + f.KDF.Salt
		if m := w.masters[cacheKey]; m != nil {
			return m, nil
		}
		salt, _ := base64.RawStdEncoding.DecodeString(f.KDF.Salt) // checked above
		m := argon2.IDKey([]byte(w.passphrase), salt, f.KDF.Passes, f.KDF.MemoryKiB, f.KDF.Lanes, 32)
		w.masters[cacheKey] = m
		return m, nil
	}
	return nil, fmt.Errorf("%w: unknown sealing %q", ErrCorrupt, sealing)
}

// walletKey reads wallet.key, making it first if asked to.
func (w *Wallet) walletKey(create bool) ([]byte, error) {
	path := w.path(KeyFileName)
	k, err := readWalletKey(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if !create {
		return nil, fmt.Errorf("%w: %s is missing; log in again", ErrUnseal, path)
	}
	k = make([]byte, walletKeyBytes)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return readWalletKey(path) // made by another process since we looked
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	_, err = fh.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("wallet: %w", err)
	}
	syncDir(w.dir)
	w.log.Debug("made a new wallet key", "path", path)
	return k, nil
}

func readWalletKey(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = fh.Close() }()
	if st, err := fh.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by other users (mode %s); chmod 600 it", ErrUnseal, path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(fh, 256))
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != walletKeyBytes {
		return nil, fmt.Errorf("%w: %s is not base64 of %d bytes", ErrUnseal, path, walletKeyBytes)
	}
	return k, nil
}

func (w *Wallet) sealKey(master []byte, k *crypto.PrivateKey) (string, error) {
	// The passphrase is a derived key: stretching it gains nothing.
	b, err := k.MarshalEncryptedPEMWithKey(derive(master, "pkcs8"))
	return string(b), err
}

func (w *Wallet) unsealKey(master []byte, pemText string) (*crypto.PrivateKey, error) {
	k, err := crypto.ParseEncryptedPEM([]byte(pemText), crypto.KeyPassphrase(derive(master, "pkcs8")))
	if err != nil {
		return nil, fmt.Errorf("%w: wrong wallet passphrase or wallet key, or a damaged key: %w", ErrUnseal, err)
	}
	return k, nil
}

func (w *Wallet) sealSecret(master []byte, secret string) (string, error) {
	return fernetKey(master).Encrypt([]byte(secret))
}

func (w *Wallet) unsealSecret(master []byte, token string) (string, error) {
	b, err := fernetKey(master).Decrypt(token)
	if err != nil {
		return "", fmt.Errorf("%w: wrong wallet passphrase or wallet key, or a damaged secret", ErrUnseal)
	}
	return string(b), nil
}
