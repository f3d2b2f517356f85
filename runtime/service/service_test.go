package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

func TestEncryptedRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var out echoResult
	if err := f.client.Call(ctx, f.url, "echo", &echoArgs{Text: "Grüße ✓ 🚀"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Text != "Grüße ✓ 🚀" || out.Kind != testKind {
		t.Fatalf("echo answered %+v", out)
	}

	// By hand: neither the request nor the reply shows the arguments, and
	// the reply is encrypted to our key and signed by the service.
	const secret = "very-secret-words"
	body, chk := f.pack(t, f.keys(t), "echo", &echoArgs{Text: secret}, f.clock.Now())
	if bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte("echo")) {
		t.Fatalf("request body shows its content: %s", body)
	}
	status, reply := f.post(t, body)
	wantStatus(t, status, http.StatusOK)
	if bytes.Contains(reply, []byte(secret)) {
		t.Fatalf("reply body shows its content: %s", reply)
	}
	var outer call.Outer
	if err := json.Unmarshal(reply, &outer); err != nil {
		t.Fatal(err)
	}
	if !outer.Encrypted || outer.Signature == "" || outer.Fingerprint != chk.ReplyKey.Fingerprint() {
		t.Fatalf("reply envelope %+v: want encrypted to the reply key and signed", outer)
	}
	raw, err := call.UnpackReply(reply, chk)
	if err != nil {
		t.Fatal(err)
	}
	var got echoResult
	if err := json.Unmarshal(raw, &got); err != nil || got.Text != secret {
		t.Fatalf("reply %s (%v)", raw, err)
	}
	if n := f.echoCalls.Load(); n != 2 {
		t.Fatalf("echo ran %d times, want 2", n)
	}
}

func TestUnknownFunction(t *testing.T) {
	f := newFixture(t)
	err := f.client.Call(context.Background(), f.url, "no_such_function", struct{}{}, nil)
	ce := wantClass(t, err, call.ErrUnknownFunction)
	if !strings.Contains(ce.Message, "no_such_function") {
		t.Fatalf("message %q does not name the function", ce.Message)
	}
	body, _ := f.pack(t, f.keys(t), "no_such_function", struct{}{}, f.clock.Now())
	status, _ := f.post(t, body)
	wantStatus(t, status, http.StatusBadRequest)
}

func TestBadArguments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, args := range map[string]any{
		"unknown field": map[string]any{"text": "x", "extra": 1},
		"wrong type":    map[string]any{"text": 5},
		"not an object": []int{1, 2},
	} {
		t.Run(name, func(t *testing.T) {
			err := f.client.Call(ctx, f.url, "echo", args, nil)
			wantClass(t, err, call.ErrBadArguments)
		})
	}
	if n := f.echoCalls.Load(); n != 0 {
		t.Fatalf("echo ran %d times on bad arguments", n)
	}
	// The field named is in the message, so a caller can fix the call.
	err := f.client.Call(ctx, f.url, "echo", map[string]any{"text": "x", "extra": 1}, nil)
	if ce := wantClass(t, err, call.ErrBadArguments); !strings.Contains(ce.Message, "extra") {
		t.Fatalf("message %q does not name the unknown field", ce.Message)
	}
}

func TestTamperedEnvelopeIsRefusedUnrun(t *testing.T) {
	f := newFixture(t)
	keys := f.keys(t)
	// First byte: inside the OAEP-wrapped key; middle and last: inside the
	// Fernet token that carries the request.
	for _, pos := range []struct {
		name string
		i    func(n int) int
	}{
		{"oaep", func(int) int { return 0 }},
		{"middle", func(n int) int { return n / 2 }},
		{"last", func(n int) int { return n - 1 }},
	} {
		t.Run(pos.name, func(t *testing.T) {
			body, chk := f.pack(t, keys, "echo", &echoArgs{Text: "x"}, f.clock.Now())
			var o call.Outer
			if err := json.Unmarshal(body, &o); err != nil {
				t.Fatal(err)
			}
			ct, _ := crypto.UnB64(o.Data)
			o.Data = flipByte(t, o.Data, pos.i(len(ct)))
			tampered, _ := json.Marshal(&o)
			status, reply := f.post(t, tampered)
			wantStatus(t, status, http.StatusBadRequest)
			_, err := call.UnpackReply(reply, chk)
			wantClass(t, err, call.ErrUnpacking)
		})
	}
	if n := f.echoCalls.Load(); n != 0 {
		t.Fatalf("echo ran %d times for tampered envelopes", n)
	}
}

