package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loggedInAdmin registers alice on a whole host, logs her in, and makes
// her an admin of accounting and access, with an account "main" holding 100.
func loggedInAdmin(t *testing.T) (*cli, string) {
	t.Helper()
	alice, h := newHostCLI(t)
	secret, reg := alice.register("alice")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(secret), "--password-stdin")
	uid := reg["user_uid"].(string)
	ctx := context.Background()
	for _, add := range []func(context.Context, string, string) error{h.Accounting.AddAdmin, h.Access.AddAdmin, h.Compute.AddAdmin} {
		if err := add(ctx, alice.url, uid); err != nil {
			t.Fatal(err)
		}
	}
	alice.mustJSON("", "account", "create", "main")
	alice.mustJSON("", "account", "deposit", "main", "--amount", "100", "--id", "dep-0")
	return alice, uid
}

// TestInputErrorsExitUsage: every input the CLI or a service rejects as
// malformed exits 2 (UsageError or the service's own input class), with a
// message that names what was wrong, and nothing else (no raw Go errors).
func TestInputErrorsExitUsage(t *testing.T) {
	t.Parallel()
	alice, _ := loggedInAdmin(t)
	alice.mustJSON("", "account", "create", "other")
	alice.mustJSON("", "drive", "create", "docs")
	src := filepath.Join(t.TempDir(), "f.txt")
	writeFile(t, src, "hello")
	alice.mustJSON("", "file", "upload", src, "docs", "f.txt")
	link := alice.mustJSON("", "par", "create", "docs", "f.txt", "--mode", "read", "--expires", "1h")["link"].(string)
	missing := filepath.Join(t.TempDir(), "no-such-folder", "x")
	cases := []struct {
		name, stdin, class, says string
		args                     []string
	}{
		{"deposit -5", "", "BadArgumentsError", "amount", []string{"account", "deposit", "main", "--amount", "-5"}},
		{"deposit 0", "", "BadArgumentsError", "amount", []string{"account", "deposit", "main", "--amount", "0"}},
		{"transfer -5", "", "BadArgumentsError", "amount", []string{"account", "transfer", "--from", "main", "--to", "other", "--amount", "-5"}},
		{"transfer 0", "", "BadArgumentsError", "amount", []string{"account", "transfer", "--from", "main", "--to", "other", "--amount", "0"}},
		{"bad username", testPassword + "\n", "UsernameError", "username", []string{"user", "register", "--username", "no spaces allowed!", "--password-stdin"}},
		{"weak password", "short\n", "WeakPasswordError", "password", []string{"user", "register", "--username", "carol", "--password-stdin"}},
		{"bad drive name", "", "InvalidNameError", "name", []string{"drive", "create", "../up"}},
		{"download -O missing folder", "", classUsage, "no-such-folder", []string{"file", "download", "docs", "f.txt", "-O", missing}},
		{"par get -O missing folder", "", classUsage, "no-such-folder", []string{"par", "get", link, "-O", missing}},
	}
	for _, tc := range cases {
		code, m := alice.runJSON(tc.stdin, tc.args...)
		e, _ := m["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if code != exitUsage || e["class"] != tc.class || !strings.Contains(msg, tc.says) || strings.Contains(msg, ".part-") {
			t.Errorf("%s: exit %d %v; want exit %d class %s saying %q", tc.name, code, m, exitUsage, tc.class, tc.says)
		}
	}
	if b := alice.mustJSON("", "account", "balance", "main"); b["balance"] != "100.000000" {
		t.Fatalf("bad input moved money: %v", b)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLogoutTwice: logging out a session that is already over succeeds
// and says so, in JSON and in text.
func TestLogoutTwice(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, _ := c.register("alice")
	c.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", c.code(secret), "--password-stdin")
	first := c.mustJSON("", "user", "logout")
	again := c.mustJSON("", "user", "logout")
	if again["session_uid"] != first["session_uid"] || again["status"] == "approved" {
		t.Fatalf("logout %v, again %v", first, again)
	}
	if r := c.run("", "user", "logout"); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "not logged in") {
		t.Fatalf("third logout, text: %+v", r)
	}
	// Still not logged in afterwards: whoami refuses.
	c.wantError(exitAuth, "SessionClosedError", "", "user", "whoami")
}
