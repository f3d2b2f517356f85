package wallet_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/wallet"
)

var _ call.Pins = (*wallet.Wallet)(nil)

const idURL = "http://127.0.0.1:1/identity"

func open(t *testing.T, dir string, o wallet.Options) *wallet.Wallet {
	t.Helper()
	w, err := wallet.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var (
	keysOnce sync.Once
	keyA     *crypto.PrivateKey
	keyB     *crypto.PrivateKey
)

func testSession(t *testing.T, username, uid string) *identity.Session {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if keyA, err = crypto.GenerateKey(); err != nil {
			panic(err)
		}
		if keyB, err = crypto.GenerateKey(); err != nil {
			panic(err)
		}
	})
	return &identity.Session{IdentityURL: idURL, SessionUID: uid, UserUID: "u-" + username, Username: username,
		Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Key: keyA, Cert: keyB}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"ACQUIRE_CONFIG_DIR": "/x/y", "XDG_CONFIG_HOME": "/xdg", "HOME": "/h"}, "/x/y"},
		{map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/h"}, "/xdg/acquire"},
		{map[string]string{"XDG_CONFIG_HOME": "relative", "HOME": "/h"}, "/h/.config/acquire"},
		{map[string]string{"HOME": "/h"}, "/h/.config/acquire"},
	}
	for _, c := range cases {
		got, err := wallet.Dir(env(c.env))
		if err != nil || got != c.want {
			t.Errorf("Dir(%v) = %q, %v; want %q", c.env, got, err, c.want)
		}
	}
}

func TestEmptyWalletCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acquire")
	w := open(t, dir, wallet.Options{})
	if w.IdentityURL() != "" || w.CurrentUsername(idURL) != "" {
		t.Fatal("empty wallet is not empty")
	}
	if _, ok := w.Pinned(idURL); ok {
		t.Fatal("empty wallet has a pin")
	}
	if _, err := w.Session(idURL, ""); !errors.Is(err, wallet.ErrNoSession) {
		t.Fatalf("Session on empty wallet: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("reading an empty wallet made its folder: %v", err)
	}
}

func TestPinsPersistWithModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "acquire")
	w := open(t, dir, wallet.Options{})
	if err := w.Pin(idURL, "aa:bb"); err != nil {
		t.Fatal(err)
	}
	if err := w.SetIdentityURL(idURL); err != nil {
		t.Fatal(err)
	}
	w2 := open(t, dir, wallet.Options{})
	if fp, ok := w2.Pinned(idURL); !ok || fp != "aa:bb" {
		t.Fatalf("pin not persisted: %q %v", fp, ok)
	}
	if w2.IdentityURL() != idURL {
		t.Fatalf("identity URL not persisted: %q", w2.IdentityURL())
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("wallet folder mode %v, want 0700", m)
	}
	if m := mode(t, filepath.Join(dir, wallet.FileName)); m != 0o600 {
		t.Fatalf("wallet file mode %v, want 0600", m)
	}
	if err := w2.Unpin(idURL); err != nil {
		t.Fatal(err)
	}
	if _, ok := open(t, dir, wallet.Options{}).Pinned(idURL); ok {
		t.Fatal("unpin not persisted")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}

func checkNoPlainKeys(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, wallet.FileName))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Count(s, "PRIVATE KEY-----") != strings.Count(s, "ENCRYPTED PRIVATE KEY-----") {
		t.Fatal("wallet holds an unencrypted private key")
	}
}

func TestSessionRoundTripWithWalletKey(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, wallet.Options{})
	s := testSession(t, "alice", "s1")
	if err := w.SaveSession(s); err != nil {
		t.Fatal(err)
	}
	checkNoPlainKeys(t, dir)
	b, _ := os.ReadFile(filepath.Join(dir, wallet.FileName))
	if !strings.Contains(string(b), "ENCRYPTED PRIVATE KEY") {
		t.Fatal("session keys not stored as encrypted PEM")
	}
	for _, name := range []string{wallet.FileName, wallet.KeyFileName} {
		if m := mode(t, filepath.Join(dir, name)); m != 0o600 {
			t.Fatalf("%s mode %v, want 0600", name, m)
		}
	}
	got, err := open(t, dir, wallet.Options{}).Session(idURL, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.SessionUID != "s1" || got.Username != "alice" || got.UserUID != "u-alice" || !got.Expires.Equal(s.Expires) ||
		got.Key.Fingerprint() != s.Key.Fingerprint() || got.Cert.Fingerprint() != s.Cert.Fingerprint() {
		t.Fatalf("round trip changed the session: %+v", got)
	}

	// The session file alone is not enough.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, wallet.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, other, wallet.Options{}).Session(idURL, "alice"); !errors.Is(err, wallet.ErrUnseal) {
		t.Fatalf("copied session file unsealed without the wallet key: %v", err)
	}
	// Nor is it with another wallet key.
	if err := os.WriteFile(filepath.Join(other, wallet.KeyFileName),
		[]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, other, wallet.Options{}).Session(idURL, "alice"); !errors.Is(err, wallet.ErrUnseal) {
		t.Fatalf("session unsealed with a wrong wallet key: %v", err)
	}
}

