package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	kvfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	secretsfake "github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets/fake"
)

// sent is one request as the fake saw it.
type sent struct {
	Method, Path string
	Body         []byte
}

// cloud routes the deployer's requests the way Azure would: Key Vault's
// management plane to armkeyvault's fake, secrets to azsecrets' fake, and
// Microsoft.Web and role assignments to webFake (armappservice, whose fake
// would go there, is not served here).
type cloud struct {
	mu       sync.Mutex
	requests []sent
	sites    map[string]site
	settings map[string]map[string]string
	secrets  map[string]string // vault secret name → value, kept only for assertions
	policies []string          // "add principal" / "remove principal"
	roles    map[string]bool
	asyncPut bool // answer site PUTs as long-running operations
	stuck    bool // and never finish them
	failKV   bool

	vaultT   *kvfake.VaultsServerTransport
	secretsT *secretsfake.ServerTransport
}

func newCloud() *cloud {
	c := &cloud{sites: map[string]site{}, settings: map[string]map[string]string{},
		secrets: map[string]string{}, roles: map[string]bool{}}
	c.vaultT = kvfake.NewVaultsServerTransport(&kvfake.VaultsServer{UpdateAccessPolicy: c.updateAccessPolicy})
	c.secretsT = secretsfake.NewServerTransport(&secretsfake.Server{SetSecret: c.setSecret, GetSecret: c.getSecret, DeleteSecret: c.deleteSecret})
	return c
}

