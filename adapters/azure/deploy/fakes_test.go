package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/applicationinsights/armapplicationinsights"
	aifake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/applicationinsights/armapplicationinsights/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	webfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	authfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	kvfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/operationalinsights/armoperationalinsights/v2"
	oifake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/operationalinsights/armoperationalinsights/v2/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	secretsfake "github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets/fake"
)

// sent is one request as the fake saw it.
type sent struct {
	Method, Host, Path string
	Body               []byte
}

// cloud answers the deployer the way Azure would, through the SDK's own
// fake servers (each decodes the request into the SDK's models, as the
// real client encoded it) for Microsoft.Web, role assignments, Key Vault,
// Application Insights and Log Analytics, azsecrets' fake for secrets, and
// a fake of the SCM publish API. Beyond the models it refuses what ARM
// would (flexRules, roleRules), so a wrong body fails the test.
type cloud struct {
	mu         sync.Mutex
	requests   []sent
	sites      map[string]armappservice.Site
	plans      map[string]armappservice.Plan
	settings   map[string]map[string]string
	roles      map[string]armauthorization.RoleAssignmentCreateParameters // by assignment ID
	workspaces map[string]armoperationalinsights.Workspace
	components map[string]armapplicationinsights.Component
	secrets    map[string]string // vault secret name → value, kept only for assertions
	secretTags map[string]map[string]string
	published  map[string][]byte // SCM host → the zip it got
	refused    []string          // what the rules refused, for the failure message
	accessMode bool              // the vault uses access policies
	asyncPut   bool              // answer site PUTs as long-running operations
	stuck      bool              // and never finish them
	failKV     bool
	lag        int // answer PrincipalNotFound this many times first
	deployFail bool

	web, auth, kv, ai, oi, sec interface {
		Do(*http.Request) (*http.Response, error)
	}
}

const vaultID = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.KeyVault/vaults/acq-kv"

func newCloud() *cloud {
	c := &cloud{sites: map[string]armappservice.Site{}, plans: map[string]armappservice.Plan{}, settings: map[string]map[string]string{},
		roles: map[string]armauthorization.RoleAssignmentCreateParameters{}, workspaces: map[string]armoperationalinsights.Workspace{},
		components: map[string]armapplicationinsights.Component{}, secrets: map[string]string{},
		secretTags: map[string]map[string]string{}, published: map[string][]byte{}}
	c.web = webfake.NewServerFactoryTransport(&webfake.ServerFactory{
		WebAppsServer: webfake.WebAppsServer{BeginCreateOrUpdate: c.putSite, Get: c.getSite, Delete: c.deleteSite,
			UpdateApplicationSettings: c.putSettings, NewListByResourceGroupPager: c.listSites},
		PlansServer: webfake.PlansServer{BeginCreateOrUpdate: c.putPlan, Delete: c.deletePlan},
	})
	c.auth = authfake.NewRoleAssignmentsServerTransport(&authfake.RoleAssignmentsServer{Create: c.createRole, Delete: c.deleteRole})
	c.kv = kvfake.NewVaultsServerTransport(&kvfake.VaultsServer{Get: c.getVault})
	c.ai = aifake.NewComponentsServerTransport(&aifake.ComponentsServer{CreateOrUpdate: c.putComponent, Delete: c.deleteComponent})
	c.oi = oifake.NewWorkspacesServerTransport(&oifake.WorkspacesServer{BeginCreateOrUpdate: c.putWorkspace, BeginDelete: c.deleteWorkspace})
	c.sec = secretsfake.NewServerTransport(&secretsfake.Server{SetSecret: c.setSecret, GetSecret: c.getSecret, DeleteSecret: c.deleteSecret})
	return c
}

// Do is the policy.Transporter every client of the deployer is given.
func (c *cloud) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	c.mu.Lock()
	c.requests = append(c.requests, sent{req.Method, req.URL.Host, req.URL.Path, body})
	c.mu.Unlock()
	p := req.URL.Path
	switch {
	case strings.HasSuffix(req.URL.Host, ".vault.azure.net"):
		return c.sec.Do(req)
	case strings.HasSuffix(req.URL.Host, ".scm.azurewebsites.net"):
		return c.scm(req, body), nil
	case strings.Contains(p, "/providers/Microsoft.Authorization/roleAssignments/"):
		return c.auth.Do(req)
	case strings.Contains(p, "/providers/Microsoft.KeyVault/"):
		return c.kv.Do(req)
	case strings.Contains(p, "/providers/Microsoft.Insights/components/"):
		return c.ai.Do(req)
	case strings.Contains(p, "/providers/Microsoft.OperationalInsights/"):
		return c.oi.Do(req)
	case strings.Contains(p, "/providers/Microsoft.Web/"):
		return c.web.Do(req)
	}
	return answer(req, http.StatusBadRequest, `{"error":{"code":"Unexpected","message":"unexpected path"}}`), nil
}

