package lambdafn_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openacquire/acquire/adapters/aws/lambdafn"
)

const fnSecret = "correct-horse-battery-staple-42"

type fakeSecrets struct {
	calls atomic.Int32
	err   error
}

func (f *fakeSecrets) SecretValue(_ context.Context, arn string) (string, error) {
	f.calls.Add(1)
	if f.err != nil {
		return "", f.err
	}
	if arn != "arn:aws:secretsmanager:us-east-1:1:secret:s" {
		return "", errors.New("unknown secret " + arn)
	}
	return fnSecret, nil
}

func fnEnv(k string) string {
	return map[string]string{
		"ACQUIRE_STORE_URL":          "file:///nonexistent/acquire-test",
		"ACQUIRE_PUBLIC_URL":         "https://fn.example",
		"ACQUIRE_SERVICE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s",
	}[k]
}

func TestCheckEnvNeedsNoNetwork(t *testing.T) {
	if err := lambdafn.CheckEnv(fnEnv); err != nil {
		t.Errorf("CheckEnv with a secret ARN: %v", err)
	}
	if err := lambdafn.CheckEnv(func(k string) string {
		if k == lambdafn.EnvSecretARN {
			return ""
		}
		return fnEnv(k)
	}); err == nil {
		t.Error("CheckEnv without secret nor ARN passed")
	}
}

// The secret is read once, on the first request, not at construction; a
// failed read is logged without the value and retried next time.
func TestDeferredReadsSecretLazily(t *testing.T) {
	src := &fakeSecrets{err: errors.New("throttled")}
	var logs bytes.Buffer
	d := &lambdafn.Deferred{Getenv: fnEnv, Secrets: src, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if src.calls.Load() != 0 {
		t.Fatal("secret read before any request")
	}
	serve := func() int {
		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		return w.Code
	}
	if code := serve(); code != http.StatusServiceUnavailable {
		t.Errorf("failed secret read answered %d", code)
	}
	src.err = nil
	serve()
	serve()
	if n := src.calls.Load(); n != 2 {
		t.Errorf("secret reads %d, want 2 (one failed, one kept)", n)
	}
	if strings.Contains(logs.String(), fnSecret) {
		t.Error("the secret is in the logs")
	}
}
