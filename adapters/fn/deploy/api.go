package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The Fn server's API v2 objects, as far as this deployer reads and
// writes them (Fn's swagger_v2: App, Fn, Trigger and their lists).
// Read-only fields (ids, times) are never sent.

type app struct {
	ID          string            `json:"id,omitempty"`
	Name        string            `json:"name,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
	Shape       string            `json:"shape,omitempty"`
}

type fnObject struct {
	ID          string            `json:"id,omitempty"`
	Name        string            `json:"name,omitempty"`
	AppID       string            `json:"app_id,omitempty"`
	Image       string            `json:"image,omitempty"`
	Memory      uint64            `json:"memory,omitempty"`
	Timeout     int32             `json:"timeout,omitempty"`
	IdleTimeout int32             `json:"idle_timeout,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

type trigger struct {
	ID          string         `json:"id,omitempty"`
	Name        string         `json:"name,omitempty"`
	AppID       string         `json:"app_id,omitempty"`
	FnID        string         `json:"fn_id,omitempty"`
	Type        string         `json:"type,omitempty"`
	Source      string         `json:"source,omitempty"`
	Annotations map[string]any `json:"annotations,omitempty"`
}

type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// httpEndpointAnnotation is where Fn's server says a trigger's URL.
const httpEndpointAnnotation = "fnproject.io/trigger/httpEndpoint"

// maxAnswerBytes bounds one API answer read into memory.
const maxAnswerBytes = 4 << 20

// maxPages bounds one listing (a deployment owns a handful of objects;
// more pages than this is a server that never ends its cursor).
const maxPages = 50

// APIError is an answer of the Fn API other than success.
type APIError struct {
	Status  int
	Method  string
	Path    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("fn deploy: %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// errNotFoundAPI matches (errors.As) a 404 answer.
func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// api is a client of one Fn server's /v2.
type api struct {
	base   string // e.g. http://fn.example:8080 (no /v2)
	token  string
	client *http.Client
	// redact is removed from every error message (the service secret,
	// which an error answer might echo back).
	redact []string
}

func (a *api) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := a.base + "/v2" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("fn deploy: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("fn deploy: %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("fn deploy: %s %s: %w", method, path, err)
	}
	if len(data) > maxAnswerBytes {
		return fmt.Errorf("fn deploy: %s %s: answer over %d bytes", method, path, maxAnswerBytes)
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Status: resp.StatusCode, Method: method, Path: path, Message: a.message(data)}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("fn deploy: %s %s: unreadable answer: %w", method, path, err)
	}
	return nil
}

// message is the error answer's message (Fn's {"message": …}), short and
// with the secret removed.
func (a *api) message(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	for _, s := range a.redact {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	const maxMessage = 300
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	return msg
}

// listAll pages through a listing.
func listAll[T any](ctx context.Context, a *api, path string, query url.Values) ([]T, error) {
	var out []T
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	for range maxPages {
		var page list[T]
		if err := a.do(ctx, http.MethodGet, path, q, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out, nil
		}
		q.Set("cursor", page.NextCursor)
	}
	return nil, fmt.Errorf("fn deploy: GET %s: more than %d pages", path, maxPages)
}

// appByName is the app called name, or nil.
func (a *api) appByName(ctx context.Context, name string) (*app, error) {
	apps, err := listAll[app](ctx, a, "/apps", url.Values{"name": {name}})
	if err != nil {
		return nil, err
	}
	for i := range apps {
		if apps[i].Name == name {
			return &apps[i], nil
		}
	}
	return nil, nil
}

// fnByName is the app's function called name, or nil.
func (a *api) fnByName(ctx context.Context, appID, name string) (*fnObject, error) {
	fns, err := listAll[fnObject](ctx, a, "/fns", url.Values{"app_id": {appID}, "name": {name}})
	if err != nil {
		return nil, err
	}
	for i := range fns {
		if fns[i].Name == name && fns[i].AppID == appID {
			return &fns[i], nil
		}
	}
	return nil, nil
}

func (a *api) triggers(ctx context.Context, appID, fnID string) ([]trigger, error) {
	return listAll[trigger](ctx, a, "/triggers", url.Values{"app_id": {appID}, "fn_id": {fnID}})
}