func answer(req *http.Request, status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Request: req, Body: io.NopCloser(strings.NewReader(body)),
		Header: http.Header{"Content-Type": []string{"application/json"}}}
}

func (c *cloud) refuse(what string) {
	c.refused = append(c.refused, what)
}

// flexRules are what ARM refuses of a Flex Consumption app (documented
// rules: runtime and deployment storage in functionAppConfig, one of the
// three memory sizes, 1-1000 instances, Linux, an FC1 plan).
func (c *cloud) flexRules(s armappservice.Site) string {
	p := s.Properties
	if s.Location == nil || s.Kind == nil || *s.Kind != "functionapp,linux" || p == nil || p.ServerFarmID == nil ||
		p.Reserved == nil || !*p.Reserved || p.FunctionAppConfig == nil {
		return "not a Linux function app with functionAppConfig"
	}
	plan, ok := c.plans[(*p.ServerFarmID)[strings.LastIndex(*p.ServerFarmID, "/")+1:]]
	if !ok || *plan.SKU.Name != "FC1" || *plan.SKU.Tier != "FlexConsumption" {
		return "the plan is not an existing FC1 plan"
	}
	f := p.FunctionAppConfig
	if f.Runtime == nil || f.Runtime.Name == nil || *f.Runtime.Name != armappservice.RuntimeNameCustom || f.Runtime.Version == nil {
		return "runtime"
	}
	st := f.Deployment
	if st == nil || st.Storage == nil || st.Storage.Type == nil || *st.Storage.Type != armappservice.FunctionsDeploymentStorageTypeBlobContainer ||
		st.Storage.Value == nil || !regexp.MustCompile(`^https://[a-z0-9]{3,24}\.blob\.core\.windows\.net/[a-z0-9-]{3,63}$`).MatchString(*st.Storage.Value) ||
		st.Storage.Authentication == nil || *st.Storage.Authentication.Type != armappservice.AuthenticationTypeSystemAssignedIdentity {
		return "deployment storage"
	}
	sc := f.ScaleAndConcurrency
	if sc == nil || sc.InstanceMemoryMB == nil || !slices.Contains([]int32{512, 2048, 4096}, *sc.InstanceMemoryMB) ||
		sc.MaximumInstanceCount == nil || *sc.MaximumInstanceCount < 1 || *sc.MaximumInstanceCount > 1000 {
		return "scale and concurrency"
	}
	for _, nv := range p.SiteConfig.AppSettings {
		if slices.Contains([]string{"FUNCTIONS_WORKER_RUNTIME", "WEBSITE_RUN_FROM_PACKAGE"}, *nv.Name) {
			return "a setting Flex Consumption refuses: " + *nv.Name
		}
	}
	return ""
}

