package lambdafn

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/host"
)

// EnvSecretARN names the Secrets Manager secret holding the service
// secret. Lambda has no native secret-to-environment injection, and an
// environment variable is readable in plain text by anyone allowed
// lambda:GetFunctionConfiguration, so the AWS deployer puts only this ARN
// in the environment and the function reads the value itself.
const EnvSecretARN = "ACQUIRE_SERVICE_SECRET_ARN"

// SecretFetchTimeout bounds the one secret read on the first request.
const SecretFetchTimeout = 10 * time.Second

// SecretSource reads a secret's value by ARN (Secrets Manager in the
// bootstrap, a map in tests).
type SecretSource interface {
	SecretValue(ctx context.Context, arn string) (string, error)
}

// errNoSecret is returned when neither the secret nor its ARN is set.
var errNoSecret = errors.New("lambdafn: function environment lacks " + host.EnvSecret + " and " + EnvSecretARN)

// CheckEnv fails fast at start-up on an environment that can never work,
// without any network call.
func CheckEnv(getenv func(string) string) error {
	if getenv(host.EnvSecret) == "" && getenv(EnvSecretARN) == "" {
		return errNoSecret
	}
	_, err := host.ConfigFromEnv(withSecret(getenv, placeholderSecret))
	return err
}

// placeholderSecret passes the passphrase rule so CheckEnv can check the
// rest of the environment before the real secret is fetched.
const placeholderSecret = "placeholder-passphrase-for-checks-only-0"

// Deferred is the function's handler when the secret lives in Secrets
// Manager: on the first request it reads the secret (no network at init:
// a cold start stays cheap and an unused instance costs nothing), builds
// the host configuration and serves through host.Lazy. A failed read is
// retried by the next request. ACQUIRE_SERVICE_SECRET, when set, is used
// as is (local runs and the emulator tests).
type Deferred struct {
	Getenv  func(string) string
	Secrets SecretSource
	Logger  *slog.Logger

	mu sync.Mutex
	h  *host.Lazy
}

func (d *Deferred) handler() (*host.Lazy, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.h != nil {
		return d.h, nil
	}
	getenv := d.Getenv
	if getenv(host.EnvSecret) == "" {
		arn := getenv(EnvSecretARN)
		if arn == "" || d.Secrets == nil {
			return nil, errNoSecret
		}
		// Not the request's context: see host.Lazy.
		ctx, cancel := context.WithTimeout(context.Background(), SecretFetchTimeout)
		defer cancel()
		v, err := d.Secrets.SecretValue(ctx, arn)
		if err != nil {
			return nil, err
		}
		getenv = withSecret(getenv, v)
	}
	cfg, err := host.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	d.h = &host.Lazy{Config: cfg, Logger: d.Logger}
	return d.h, nil
}

// ServeHTTP reads the secret if needed and serves the request.
func (d *Deferred) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := d.handler()
	if err != nil {
		// The error names the ARN or the failing call, never the value.
		d.logger().Error("function could not read its service secret", "err", err)
		http.Error(w, "service unavailable: it could not read its secret", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

func (d *Deferred) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func withSecret(getenv func(string) string, secret string) func(string) string {
	return func(k string) string {
		if k == host.EnvSecret {
			return secret
		}
		return getenv(k)
	}
}
