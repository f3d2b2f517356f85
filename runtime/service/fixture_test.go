package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"github.com/openacquire/acquire/runtime/clock"

	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

const (
	testKind   = "testsvc"
	testSecret = "Service-Test-Secret-42"
)

// manualClock only moves when the test moves it, so time windows, minute
// buckets and key generations are decided by the test, not by the host.
func newManualClock() *clock.Manual {
	// Mid-week and mid-minute, far from any generation or minute boundary.
	return clock.NewManual(time.Date(2031, 3, 5, 12, 0, 30, 0, time.UTC))
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type echoArgs struct {
	Text string `json:"text"`
}

type echoResult struct {
	Text string `json:"text"`
	Kind string `json:"kind"`
}

type addArgs struct {
	A int `json:"a"`
	B int `json:"b"`
}

// addResult carries the run number and a fresh nonce, so two answers are
// equal only when the second is the stored first one.
type addResult struct {
	Sum   int    `json:"sum"`
	Run   int64  `json:"run"`
	Nonce string `json:"nonce"`
}

const failDetail = "opening /var/secret/db.conf: password hunter2 refused"

// fixture is one service on its own mem:// store behind a loopback HTTP
// server, with a client on the same manual clock.
type fixture struct {
	clock    *clock.Manual
	svc      *service.Service
	url      string
	storeURL string
	bucket   *store.Bucket
	client   *call.Client
	logs     *syncBuffer

	echoCalls atomic.Int64
	addCalls  atomic.Int64
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{clock: newManualClock(), logs: &syncBuffer{}, storeURL: "mem://servicetest-" + randomHex(8)}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/" + testKind
	b, err := store.Open(ctx, f.storeURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	f.bucket = b
	f.svc, err = service.New(ctx, f.config(b, testSecret))
	if err != nil {
		t.Fatal(err)
	}
	f.registerHandlers()
	mux.Handle("/"+testKind, f.svc)
	f.client = call.NewClient(&call.MemoryPins{})
	f.client.Clock = f.clock.Now
	return f
}

func (f *fixture) config(b *store.Bucket, secret string) service.Config {
	return service.Config{Kind: testKind, URL: f.url, Bucket: b, Secret: secret, Clock: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
}

func (f *fixture) registerHandlers() {
	service.Handle(f.svc, "echo", service.Options{}, func(_ context.Context, a *echoArgs) (*echoResult, error) {
		f.echoCalls.Add(1)
		return &echoResult{Text: a.Text, Kind: testKind}, nil
	})
	service.Handle(f.svc, "add", service.Options{Idempotent: true}, func(_ context.Context, a *addArgs) (*addResult, error) {
		run := f.addCalls.Add(1)
		return &addResult{Sum: a.A + a.B, Run: run, Nonce: randomHex(8)}, nil
	})
	service.Handle(f.svc, "fail", service.Options{}, func(_ context.Context, _ *struct{}) (*struct{}, error) {
		return nil, errors.New(failDetail)
	})
	service.Handle(f.svc, "fail_typed", service.Options{}, func(_ context.Context, _ *struct{}) (*struct{}, error) {
		return nil, call.Errorf(call.ErrNotFound, "no such thing")
	})
}

var (
	replyKeyOnce sync.Once
	replyKey     *crypto.PrivateKey
	replyKeyErr  error
)

// testReplyKey is the reply key of hand-built envelopes, made once.
func testReplyKey(t *testing.T) *crypto.PrivateKey {
	t.Helper()
	replyKeyOnce.Do(func() { replyKey, replyKeyErr = crypto.GenerateKey() })
	if replyKeyErr != nil {
		t.Fatal(replyKeyErr)
	}
	return replyKey
}

// keys fetches and checks the service's keys through the fixture client.
func (f *fixture) keys(t *testing.T) *call.TrustedKeys {
	t.Helper()
	k, err := f.client.ServiceKeys(context.Background(), f.url)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pack builds an encrypted envelope by hand, as a client would, dated now.
func (f *fixture) pack(t *testing.T, keys *call.TrustedKeys, function string, args any, now time.Time) ([]byte, call.ReplyCheck) {
	t.Helper()
	reply := testReplyKey(t)
	body, err := call.PackRequest(keys.Key, reply.Public(), keys.Newest, function, args, "", now)
	if err != nil {
		t.Fatal(err)
	}
	return body, call.ReplyCheck{ReplyKey: reply, Certs: keys.Certs, Function: function, URL: f.url}
}

// post sends a raw body and returns the HTTP status and reply body.
func (f *fixture) post(t *testing.T, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(f.url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, reply
}

func wantClass(t *testing.T, err error, class *call.Error) *call.Error {
	t.Helper()
	var ce *call.Error
	if !errors.As(err, &ce) || ce.Class != class.Class {
		t.Fatalf("want %s, got %T %v", class.Class, err, err)
	}
	return ce
}

func wantStatus(t *testing.T, got, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("HTTP status %d, want %d", got, want)
	}
}

func storedKeys(t *testing.T, b *store.Bucket, prefix string) []string {
	t.Helper()
	items, err := b.ListAll(context.Background(), prefix, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

func flipByte(t *testing.T, b64 string, i int) string {
	t.Helper()
	b, err := crypto.UnB64(b64)
	if err != nil {
		t.Fatal(err)
	}
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	return crypto.B64(b)
}