func (c *cloud) putSite(_ context.Context, _ string, name string, s armappservice.Site, _ *armappservice.WebAppsClientBeginCreateOrUpdateOptions,
) (resp azfake.PollerResponder[armappservice.WebAppsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if why := c.flexRules(s); why != "" {
		c.refuse("site: " + why)
		errResp.SetResponseError(http.StatusBadRequest, "BadRequest")
		return resp, errResp
	}
	s.Name = to.Ptr(name)
	s.Identity = &armappservice.ManagedServiceIdentity{Type: s.Identity.Type, PrincipalID: to.Ptr("principal-" + name), TenantID: to.Ptr("tenant-1")}
	s.Properties.DefaultHostName = to.Ptr(name + ".azurewebsites.net")
	s.Properties.HostNameSSLStates = []*armappservice.HostNameSSLState{
		{Name: to.Ptr(name + ".azurewebsites.net"), HostType: to.Ptr(armappservice.HostTypeStandard)},
		{Name: to.Ptr(name + ".scm.azurewebsites.net"), HostType: to.Ptr(armappservice.HostTypeRepository)}}
	if old, ok := c.sites[name]; ok && len(s.Properties.SiteConfig.AppSettings) == 0 {
		s.Properties.SiteConfig.AppSettings = old.Properties.SiteConfig.AppSettings
	}
	c.sites[name] = s
	if _, ok := c.settings[name]; !ok || len(s.Properties.SiteConfig.AppSettings) > 0 {
		m := map[string]string{}
		for _, nv := range s.Properties.SiteConfig.AppSettings {
			m[*nv.Name] = *nv.Value
		}
		c.settings[name] = m
	}
	if c.asyncPut {
		resp.AddNonTerminalResponse(http.StatusAccepted, nil)
		if c.stuck {
			for range 1000 {
				resp.AddNonTerminalResponse(http.StatusAccepted, nil)
			}
		}
	}
	resp.SetTerminalResponse(http.StatusOK, armappservice.WebAppsClientCreateOrUpdateResponse{Site: s}, nil)
	return resp, errResp
}

func (c *cloud) getSite(_ context.Context, _ string, name string, _ *armappservice.WebAppsClientGetOptions,
) (resp azfake.Responder[armappservice.WebAppsClientGetResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sites[name]
	if !ok {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return resp, errResp
	}
	resp.SetResponse(http.StatusOK, armappservice.WebAppsClientGetResponse{Site: s}, nil)
	return resp, errResp
}

func (c *cloud) deleteSite(_ context.Context, _ string, name string, _ *armappservice.WebAppsClientDeleteOptions,
) (resp azfake.Responder[armappservice.WebAppsClientDeleteResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sites, name)
	delete(c.settings, name)
	resp.SetResponse(http.StatusOK, armappservice.WebAppsClientDeleteResponse{}, nil)
	return resp, errResp
}

func (c *cloud) listSites(string, *armappservice.WebAppsClientListByResourceGroupOptions,
) (resp azfake.PagerResponder[armappservice.WebAppsClientListByResourceGroupResponse]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var page armappservice.WebAppsClientListByResourceGroupResponse
	for _, s := range c.sites {
		page.Value = append(page.Value, &s)
	}
	resp.AddPage(http.StatusOK, page, nil)
	return resp
}

func (c *cloud) putSettings(_ context.Context, _ string, name string, d armappservice.StringDictionary, _ *armappservice.WebAppsClientUpdateApplicationSettingsOptions,
) (resp azfake.Responder[armappservice.WebAppsClientUpdateApplicationSettingsResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sites[name]; !ok {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return resp, errResp
	}
	c.settings[name] = tagValues(d.Properties)
	resp.SetResponse(http.StatusOK, armappservice.WebAppsClientUpdateApplicationSettingsResponse{StringDictionary: d}, nil)
	return resp, errResp
}

func (c *cloud) putPlan(_ context.Context, _ string, name string, p armappservice.Plan, _ *armappservice.PlansClientBeginCreateOrUpdateOptions,
) (resp azfake.PollerResponder[armappservice.PlansClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Location == nil || p.SKU == nil || p.SKU.Name == nil || p.SKU.Tier == nil || p.Properties == nil || p.Properties.Reserved == nil || !*p.Properties.Reserved {
		c.refuse("plan")
		errResp.SetResponseError(http.StatusBadRequest, "BadRequest")
		return resp, errResp
	}
	c.plans[name] = p
	resp.SetTerminalResponse(http.StatusOK, armappservice.PlansClientCreateOrUpdateResponse{Plan: p}, nil)
	return resp, errResp
}

func (c *cloud) deletePlan(_ context.Context, _ string, name string, _ *armappservice.PlansClientDeleteOptions,
) (resp azfake.Responder[armappservice.PlansClientDeleteResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.plans, name)
	resp.SetResponse(http.StatusOK, armappservice.PlansClientDeleteResponse{}, nil)
	return resp, errResp
}

var (
	guidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	roleDefRE = regexp.MustCompile(`^/subscriptions/sub-1/providers/Microsoft\.Authorization/roleDefinitions/[0-9a-f-]{36}$`)
)

// roleRules: the assignment's name is a GUID, its role a role definition
// ID of the subscription, its principal typed, its scope a resource ID.
func roleRules(scope, name string, p armauthorization.RoleAssignmentCreateParameters) string {
	switch {
	case !guidRE.MatchString(name):
		return "name is not a GUID"
	case !strings.HasPrefix(scope, "/subscriptions/sub-1/resourceGroups/rg-1/providers/"):
		return "scope is not a resource ID: " + scope
	case p.Properties == nil || p.Properties.RoleDefinitionID == nil || !roleDefRE.MatchString(*p.Properties.RoleDefinitionID):
		return "role definition ID"
	case p.Properties.PrincipalID == nil || p.Properties.PrincipalType == nil || *p.Properties.PrincipalType != armauthorization.PrincipalTypeServicePrincipal:
		return "principal"
	}
	return ""
}

func (c *cloud) createRole(_ context.Context, scope string, name string, p armauthorization.RoleAssignmentCreateParameters, _ *armauthorization.RoleAssignmentsClientCreateOptions,
) (resp azfake.Responder[armauthorization.RoleAssignmentsClientCreateResponse], errResp azfake.ErrorResponder) {
	scope = "/" + scope // the fake's route takes the path's first slash
	c.mu.Lock()
	defer c.mu.Unlock()
	if why := roleRules(scope, name, p); why != "" {
		c.refuse("role assignment: " + why)
		errResp.SetResponseError(http.StatusBadRequest, "InvalidRoleAssignmentRequest")
		return resp, errResp
	}
	if c.lag > 0 {
		c.lag--
		errResp.SetResponseError(http.StatusBadRequest, "PrincipalNotFound")
		return resp, errResp
	}
	c.roles[scope+"/providers/Microsoft.Authorization/roleAssignments/"+name] = p
	resp.SetResponse(http.StatusCreated, armauthorization.RoleAssignmentsClientCreateResponse{}, nil)
	return resp, errResp
}

func (c *cloud) deleteRole(_ context.Context, scope string, name string, _ *armauthorization.RoleAssignmentsClientDeleteOptions,
) (resp azfake.Responder[armauthorization.RoleAssignmentsClientDeleteResponse], errResp azfake.ErrorResponder) {
	scope = "/" + scope
	c.mu.Lock()
	defer c.mu.Unlock()
	id := scope + "/providers/Microsoft.Authorization/roleAssignments/" + name
	if _, ok := c.roles[id]; !ok {
		errResp.SetResponseError(http.StatusNotFound, "RoleAssignmentNotFound")
		return resp, errResp
	}
	delete(c.roles, id)
	resp.SetResponse(http.StatusOK, armauthorization.RoleAssignmentsClientDeleteResponse{}, nil)
	return resp, errResp
}

// grantsAt lists the role assignments as "role@scope".
func (c *cloud) grantsAt() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, p := range c.roles {
		scope, _, _ := strings.Cut(id, "/providers/Microsoft.Authorization/")
		role := (*p.Properties.RoleDefinitionID)[strings.LastIndex(*p.Properties.RoleDefinitionID, "/")+1:]
		out = append(out, role+"@"+scope)
	}
	slices.Sort(out)
	return out
}

func (c *cloud) getVault(_ context.Context, _ string, name string, _ *armkeyvault.VaultsClientGetOptions,
) (resp azfake.Responder[armkeyvault.VaultsClientGetResponse], errResp azfake.ErrorResponder) {
	if name != "acq-kv" {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return resp, errResp
	}
	resp.SetResponse(http.StatusOK, armkeyvault.VaultsClientGetResponse{Vault: armkeyvault.Vault{ID: to.Ptr(vaultID),
		Properties: &armkeyvault.VaultProperties{EnableRbacAuthorization: to.Ptr(!c.accessMode)}}}, nil)
	return resp, errResp
}

func (c *cloud) putWorkspace(_ context.Context, rg string, name string, w armoperationalinsights.Workspace, _ *armoperationalinsights.WorkspacesClientBeginCreateOrUpdateOptions,
) (resp azfake.PollerResponder[armoperationalinsights.WorkspacesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.Location == nil || w.Properties == nil || w.Properties.RetentionInDays == nil || w.Properties.SKU == nil || w.Properties.SKU.Name == nil {
		c.refuse("workspace")
		errResp.SetResponseError(http.StatusBadRequest, "BadRequest")
		return resp, errResp
	}
	c.workspaces[name] = w
	w.ID = to.Ptr("/subscriptions/sub-1/resourceGroups/" + rg + "/providers/Microsoft.OperationalInsights/workspaces/" + name)
	resp.AddNonTerminalResponse(http.StatusCreated, nil)
	resp.SetTerminalResponse(http.StatusOK, armoperationalinsights.WorkspacesClientCreateOrUpdateResponse{Workspace: w}, nil)
	return resp, errResp
}

func (c *cloud) deleteWorkspace(_ context.Context, _ string, name string, _ *armoperationalinsights.WorkspacesClientBeginDeleteOptions,
) (resp azfake.PollerResponder[armoperationalinsights.WorkspacesClientDeleteResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.workspaces, name)
	resp.SetTerminalResponse(http.StatusOK, armoperationalinsights.WorkspacesClientDeleteResponse{}, nil)
	return resp, errResp
}

func (c *cloud) putComponent(_ context.Context, rg string, name string, a armapplicationinsights.Component, _ *armapplicationinsights.ComponentsClientCreateOrUpdateOptions,
) (resp azfake.Responder[armapplicationinsights.ComponentsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := a.Properties
	if a.Location == nil || a.Kind == nil || p == nil || p.ApplicationType == nil || p.WorkspaceResourceID == nil ||
		!strings.HasSuffix(*p.WorkspaceResourceID, "/providers/Microsoft.OperationalInsights/workspaces/"+strings.TrimSuffix(name, "-insights")+"-logs") {
		c.refuse("component")
		errResp.SetResponseError(http.StatusBadRequest, "BadRequest")
		return resp, errResp
	}
	c.components[name] = a
	a.ID = to.Ptr("/subscriptions/sub-1/resourceGroups/" + rg + "/providers/Microsoft.Insights/components/" + name)
	a.Properties.ConnectionString = to.Ptr("InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://westeurope-1.in.applicationinsights.azure.com/")
	resp.SetResponse(http.StatusOK, armapplicationinsights.ComponentsClientCreateOrUpdateResponse{Component: a}, nil)
	return resp, errResp
}

func (c *cloud) deleteComponent(_ context.Context, _ string, name string, _ *armapplicationinsights.ComponentsClientDeleteOptions,
) (resp azfake.Responder[armapplicationinsights.ComponentsClientDeleteResponse], errResp azfake.ErrorResponder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.components, name)
	resp.SetResponse(http.StatusOK, armapplicationinsights.ComponentsClientDeleteResponse{}, nil)
	return resp, errResp
}

func (c *cloud) setSecret(_ context.Context, name string, p azsecrets.SetSecretParameters, _ *azsecrets.SetSecretOptions,
) (resp azfake.Responder[azsecrets.SetSecretResponse], errResp azfake.ErrorResponder) {
	if c.failKV {
		errResp.SetResponseError(http.StatusForbidden, "Forbidden")
		return resp, errResp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p.Tags) > 15 {
		c.refuse("secret: more than 15 tags")
		errResp.SetResponseError(http.StatusBadRequest, "BadParameter")
		return resp, errResp
	}
	c.secrets[name] = *p.Value
	c.secretTags[name] = tagValues(p.Tags)
	id := azsecrets.ID("https://acq-kv.vault.azure.net/secrets/" + name + "/v1")
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
	id := azsecrets.ID("https://acq-kv.vault.azure.net/secrets/" + name + "/v1")
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

// scm is the app's Kudu host as Flex's OneDeploy answers: POST
// /api/publish takes the zip (bearer token, application/zip, no remote
// build) and answers the deployment's id; GET /api/deployments/<id> says
// pending (0) once, then succeeded (4) or failed (3).
func (c *cloud) scm(req *http.Request, body []byte) *http.Response {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer "):
		return answer(req, http.StatusUnauthorized, `{}`)
	case req.Method == http.MethodPost && req.URL.Path == "/api/publish":
		if req.URL.Query().Get("RemoteBuild") != "false" || req.Header.Get("Content-Type") != "application/zip" ||
			!bytes.HasPrefix(body, []byte("PK\x03\x04")) {
			c.refuse("publish")
			return answer(req, http.StatusBadRequest, `"bad publish"`)
		}
		c.published[req.URL.Host] = body
		return answer(req, http.StatusAccepted, `"d-1"`)
	case req.Method == http.MethodGet && req.URL.Path == "/api/deployments/d-1":
		polls := 0
		for _, r := range c.requests {
			if r.Path == "/api/deployments/d-1" {
				polls++
			}
		}
		status := 4
		if c.deployFail {
			status = 3
		}
		if polls < 2 {
			return answer(req, http.StatusOK, `{"status":0,"complete":false}`)
		}
		return answer(req, http.StatusOK, fmt.Sprintf(`{"status":%d,"complete":true}`, status))
	}
	return answer(req, http.StatusNotFound, `{}`)
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

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
