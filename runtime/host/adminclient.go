package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

// MaxAdminReplyBytes bounds an admin API answer the client reads.
const MaxAdminReplyBytes = 1 << 20

// AdminClient calls a host's admin API. Token is sent as a bearer token
// and never put in an error.
type AdminClient struct {
	URL   string // the host's base URL
	Token string
	HTTP  *http.Client // nil: a client with a DeployTimeout limit
}

// Deploy creates or updates a deployment.
func (c *AdminClient) Deploy(ctx context.Context, name string, spec Spec) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodPut, "/services/"+url.PathEscape(name), spec, &st)
}

// Get reads a deployment; a missing one is ErrNoDeployment (errors.Is).
func (c *AdminClient) Get(ctx context.Context, name string) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodGet, "/services/"+url.PathEscape(name), nil, &st)
}

// List lists the deployments.
func (c *AdminClient) List(ctx context.Context) ([]*Status, error) {
	var out struct {
		Services []*Status `json:"services"`
	}
	return out.Services, c.do(ctx, http.MethodGet, "/services", nil, &out)
}

// Delete removes a deployment; its data stays unless deleteData.
func (c *AdminClient) Delete(ctx context.Context, name string, deleteData bool) error {
	p := "/services/" + url.PathEscape(name)
	if deleteData {
		p += "?delete_data=true"
	}
	return c.do(ctx, http.MethodDelete, p, nil, nil)
}

// Trust makes a deployment trust the service at serviceURL; Untrust undoes it.
func (c *AdminClient) Trust(ctx context.Context, name, serviceURL string) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodPost, "/services/"+url.PathEscape(name)+"/trusted", trustArgs{URL: serviceURL}, &st)
}

// Untrust stops a deployment trusting serviceURL.
func (c *AdminClient) Untrust(ctx context.Context, name, serviceURL string) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodDelete, "/services/"+url.PathEscape(name)+"/trusted", trustArgs{URL: serviceURL}, &st)
}

func (c *AdminClient) do(ctx context.Context, method, p string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+AdminPath+p, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: DeployTimeout + 10*time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The request's URL is in err; the token is in a header, not in it.
		return call.Errorf(call.ErrUnavailable, "host admin API at %s: %s", c.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAdminReplyBytes))
	if err != nil {
		return call.Errorf(call.ErrUnavailable, "host admin API at %s: %s", c.URL, err)
	}
	if resp.StatusCode >= 300 {
		var ce call.Error
		if json.Unmarshal(raw, &ce) == nil && ce.Class != "" {
			return &ce
		}
		return call.Errorf(call.ErrUnavailable, "host admin API at %s: HTTP %d", c.URL, resp.StatusCode)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("host admin API at %s: %w", c.URL, err)
	}
	return nil
}