func (c *cloud) updateAccessPolicy(_ context.Context, _ string, _ string, kind armkeyvault.AccessPolicyUpdateKind,
	p armkeyvault.VaultAccessPolicyParameters, _ *armkeyvault.VaultsClientUpdateAccessPolicyOptions,
) (resp azfake.Responder[armkeyvault.VaultsClientUpdateAccessPolicyResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := p.Properties.AccessPolicies[0]
	perms := []string{}
	for _, s := range e.Permissions.Secrets {
		perms = append(perms, string(*s))
	}
	c.policies = append(c.policies, string(kind)+" "+*e.ObjectID+" "+*e.TenantID+" secrets:"+strings.Join(perms, ","))
	resp.SetResponse(http.StatusOK, armkeyvault.VaultsClientUpdateAccessPolicyResponse{VaultAccessPolicyParameters: p}, nil)
	return resp, errResp
}

func (c *cloud) setSecret(_ context.Context, name string, p azsecrets.SetSecretParameters, _ *azsecrets.SetSecretOptions,
) (resp azfake.Responder[azsecrets.SetSecretResponse], errResp azfake.ErrorResponder) {
	if c.failKV {
		errResp.SetResponseError(http.StatusForbidden, "Forbidden")
		return resp, errResp
	}
	c.mu.Lock()
	c.secrets[name] = *p.Value
	c.mu.Unlock()
	id := azsecrets.ID("https://kv.vault.azure.net/secrets/" + name + "/v1")
	resp.SetResponse(http.StatusOK, azsecrets.SetSecretResponse{Secret: azsecrets.Secret{ID: &id, Value: p.Value}}, nil)
	return resp, errResp
}

func (c *cloud) getSecret(_ context.Context, name string, _ string, _ *azsecrets.GetSecretOptions,
) (resp azfake.Responder[azsecrets.GetSecretResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.secrets[name]
	if !ok {
		errResp.SetResponseError(http.StatusNotFound, "SecretNotFound")
		return resp, errResp
	}
	id := azsecrets.ID("https://kv.vault.azure.net/secrets/" + name + "/v1")
	resp.SetResponse(http.StatusOK, azsecrets.GetSecretResponse{Secret: azsecrets.Secret{ID: &id, Value: &v}}, nil)
	return resp, errResp
}

func (c *cloud) deleteSecret(_ context.Context, name string, _ *azsecrets.DeleteSecretOptions,
) (resp azfake.Responder[azsecrets.DeleteSecretResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.secrets[name]; !ok {
		errResp.SetResponseError(http.StatusNotFound, "SecretNotFound")
		return resp, errResp
	}
	delete(c.secrets, name)
	resp.SetResponse(http.StatusOK, azsecrets.DeleteSecretResponse{}, nil)
	return resp, errResp
}

// Do is the policy.Transporter every client of the deployer is given.
func (c *cloud) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	c.mu.Lock()
	c.requests = append(c.requests, sent{req.Method, req.URL.Path, body})
	c.mu.Unlock()
	switch {
	case strings.HasSuffix(req.URL.Host, ".vault.azure.net"):
		return c.secretsT.Do(req)
	case strings.Contains(req.URL.Path, "/Microsoft.KeyVault/"):
		return c.vaultT.Do(req)
	}
	return c.web(req, body)
}

func (c *cloud) web(req *http.Request, body []byte) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := req.URL.Path
	name := siteName(p)
	switch {
	case p == "/operations/site-put" && c.stuck:
		return answer(req, http.StatusOK, `{"status":"InProgress"}`), nil
	case p == "/operations/site-put":
		return answer(req, http.StatusOK, `{"status":"Succeeded"}`), nil
	case strings.Contains(p, "/roleAssignments/"):
		if req.Method == http.MethodPut {
			c.roles[p] = true
			return answer(req, http.StatusCreated, string(body)), nil
		}
		delete(c.roles, p)
		return answer(req, http.StatusOK, `{}`), nil
	case strings.Contains(p, "/serverfarms/"):
		return answer(req, http.StatusOK, string(body)), nil
	case strings.HasSuffix(p, "/config/appsettings"):
		var s appSettings
		_ = json.Unmarshal(body, &s)
		c.settings[name] = s.Properties
		return answer(req, http.StatusOK, string(body)), nil
	case strings.Contains(p, "/sites/"):
		return c.siteOp(req, name, body), nil
	}
	return answer(req, http.StatusBadRequest, `{"error":{"code":"Unexpected","message":"unexpected path"}}`), nil
}

func (c *cloud) siteOp(req *http.Request, name string, body []byte) *http.Response {
	switch req.Method {
	case http.MethodPut:
		var s site
		_ = json.Unmarshal(body, &s)
		s.Identity = &identity{Type: "SystemAssigned", PrincipalID: "principal-" + name, TenantID: "tenant-1"}
		s.Properties.DefaultHostName = name + ".azurewebsites.net"
		c.sites[name] = s
		if c.asyncPut {
			r := answer(req, http.StatusCreated, `{}`)
			r.Header.Set("Azure-AsyncOperation", "https://management.azure.com/operations/site-put")
			return r
		}
		return answer(req, http.StatusOK, mustJSON(s))
	case http.MethodGet:
		s, ok := c.sites[name]
		if !ok {
			return answer(req, http.StatusNotFound, `{"error":{"code":"ResourceNotFound","message":"gone"}}`)
		}
		return answer(req, http.StatusOK, mustJSON(s))
	case http.MethodDelete:
		delete(c.sites, name)
		delete(c.settings, name)
		return answer(req, http.StatusOK, `{}`)
	}
	return answer(req, http.StatusMethodNotAllowed, `{}`)
}

func siteName(path string) string {
	_, rest, ok := strings.Cut(path, "/sites/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

func answer(req *http.Request, status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Request: req, Body: io.NopCloser(strings.NewReader(body)),
		Header: http.Header{"Content-Type": []string{"application/json"}}}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// find returns the requests matching method and a path suffix.
func (c *cloud) find(method, suffix string) []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sent
	for _, r := range c.requests {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// leaks reports whether any request other than the Key Vault secret write
// carried the secret, in its path or body.
func (c *cloud) leaks(t *testing.T, secret string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.requests {
		if r.Method == http.MethodPut && strings.HasPrefix(r.Path, "/secrets/") {
			continue
		}
		if strings.Contains(r.Path, secret) || bytes.Contains(r.Body, []byte(secret)) {
			t.Errorf("%s %s carried the secret", r.Method, r.Path)
		}
	}
}
