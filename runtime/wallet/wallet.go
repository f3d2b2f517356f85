// Package wallet is a user's Acquire client state on disk: the default
// identity service, the certificate fingerprint pinned for each service URL
// (trust on first use), the current login session per identity service and
// user, and remembered devices.
//
// # Layout
//
// Everything lives in one folder (see Dir), mode 0700:
//
//	wallet.json  identity URL, pins, sessions, devices     mode 0600
//	wallet.key   random 32-byte wallet key (base64)        mode 0600
//	wallet.lock  advisory lock serialising writers         mode 0600
//
// Every write goes to a temporary file that is synced and renamed over
// wallet.json, so readers see the old or the new wallet, never half of one;
// writers in several processes take wallet.lock first, then re-read, change
// and write the file.
//
// # What protects the session keys
//
// A session's two RSA private keys are stored as encrypted PKCS#8 PEM
// (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), and a remembered device's OTP
// secret as a Fernet token. Both are sealed under a master secret:
//
//   - with a passphrase (Options.Passphrase, which the CLI takes from
//     ACQUIRE_WALLET_PASSPHRASE): the master secret is argon2id(passphrase,
//     salt) with a random salt kept in wallet.json. A copy of the wallet
//     folder is then useless without the passphrase.
//   - otherwise: the master secret is the random key in wallet.key. This only
//     protects against the session file being copied alone (a backup, a
//     dotfiles repository, a pasted file). Anyone who can read the user's
//     files, i.e. a local attacker with the user's privileges, can read
//     wallet.key too and unlock the sessions.
//
// Each record remembers which way it was sealed, so switching between the
// two keeps older records readable while the secret that sealed them is
// still available. Passwords and authenticator secrets are never stored.
package wallet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
)

// Names of the environment variables and files the wallet uses.
const (
	EnvConfigDir  = "ACQUIRE_CONFIG_DIR"
	EnvPassphrase = "ACQUIRE_WALLET_PASSPHRASE"
	FileName      = "wallet.json"
	KeyFileName   = "wallet.key"
	lockFileName  = "wallet.lock"
)

// Limits.
const (
	MaxFileBytes     = 4 << 20
	MaxSessions      = 256
	MaxDevices       = 256
	MaxPins          = 4096
	MaxURLBytes      = 2048
	MaxRetries       = 1024 // remembered retry values (see Remember)
	MaxUsernameBytes = 256
	lockWait         = 10 * time.Second
	lockPoll         = 20 * time.Millisecond
	walletKeyBytes   = 32
	formatVersion    = 1
	dirMode          = 0o700
	fileMode         = 0o600
)

// How a record was sealed.
const (
	SealedWithKey        = "wallet-key"
	SealedWithPassphrase = "passphrase"
)

// Session statuses the wallet records. A closed session keeps its UIDs so
// the user can be told what happened, but its private keys are deleted.
const (
	StatusActive    = "active"
	StatusLoggedOut = "logged_out"
	StatusRevoked   = "revoked"
	StatusClosed    = "closed"
)

// Errors. Test them with errors.Is.
var (
	ErrNoSession     = errors.New("wallet: no session")
	ErrSessionClosed = errors.New("wallet: session closed")
	ErrNoDevice      = errors.New("wallet: no remembered device")
	ErrUnseal        = errors.New("wallet: cannot unseal")
	ErrBusy          = errors.New("wallet: in use by another process")
	ErrCorrupt       = errors.New("wallet: unreadable wallet file")
	ErrLimit         = errors.New("wallet: limit reached")
	ErrInvalid       = errors.New("wallet: invalid argument")
)

// Options tune a wallet; zero values take the defaults.
type Options struct {
	// Passphrase, when set, seals new records with a key derived from it
	// instead of the random wallet key.
	Passphrase string
	Clock      func() time.Time
	Logger     *slog.Logger
}

// Wallet is one wallet folder. It is safe for concurrent use, and several
// processes may share one folder.
type Wallet struct {
	dir        string
	passphrase string
	now        func() time.Time
	log        *slog.Logger

	mu      sync.Mutex
	f       *walletFile
	masters map[string][]byte // cached master secrets, by sealing and salt
}

type walletFile struct {
	Version     int               `json:"version"`
	IdentityURL string            `json:"identity_url,omitempty"`
	Pins        map[string]string `json:"pins,omitempty"`
	Current     map[string]string `json:"current,omitempty"` // identity URL -> username
	Sessions    []*sessionRecord  `json:"sessions,omitempty"`
	Devices     []*deviceRecord   `json:"devices,omitempty"`
	KDF         *kdfParams        `json:"passphrase_kdf,omitempty"`
	Retries     map[string]retry  `json:"retries,omitempty"` // by DeriveID key: values a retry must repeat
}

// Dir returns the wallet folder: $ACQUIRE_CONFIG_DIR if set, else
// $XDG_CONFIG_HOME/acquire, else ~/.config/acquire. getenv is usually
// os.Getenv.
func Dir(getenv func(string) string) (string, error) {
	if d := getenv(EnvConfigDir); d != "" {
		return filepath.Abs(d)
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "acquire"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("wallet: no home folder to keep the wallet in: %w", err)
		}
	}
	return filepath.Join(home, ".config", "acquire"), nil
}

// Open reads the wallet in dir. A missing folder or file is an empty
// wallet; nothing is created until the first write.
func Open(dir string, o Options) (*Wallet, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty wallet folder", ErrInvalid)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Wallet{dir: dir, passphrase: o.Passphrase, now: o.Clock, log: o.Logger, masters: map[string][]byte{}}
	f, err := w.read()
	if err != nil {
		return nil, err
	}
	w.f = f
	return w, nil
}

