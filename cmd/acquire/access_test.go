package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// startJobs serves a fulfilling service: run_job succeeds, fail_job refuses.
func startJobs(t *testing.T, c *cli) string {
	t.Helper()
	ctx := context.Background()
	var svc *service.Service
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { svc.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	b, err := store.Open(ctx, "mem://jobs-"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	svc, err = service.New(ctx, service.Config{Kind: "jobs", URL: srv.URL + "/jobs", Bucket: b, Secret: "Jobs-Service-Secret-123",
		Clock: c.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	service.Handle(svc, "run_job", service.Options{}, func(_ context.Context, a *access.FulfilArgs) (map[string]string, error) {
		return map[string]string{"ran": a.Resource}, nil
	})
	service.Handle(svc, "fail_job", service.Options{}, func(_ context.Context, a *access.FulfilArgs) (map[string]string, error) {
		return nil, call.Errorf(call.NewClass("NoCapacityError"), "no capacity")
	})
	return svc.URL()
}

func TestChequeAndAccessCommands(t *testing.T) {
	t.Parallel()
	alice, h := newHostCLI(t)
	bob := alice.other()
	aSecret, aReg := alice.register("alice")
	bSecret, _ := bob.register("bob")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
	bob.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", bob.code(bSecret), "--password-stdin")
	ctx := context.Background()
	uid := aReg["user_uid"].(string)
	if err := h.Accounting.AddAdmin(ctx, alice.url, uid); err != nil {
		t.Fatal(err)
	}
	if err := h.Access.AddAdmin(ctx, alice.url, uid); err != nil {
		t.Fatal(err)
	}
	jobs := startJobs(t, alice)
	alice.mustJSON("", "account", "create", "main")
	alice.mustJSON("", "account", "deposit", "main", "--amount", "100", "--id", "dep-1")

	// The catalogue: admins set, anyone lists.
	alice.mustJSON("", "access", "resource", "set", "job/ok", "--price", "2.5", "--service", jobs, "--function", "run_job")
	alice.mustJSON("", "access", "resource", "set", "job/bad", "--price", "4", "--service", jobs, "--function", "fail_job")
	bob.wantError(exitError, "PermissionError", "", "access", "resource", "set", "job/x", "--price", "1", "--service", jobs, "--function", "run_job")
	alice.wantError(exitUsage, "UsageError", "", "access", "resource", "set", "job/x", "--price", "1.0000001", "--service", jobs, "--function", "f")
	cat := bob.mustJSON("", "access", "resource", "list")
	if rs, _ := cat["resources"].([]any); len(rs) != 2 {
		t.Fatalf("catalogue %v", cat)
	}

	// A cheque written to a file, then used for a request; a retry pays once.
	file := filepath.Join(t.TempDir(), "cheque.json")
	w := alice.mustJSON("", "cheque", "write", "--account", "main", "--to", "access", "--max", "3", "--out", file)
	if w["file"] != file {
		t.Fatalf("cheque write %v", w)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cheque file: %v %v", fi, err)
	}
	req := []string{"access", "request", "job/ok", "--cheque", file, "--id", "r-1"}
	first := alice.mustJSON("", req...)
	again := alice.mustJSON("", req...)
	if first["outcome"] != "granted" || first["price"] != "2.500000" || again["transfer"] != first["transfer"] {
		t.Fatalf("request %v, retry %v", first, again)
	}
	alice.wantError(exitRefused, "ChequeUsedError", "", "access", "request", "job/ok", "--cheque", file, "--id", "r-2")
	alice.wantError(exitNotFound, "RequestConflictError", "", "access", "request", "job/bad", "--cheque", file, "--id", "r-1")

	// A cheque written on the fly for the price; the fulfiller refuses, so it is refunded.
	alice.wantError(exitRefused, "FulfilmentFailedError", "", "access", "request", "job/bad", "--account", "main", "--id", "r-3")
	// Too small a cheque, and no way to pay at all.
	alice.wantError(exitRefused, "ChequeOverMaxError", "", "access", "request", "job/bad", "--account", "main", "--max", "3.999999")
	alice.wantError(exitUsage, "UsageError", "", "access", "request", "job/ok")
	if bal := alice.mustJSON("", "account", "balance", "main"); bal["balance"] != "97.500000" || bal["liability"] != "0.000000" {
		t.Fatalf("balance after one granted and one failed request %v", bal)
	}

	if a := alice.mustJSON("", "access", "check", "job/ok"); a["allowed"] != true {
		t.Fatalf("check use job/ok %v", a)
	}
	if a := alice.mustJSON("", "access", "check", "job/bad"); a["allowed"] != false {
		t.Fatalf("check use job/bad %v", a)
	}
	if a := bob.mustJSON("", "access", "check", "job/bad", "--action", "request"); a["allowed"] != true {
		t.Fatalf("check request job/bad %v", a)
	}
	bob.wantError(exitError, "PermissionError", "", "access", "check", "job/ok", "--user-uid", uid)
	if a := alice.mustJSON("", "access", "check", "job/ok", "--user-uid", uid); a["allowed"] != true {
		t.Fatalf("admin's check %v", a)
	}

	// A cheque on stdout is the JSON a service needs, signed.
	res := alice.run("", "cheque", "write", "--account", "main", "--to", jobs, "--max", "1", "--for", "anything")
	var ch map[string]any
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &ch) != nil || ch["recipient"] != jobs || ch["authorisation"] == nil {
		t.Fatalf("cheque on stdout: %+v", res)
	}
	alice.wantError(exitUsage, "UsageError", "", "cheque", "write", "--account", "main", "--to", "access", "--max", "1", "--expires", "25h")
	if res := alice.run("", "access", "resource", "rm", "job/bad"); res.code != 0 {
		t.Fatalf("rm: %+v", res)
	}
	for _, args := range [][]string{{"cheque", "write", "--help"}, {"access", "check", "--help"}, {"access", "resource", "set", "--help"}} {
		if res := alice.run("", args...); res.code != 0 || res.stdout == "" {
			t.Fatalf("%v: %+v", args, res)
		}
	}
	rep, err := h.Accounting.Ledger().Audit(ctx)
	if err != nil || rep.Total != "0.000000" || len(rep.Anomalies) != 0 {
		t.Fatalf("audit %v %+v", err, rep)
	}
}