func TestSessionWithPassphrase(t *testing.T) {
	dir := t.TempDir()
	const pass = "a wallet passphrase"
	w := open(t, dir, wallet.Options{Passphrase: pass})
	if err := w.SaveSession(testSession(t, "bob", "s2")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, wallet.KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("passphrase wallet made a wallet key: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, wallet.FileName))
	if strings.Contains(string(b), pass) {
		t.Fatal("wallet file holds the passphrase")
	}
	checkNoPlainKeys(t, dir)
	if _, err := open(t, dir, wallet.Options{Passphrase: pass}).Session(idURL, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, dir, wallet.Options{}).Session(idURL, "bob"); !errors.Is(err, wallet.ErrUnseal) {
		t.Fatalf("no passphrase: %v", err)
	}
	if _, err := open(t, dir, wallet.Options{Passphrase: "another passphrase"}).Session(idURL, "bob"); !errors.Is(err, wallet.ErrUnseal) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// A record sealed with the wallet key stays readable once a passphrase is set.
	if err := open(t, dir, wallet.Options{}).SaveSession(testSession(t, "carol", "s3")); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, dir, wallet.Options{Passphrase: pass}).Session(idURL, "carol"); err != nil {
		t.Fatal(err)
	}
}

func TestCloseSession(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, wallet.Options{})
	if err := w.SaveSession(testSession(t, "alice", "s1")); err != nil {
		t.Fatal(err)
	}
	if err := w.CloseSession(idURL, "alice", "other", wallet.StatusLoggedOut); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Session(idURL, "alice"); err != nil {
		t.Fatalf("closing another session UID closed this one: %v", err)
	}
	if err := w.CloseSession(idURL, "alice", "s1", wallet.StatusLoggedOut); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, dir, wallet.Options{}).Session(idURL, "")
	var ce *wallet.ClosedError
	if !errors.Is(err, wallet.ErrSessionClosed) || !errors.As(err, &ce) || ce.Entry.Status != wallet.StatusLoggedOut {
		t.Fatalf("closed session: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, wallet.FileName))
	if strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatal("closed session kept its keys")
	}
	if err := w.CloseSession(idURL, "alice", "s1", "bogus"); !errors.Is(err, wallet.ErrInvalid) {
		t.Fatalf("bogus status: %v", err)
	}
	if err := w.ForgetSession(idURL, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Session(idURL, "alice"); !errors.Is(err, wallet.ErrNoSession) {
		t.Fatalf("forgotten session: %v", err)
	}
}

func TestCurrentUserFollowsLastLogin(t *testing.T) {
	w := open(t, t.TempDir(), wallet.Options{})
	for _, u := range []string{"alice", "bob"} {
		if err := w.SaveSession(testSession(t, u, "s-"+u)); err != nil {
			t.Fatal(err)
		}
	}
	if w.CurrentUsername(idURL) != "bob" {
		t.Fatalf("current user %q", w.CurrentUsername(idURL))
	}
	s, err := w.Session(idURL, "alice")
	if err != nil || s.SessionUID != "s-alice" {
		t.Fatalf("alice: %v %v", s, err)
	}
	if n := len(w.Entries()); n != 2 {
		t.Fatalf("%d entries", n)
	}
}

func TestDevice(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, wallet.Options{})
	if _, err := w.Device(idURL, "alice"); !errors.Is(err, wallet.ErrNoDevice) {
		t.Fatalf("no device: %v", err)
	}
	secret, _ := crypto.NewTOTPSecret()
	if err := w.SaveDevice(idURL, "alice", "dev-1", secret); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, wallet.FileName))
	if strings.Contains(string(b), secret) {
		t.Fatal("device secret stored in clear")
	}
	if err := w.UsedDeviceStep(idURL, "alice", "dev-1", 42); err != nil {
		t.Fatal(err)
	}
	if err := w.UsedDeviceStep(idURL, "alice", "dev-1", 41); err != nil {
		t.Fatal(err)
	}
	d, err := open(t, dir, wallet.Options{}).Device(idURL, "alice")
	if err != nil || d.UID != "dev-1" || d.Secret != secret || d.LastStep != 42 {
		t.Fatalf("device: %+v %v", d, err)
	}
	if err := w.ForgetDevice(idURL, "alice"); err != nil {
		t.Fatal(err)
	}
	if w.HasDevice(idURL, "alice") {
		t.Fatal("device not forgotten")
	}
}

// Writers in separate Wallet values (separate lock file descriptions, as
// separate processes would have) lose no update.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := wallet.Open(dir, wallet.Options{})
			if err == nil {
				err = w.Pin(fmt.Sprintf("http://svc-%d", i), fmt.Sprintf("fp-%d", i))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	w := open(t, dir, wallet.Options{})
	for i := range n {
		if fp, ok := w.Pinned(fmt.Sprintf("http://svc-%d", i)); !ok || fp != fmt.Sprintf("fp-%d", i) {
			t.Fatalf("pin %d lost", i)
		}
	}
}

func TestCorruptWallet(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, wallet.FileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := wallet.Open(dir, wallet.Options{}); !errors.Is(err, wallet.ErrCorrupt) {
		t.Fatalf("corrupt wallet: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, wallet.FileName), []byte(`{"version": 99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := wallet.Open(dir, wallet.Options{}); !errors.Is(err, wallet.ErrCorrupt) {
		t.Fatalf("future wallet: %v", err)
	}
}

func TestWalletKeyOpenToOthersRefused(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, wallet.Options{})
	if err := w.SaveSession(testSession(t, "alice", "s1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, wallet.KeyFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, dir, wallet.Options{}).Session(idURL, "alice"); !errors.Is(err, wallet.ErrUnseal) {
		t.Fatalf("world-readable wallet key used: %v", err)
	}
}
