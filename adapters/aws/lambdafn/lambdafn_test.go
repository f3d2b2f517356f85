package lambdafn_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openacquire/acquire/adapters/aws/lambdafn"
	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/call"
)

// The bootstrap, built as Lambda builds it, runs under the runtime
// interface emulator; a front end plays the function URL, turning HTTP
// into invocation events. Real encrypted calls go through both.
func TestBootstrapUnderEmulator(t *testing.T) {
	base := startFunction(t)
	functiontest.Journey(t, base)
}

// startFunction builds the bootstrap, starts it under the emulator and
// returns the function URL's base.
func startFunction(tb testing.TB) string {
	tb.Helper()
	bootstrap := functiontest.Build(tb, "./bootstrap", "bootstrap",
		[]string{"GOOS=linux", "GOARCH=" + runtime.GOARCH, "CGO_ENABLED=0"}, "lambda.norpc")
	rie, api := servertest.FreeAddr(tb), servertest.FreeAddr(tb)
	front := httptest.NewServer(functiontest.LambdaFunctionURL("http://" + rie + "/2015-03-31/functions/function/invocations"))
	tb.Cleanup(front.Close)
	_ = functiontest.Start(tb, servertest.Binary(tb, "aws-lambda-rie"), functiontest.Env(tb, front.URL), rie,
		"--runtime-interface-emulator-address", rie, "--runtime-api-address", api, bootstrap)
	return front.URL
}

// The adapter itself: an event's method, path, query, headers and base64
// body reach the handler unchanged, and its answer comes back intact.
func TestEventToRequestAndBack(t *testing.T) {
	var seen *http.Request
	var seenBody []byte
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		seenBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte{0, 1, 2, 255})
	})
	ev := events.LambdaFunctionURLRequest{RawPath: "/identity", RawQueryString: "a=1&b=2",
		Headers: map[string]string{"content-type": "application/json", "host": "fn.example"},
		Body:    base64.StdEncoding.EncodeToString([]byte(`{"x":1}`)), IsBase64Encoded: true}
	ev.RequestContext.HTTP.Method = http.MethodPost
	resp, err := lambdafn.Handler(h)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if seen.Method != http.MethodPost || seen.URL.Path != "/identity" || seen.URL.Query().Get("b") != "2" ||
		seen.Host != "fn.example" || string(seenBody) != `{"x":1}` || seen.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("handler saw %s %s host %s body %q", seen.Method, seen.URL, seen.Host, seenBody)
	}
	got, _ := base64.StdEncoding.DecodeString(resp.Body)
	if resp.StatusCode != http.StatusTeapot || !resp.IsBase64Encoded || !bytes.Equal(got, []byte{0, 1, 2, 255}) {
		t.Fatalf("response %+v", resp)
	}
	// Bodies over Lambda's limit and broken base64 are refused before the handler.
	seen = nil
	for _, bad := range []events.LambdaFunctionURLRequest{
		{RawPath: "/", Body: "%%%", IsBase64Encoded: true},
		{RawPath: "/", Body: strings.Repeat("a", lambdafn.MaxBodyBytes+1)},
	} {
		resp, _ := lambdafn.Handler(h)(context.Background(), bad)
		if resp.StatusCode != http.StatusBadRequest || seen != nil {
			t.Fatalf("bad event answered %d, handler called: %v", resp.StatusCode, seen != nil)
		}
	}
}

// BenchmarkColdStart is the Lambda cold start under the emulator: from
// starting the emulator (which starts the bootstrap on the first
// invocation) to the first answered encrypted call, against a store whose
// services were set up before (keys exist; the function unlocks them
// lazily on that first call). make bench-stores runs it.
func BenchmarkColdStart(b *testing.B) {
	bootstrap := functiontest.Build(b, "./bootstrap", "bootstrap",
		[]string{"GOOS=linux", "GOARCH=" + runtime.GOARCH, "CGO_ENABLED=0"}, "lambda.norpc")
	var target atomic.Value
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		functiontest.LambdaFunctionURL(target.Load().(string)).ServeHTTP(w, r)
	}))
	defer front.Close()
	env := functiontest.Env(b, front.URL)
	coldStart(b, bootstrap, env, front.URL, &target) // sets the store up: not a deployed function's cold start
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		total += coldStart(b, bootstrap, env, front.URL, &target)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/cold-start")
}

func coldStart(b *testing.B, bootstrap string, env []string, base string, target *atomic.Value) time.Duration {
	rie, api := servertest.FreeAddr(b), servertest.FreeAddr(b)
	target.Store("http://" + rie + "/2015-03-31/functions/function/invocations")
	c := call.NewClient(&call.MemoryPins{})
	start := time.Now()
	stop := functiontest.Start(b, servertest.Binary(b, "aws-lambda-rie"), env, rie,
		"--runtime-interface-emulator-address", rie, "--runtime-api-address", api, bootstrap)
	defer stop()
	if err := c.Call(context.Background(), base+"/identity", "ping", struct{}{}, nil); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