// The clear outer synctime is checked before decryption, so it must match
// the authenticated inner one: moving it would move the replay marker.
func TestOuterSyncTimeMustMatchInner(t *testing.T) {
	f := newFixture(t)
	keys := f.keys(t)
	body, chk := f.pack(t, keys, "echo", &echoArgs{Text: "x"}, f.clock.Now())
	var o call.Outer
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	o.SyncTime = call.FormatSyncTime(f.clock.Now().Add(time.Second))
	moved, _ := json.Marshal(&o)
	status, reply := f.post(t, moved)
	wantStatus(t, status, http.StatusBadRequest)
	_, err := call.UnpackReply(reply, chk)
	wantClass(t, err, call.ErrUnpacking)
	if n := f.echoCalls.Load(); n != 0 {
		t.Fatalf("echo ran %d times", n)
	}
	// Nothing is left behind for bytes that did not open.
	if keys := storedKeys(t, f.bucket, "calls/seen/"); len(keys) != 0 {
		t.Fatalf("replay markers left for a refused envelope: %v", keys)
	}
}

func TestReplayedEnvelopeIsRefused(t *testing.T) {
	f := newFixture(t)
	body, chk := f.pack(t, f.keys(t), "echo", &echoArgs{Text: "once"}, f.clock.Now())
	status, reply := f.post(t, body)
	wantStatus(t, status, http.StatusOK)
	if _, err := call.UnpackReply(reply, chk); err != nil {
		t.Fatal(err)
	}
	status, reply = f.post(t, body)
	wantStatus(t, status, http.StatusConflict)
	_, err := call.UnpackReply(reply, chk)
	wantClass(t, err, call.ErrReplay)
	if n := f.echoCalls.Load(); n != 1 {
		t.Fatalf("echo ran %d times, want 1", n)
	}
}

