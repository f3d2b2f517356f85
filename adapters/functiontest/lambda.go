package functiontest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaFunctionURL is a function URL front end for the Lambda runtime
// interface emulator at invoke: each HTTP request becomes a
// LambdaFunctionURLRequest event, each event response an HTTP answer.
func LambdaFunctionURL(invoke string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery,
			Headers: map[string]string{"content-type": r.Header.Get("Content-Type"), "host": r.Host},
			Body:    base64.StdEncoding.EncodeToString(body), IsBase64Encoded: true}
		ev.RequestContext.HTTP.Method = r.Method
		ev.RequestContext.HTTP.Path = r.URL.Path
		raw, _ := json.Marshal(ev)
		resp, err := http.Post(invoke, "application/json", bytes.NewReader(raw)) //nolint:gosec // G107: the emulator the test started
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		var out events.LambdaFunctionURLResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			http.Error(w, fmt.Sprintf("invocation answer: %v", err), http.StatusBadGateway)
			return
		}
		data := []byte(out.Body)
		if out.IsBase64Encoded {
			data, _ = base64.StdEncoding.DecodeString(out.Body)
		}
		for k, v := range out.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(out.StatusCode)
		_, _ = w.Write(data)
	})
}