// Folder is where the wallet lives.
func (w *Wallet) Folder() string { return w.dir }

func (w *Wallet) path(name string) string { return filepath.Join(w.dir, name) }

// read loads wallet.json, or an empty wallet if there is none.
func (w *Wallet) read() (*walletFile, error) {
	fh, err := os.Open(w.path(FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return &walletFile{Version: formatVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	defer func() { _ = fh.Close() }()
	if st, err := fh.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		w.log.Warn("wallet file is readable by other users; it will be rewritten with mode 0600",
			"path", w.path(FileName), "mode", st.Mode().Perm().String())
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrCorrupt, w.path(FileName), MaxFileBytes)
	}
	var f walletFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, w.path(FileName), err)
	}
	if f.Version != formatVersion {
		return nil, fmt.Errorf("%w: %s has format version %d; this program reads version %d",
			ErrCorrupt, w.path(FileName), f.Version, formatVersion)
	}
	return &f, nil
}

// update changes the wallet under the cross-process lock: it re-reads the
// file, lets fn change it, and writes it back atomically. fn must not keep
// the *walletFile.
func (w *Wallet) update(fn func(f *walletFile) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.ensureDir(); err != nil {
		return err
	}
	unlock, err := lockFile(w.path(lockFileName), lockWait, lockPoll)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := w.read()
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if len(b) > MaxFileBytes {
		return fmt.Errorf("%w: wallet would be over %d bytes", ErrLimit, MaxFileBytes)
	}
	if err := writeAtomic(w.dir, FileName, append(b, '\n')); err != nil {
		return err
	}
	w.f = f
	return nil
}

// snapshot returns the wallet as last read or written. Callers must not
// change it.
func (w *Wallet) snapshot() *walletFile {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f
}

func (w *Wallet) ensureDir() error {
	st, err := os.Stat(w.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(w.dir, dirMode); err != nil {
			return fmt.Errorf("wallet: %w", err)
		}
		return os.Chmod(w.dir, dirMode) // MkdirAll's mode is subject to the umask
	}
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a folder", ErrInvalid, w.dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		w.log.Warn("wallet folder is open to other users; consider chmod 700", "path", w.dir,
			"mode", st.Mode().Perm().String())
	}
	return nil
}

// writeAtomic writes name in dir through a synced temporary file and a
// rename, then syncs the folder so the rename survives a crash.
func writeAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	syncDir(dir)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every platform can sync a folder
		_ = d.Close()
	}
}

// IdentityURL is the default identity service, or "" if none was saved.
func (w *Wallet) IdentityURL() string { return w.snapshot().IdentityURL }

// SetIdentityURL saves the default identity service.
func (w *Wallet) SetIdentityURL(url string) error {
	if err := checkURL(url); err != nil {
		return err
	}
	if w.IdentityURL() == url {
		return nil
	}
	return w.update(func(f *walletFile) error {
		f.IdentityURL = url
		return nil
	})
}

// Pinned returns the certificate fingerprint trusted for a service URL.
// It implements call.Pins.
func (w *Wallet) Pinned(url string) (string, bool) {
	fp, ok := w.snapshot().Pins[url]
	return fp, ok
}

// Pin trusts fingerprint for url from now on. It implements call.Pins.
func (w *Wallet) Pin(url, fingerprint string) error {
	if err := checkURL(url); err != nil {
		return err
	}
	if fingerprint == "" || len(fingerprint) > MaxURLBytes {
		return fmt.Errorf("%w: bad fingerprint", ErrInvalid)
	}
	if old, ok := w.Pinned(url); ok && old == fingerprint {
		return nil
	}
	return w.update(func(f *walletFile) error {
		if f.Pins == nil {
			f.Pins = map[string]string{}
		}
		if _, ok := f.Pins[url]; !ok && len(f.Pins) >= MaxPins {
			return fmt.Errorf("%w: at most %d pinned services", ErrLimit, MaxPins)
		}
		f.Pins[url] = fingerprint
		return nil
	})
}

// Unpin forgets the fingerprint of url, so the next call trusts whatever
// certificate the service presents. Use it only after checking out of band
// that the service really changed its keys.
func (w *Wallet) Unpin(url string) error {
	if _, ok := w.Pinned(url); !ok {
		return nil
	}
	return w.update(func(f *walletFile) error {
		delete(f.Pins, url)
		return nil
	})
}

func checkURL(url string) error {
	if url == "" || len(url) > MaxURLBytes {
		return fmt.Errorf("%w: service URL must be 1 to %d bytes", ErrInvalid, MaxURLBytes)
	}
	return nil
}

func checkUser(identityURL, username string) error {
	if err := checkURL(identityURL); err != nil {
		return err
	}
	if username == "" || len(username) > MaxUsernameBytes {
		return fmt.Errorf("%w: username must be 1 to %d bytes", ErrInvalid, MaxUsernameBytes)
	}
	return nil
}

// derive makes a purpose-specific key from the master secret, so the PEM
// passphrase and the Fernet key never share bytes.
func derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("acquire-wallet-v1\x00" + purpose))
	return m.Sum(nil)
}

func fernetKey(master []byte) crypto.FernetKey {
	var k crypto.FernetKey
	copy(k[:], derive(master, "fernet"))
	return k
}

// Pins returns a copy of the pinned fingerprints, by service URL.
func (w *Wallet) Pins() map[string]string {
	f := w.snapshot()
	out := make(map[string]string, len(f.Pins))
	for u, fp := range f.Pins {
		out[u] = fp
	}
	return out
}