func TestRequestTimeWindow(t *testing.T) {
	f := newFixture(t)
	keys := f.keys(t)
	for _, off := range []time.Duration{-10 * time.Minute, 10 * time.Minute, -service.DefaultClockSkew - time.Second} {
		body, chk := f.pack(t, keys, "echo", &echoArgs{Text: "late"}, f.clock.Now().Add(off))
		_, reply := f.post(t, body)
		_, err := call.UnpackReply(reply, chk)
		wantClass(t, err, call.ErrClock)
	}
	if n := f.echoCalls.Load(); n != 0 {
		t.Fatalf("echo ran %d times for out-of-window requests", n)
	}
	// Inside the window, either side, is fine.
	for _, off := range []time.Duration{-service.DefaultClockSkew + time.Second, service.DefaultClockSkew - time.Second} {
		body, chk := f.pack(t, keys, "echo", &echoArgs{Text: "ok"}, f.clock.Now().Add(off))
		_, reply := f.post(t, body)
		if _, err := call.UnpackReply(reply, chk); err != nil {
			t.Fatalf("offset %s: %v", off, err)
		}
	}
	if n := f.echoCalls.Load(); n != 2 {
		t.Fatalf("echo ran %d times, want 2", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFixture(t)
	status, reply := f.post(t, bytes.Repeat([]byte("a"), call.MaxBodyBytes+1))
	wantStatus(t, status, http.StatusRequestEntityTooLarge)
	_, err := call.UnpackReply(reply, call.ReplyCheck{Function: "echo", URL: f.url})
	wantClass(t, err, call.ErrTooLarge)

	// A body of exactly the limit is read and judged on its content.
	status, reply = f.post(t, bytes.Repeat([]byte("a"), call.MaxBodyBytes))
	wantStatus(t, status, http.StatusBadRequest)
	_, err = call.UnpackReply(reply, call.ReplyCheck{Function: "echo", URL: f.url})
	wantClass(t, err, call.ErrUnpacking)
}

func TestClearCallToPrivateFunctionIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	err := f.client.CallClear(ctx, f.url, "echo", &echoArgs{Text: "in clear"}, nil)
	wantClass(t, err, call.ErrPermission)
	if n := f.echoCalls.Load(); n != 0 {
		t.Fatalf("echo ran %d times for a clear call", n)
	}
	body, err := call.PackClearRequest("echo", &echoArgs{Text: "in clear"}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	status, _ := f.post(t, body)
	wantStatus(t, status, http.StatusForbidden)

	// Public functions do answer in clear.
	var pk call.PublicKeys
	if err := f.client.CallClear(ctx, f.url, "public_keys", struct{}{}, &pk); err != nil {
		t.Fatal(err)
	}
	if pk.Kind != testKind || pk.URL != f.url || len(pk.Generations) != 1 {
		t.Fatalf("public_keys answered %+v", pk)
	}
}

func TestIdempotentCalls(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var first, second addResult
	if err := f.client.Call(ctx, f.url, "add", &addArgs{A: 2, B: 3}, &first, call.WithIdempotencyKey("k1")); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Call(ctx, f.url, "add", &addArgs{A: 2, B: 3}, &second, call.WithIdempotencyKey("k1")); err != nil {
		t.Fatal(err)
	}
	if first.Sum != 5 || first != second {
		t.Fatalf("first answer %+v, second %+v: want the same stored answer", first, second)
	}
	if n := f.addCalls.Load(); n != 1 {
		t.Fatalf("add ran %d times for one idempotency key, want 1", n)
	}

	err := f.client.Call(ctx, f.url, "add", &addArgs{A: 2, B: 4}, nil, call.WithIdempotencyKey("k1"))
	wantClass(t, err, call.ErrIdempotency)
	if n := f.addCalls.Load(); n != 1 {
		t.Fatalf("add ran %d times after a conflicting reuse, want 1", n)
	}

	// Another key, or no key, runs the handler again.
	var third addResult
	if err := f.client.Call(ctx, f.url, "add", &addArgs{A: 2, B: 3}, &third, call.WithIdempotencyKey("k2")); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Call(ctx, f.url, "add", &addArgs{A: 2, B: 3}, nil); err != nil {
		t.Fatal(err)
	}
	if n := f.addCalls.Load(); n != 3 || third.Nonce == first.Nonce {
		t.Fatalf("add ran %d times (want 3); k2 answer %+v", n, third)
	}

	// The stored answer is sealed at rest: its nonce is not readable in the store.
	for _, k := range storedKeys(t, f.bucket, "calls/idem/") {
		data, _, err := f.bucket.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(first.Nonce)) {
			t.Fatalf("idempotency record %s holds the answer in clear: %s", k, data)
		}
		// Nor an unkeyed hash of the arguments, which would let anyone
		// reading the store test guesses at a password sent in them.
		for _, args := range []string{`{"a":2,"b":3}`, `{"a":2,"b":4}`} {
			sum := sha256.Sum256([]byte(args))
			if bytes.Contains(data, []byte(hex.EncodeToString(sum[:]))) {
				t.Fatalf("idempotency record %s holds sha256 of the arguments %s", k, args)
			}
		}
	}
}

func TestIdempotentCallsConcurrent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.keys(t) // fetch keys once, before the race
	const callers = 6
	results := make([]addResult, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			errs[i] = f.client.Call(ctx, f.url, "add", &addArgs{A: 20, B: 22}, &results[i], call.WithIdempotencyKey("together"))
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if results[i] != results[0] || results[i].Sum != 42 {
			t.Fatalf("caller %d got %+v, caller 0 got %+v", i, results[i], results[0])
		}
	}
	if n := f.addCalls.Load(); n != 1 {
		t.Fatalf("add ran %d times for %d racing callers with one key, want 1", n, callers)
	}
}

func TestInternalErrorHidesDetail(t *testing.T) {
	f := newFixture(t)
	err := f.client.Call(context.Background(), f.url, "fail", struct{}{}, nil)
	ce := wantClass(t, err, call.ErrInternal)
	m := regexp.MustCompile(`internal error \(incident ([0-9a-f]{12})\)$`).FindStringSubmatch(ce.Message)
	if m == nil {
		t.Fatalf("message %q is not just an incident id", ce.Message)
	}
	for _, leak := range []string{"hunter2", "/var/secret", "password", "db.conf"} {
		if strings.Contains(err.Error(), leak) {
			t.Fatalf("internal detail %q reached the caller: %v", leak, err)
		}
	}
	// The detail is in the service's log under the same incident.
	logs := f.logs.String()
	if !strings.Contains(logs, m[1]) || !strings.Contains(logs, "hunter2") {
		t.Fatalf("the log does not tie incident %s to the error:\n%s", m[1], logs)
	}

	body, _ := f.pack(t, f.keys(t), "fail", struct{}{}, f.clock.Now())
	status, reply := f.post(t, body)
	wantStatus(t, status, http.StatusInternalServerError)
	if bytes.Contains(reply, []byte("hunter2")) {
		t.Fatal("reply body holds the detail")
	}

	// A typed error passes through with its message.
	err = f.client.Call(context.Background(), f.url, "fail_typed", struct{}{}, nil)
	if ce := wantClass(t, err, call.ErrNotFound); !strings.HasSuffix(ce.Message, "no such thing") {
		t.Fatalf("typed error message %q", ce.Message)
	}
}

