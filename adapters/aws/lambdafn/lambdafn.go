// Package lambdafn adapts AWS Lambda function URL events to the runtime's
// one HTTP handler. No service logic lives here: an event becomes an
// http.Request, the handler's answer becomes the event response.
package lambdafn

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBodyBytes is Lambda's synchronous payload limit; a handler answer
// larger than this could not be returned anyway.
const MaxBodyBytes = 6 << 20

// Handler turns h into a Lambda function URL handler.
func Handler(h http.Handler) func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	return func(ctx context.Context, ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		req, err := Request(ctx, ev)
		if err != nil {
			return events.LambdaFunctionURLResponse{StatusCode: http.StatusBadRequest, Body: err.Error()}, nil
		}
		w := newRecorder()
		h.ServeHTTP(w, req)
		return w.response(), nil
	}
}

// Request rebuilds the HTTP request a function URL received.
func Request(ctx context.Context, ev events.LambdaFunctionURLRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("lambdafn: body is not base64: %w", err)
		}
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("lambdafn: body over %d bytes", MaxBodyBytes)
	}
	target := ev.RawPath
	if target == "" {
		target = "/"
	}
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("lambdafn: %w", err)
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.RequestContext.DomainName
	if h := ev.Headers["host"]; h != "" {
		req.Host = h
	}
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	return req, nil
}

// recorder collects a handler's answer in memory (bounded by the answer
// sizes the runtime allows, which are below Lambda's payload limit).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

func (r *recorder) response() events.LambdaFunctionURLResponse {
	out := events.LambdaFunctionURLResponse{StatusCode: r.status, Headers: map[string]string{}}
	if out.StatusCode == 0 {
		out.StatusCode = http.StatusOK
	}
	for k, vs := range r.header {
		out.Headers[k] = strings.Join(vs, ", ")
	}
	// Envelopes are JSON text; anything else travels base64 so no byte is
	// changed on the way.
	if ct := r.header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "text/") {
		out.Body = r.body.String()
	} else {
		out.Body, out.IsBase64Encoded = base64.StdEncoding.EncodeToString(r.body.Bytes()), true
	}
	return out
}