func TestSweepDeletesOnlyStaleReplayMarkers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	keys := f.keys(t)
	var old [][]byte
	var oldChk call.ReplyCheck
	for range 3 {
		body, chk := f.pack(t, keys, "echo", &echoArgs{Text: "early"}, f.clock.Now())
		if status, _ := f.post(t, body); status != http.StatusOK {
			t.Fatalf("call: HTTP %d", status)
		}
		old, oldChk = append(old, body), chk
	}
	if n, err := f.svc.Sweep(ctx, 1000); err != nil || n != 0 {
		t.Fatalf("sweep of fresh markers deleted %d (%v), want 0", n, err)
	}
	if got := storedKeys(t, f.bucket, "calls/seen/"); len(got) != 3 {
		t.Fatalf("%d replay markers, want 3: %v", len(got), got)
	}

	// Past twice the window the early markers are no longer needed.
	f.clock.Advance(2*service.DefaultClockSkew + 2*time.Minute)
	body, _ := f.pack(t, keys, "echo", &echoArgs{Text: "late"}, f.clock.Now())
	if status, _ := f.post(t, body); status != http.StatusOK {
		t.Fatalf("call: HTTP %d", status)
	}
	n, err := f.svc.Sweep(ctx, 1000)
	if err != nil || n != 3 {
		t.Fatalf("sweep deleted %d (%v), want 3", n, err)
	}
	left := storedKeys(t, f.bucket, "calls/seen/")
	wantMinute := f.clock.Now().UTC().Format("200601021504")
	if len(left) != 1 || !strings.HasPrefix(left[0], "calls/seen/"+wantMinute+"/") {
		t.Fatalf("markers left %v, want only the one of minute %s", left, wantMinute)
	}

	// The fresh one is still enforced, and a swept envelope is still refused
	// by its timestamp.
	_, reply := f.post(t, body)
	_, err = call.UnpackReply(reply, oldChk)
	wantClass(t, err, call.ErrReplay)
	_, reply = f.post(t, old[0])
	_, err = call.UnpackReply(reply, oldChk)
	wantClass(t, err, call.ErrClock)
	if n := f.echoCalls.Load(); n != 4 {
		t.Fatalf("echo ran %d times, want 4", n)
	}
}

func TestGetAnswersPublicKeys(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pk call.PublicKeys
	if err := json.NewDecoder(resp.Body).Decode(&pk); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || pk.Kind != testKind || len(pk.Generations) != 1 {
		t.Fatalf("GET answered %d %+v", resp.StatusCode, pk)
	}
	if _, err := pk.Verify(""); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, f.url, nil)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	wantStatus(t, resp2.StatusCode, http.StatusMethodNotAllowed)
}

func TestConfigIsChecked(t *testing.T) {
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://servicetest-config-"+randomHex(8))
	if err != nil {
		t.Fatal(err)
	}
	good := service.Config{Kind: testKind, URL: "http://127.0.0.1:1/x", Bucket: b, Secret: testSecret}
	for name, change := range map[string]func(c *service.Config){
		"bad kind":     func(c *service.Config) { c.Kind = "Not A Kind" },
		"no bucket":    func(c *service.Config) { c.Bucket = nil },
		"no url":       func(c *service.Config) { c.URL = "" },
		"short secret": func(c *service.Config) { c.Secret = "short" },
	} {
		c := good
		change(&c)
		if _, err := service.New(ctx, c); err == nil {
			t.Errorf("%s: service.New accepted %+v", name, c)
		}
	}
	if _, err := service.New(ctx, good); err != nil {
		t.Fatal(err)
	}
	// The store now belongs to a testsvc; another kind may not take it over.
	other := good
	other.Kind = "otherkind"
	if _, err := service.New(ctx, other); err == nil || !strings.Contains(err.Error(), testKind) {
		t.Fatalf("another kind opened the store: %v", err)
	}
}
