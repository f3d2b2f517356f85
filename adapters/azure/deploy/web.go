package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// The Microsoft.Web API is called through azcore's ARM pipeline (auth,
// retries, LRO pollers) with hand-written bodies: armappservice is not
// served by the module proxy this project builds from (see the package doc).
const (
	webAPIVersion  = "2023-12-01"
	authAPIVersion = "2022-04-01"
	// Storage Blob Data Owner: the app reads its package, runs the Functions
	// host's own storage and reads and writes the store, all by identity.
	blobDataOwnerRoleID = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
)

// site is the part of Microsoft.Web/sites this deployer reads and writes.
type site struct {
	Location   string            `json:"location,omitempty"`
	Kind       string            `json:"kind,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Identity   *identity         `json:"identity,omitempty"`
	Properties siteProperties    `json:"properties"`
}

type identity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	TenantID    string `json:"tenantId,omitempty"`
}

type siteProperties struct {
	ServerFarmID    string      `json:"serverFarmId,omitempty"`
	Reserved        bool        `json:"reserved"`
	HTTPSOnly       bool        `json:"httpsOnly"`
	DefaultHostName string      `json:"defaultHostName,omitempty"`
	SiteConfig      *siteConfig `json:"siteConfig,omitempty"`
}

type siteConfig struct {
	LinuxFxVersion string `json:"linuxFxVersion"`
	MinTLSVersion  string `json:"minTlsVersion,omitempty"`
	FtpsState      string `json:"ftpsState,omitempty"`
	HTTP20Enabled  bool   `json:"http20Enabled"`
}

type plan struct {
	Location   string            `json:"location"`
	Kind       string            `json:"kind"`
	Tags       map[string]string `json:"tags,omitempty"`
	SKU        planSKU           `json:"sku"`
	Properties planProperties    `json:"properties"`
}

type planSKU struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

type planProperties struct {
	Reserved bool `json:"reserved"` // Linux
}

type appSettings struct {
	Properties map[string]string `json:"properties"`
}

type roleAssignment struct {
	Properties roleAssignmentProperties `json:"properties"`
}

type roleAssignmentProperties struct {
	RoleDefinitionID string `json:"roleDefinitionId"`
	PrincipalID      string `json:"principalId"`
	PrincipalType    string `json:"principalType"`
}

// web calls ARM for one subscription and resource group.
type web struct {
	client      *arm.Client
	sub, group  string
	pollTimeout time.Duration
	pollEvery   time.Duration
}

func (w *web) groupPath() string {
	return "/subscriptions/" + w.sub + "/resourceGroups/" + w.group
}

func (w *web) sitePath(name string) string {
	return w.groupPath() + "/providers/Microsoft.Web/sites/" + name
}

func (w *web) planPath(name string) string {
	return w.groupPath() + "/providers/Microsoft.Web/serverfarms/" + name + "-plan"
}

func (w *web) accountPath(account string) string {
	return w.groupPath() + "/providers/Microsoft.Storage/storageAccounts/" + account
}

// do sends one request and fails on any status outside ok.
func (w *web) do(ctx context.Context, method, path, apiVersion string, body any, ok ...int) (*http.Response, error) {
	req, err := runtime.NewRequest(ctx, method, runtime.JoinPaths(w.client.Endpoint(), path))
	if err != nil {
		return nil, err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", apiVersion)
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return nil, err
		}
	}
	resp, err := w.client.Pipeline().Do(req)
	if err != nil {
		return nil, err
	}
	if !runtime.HasStatusCode(resp, ok...) {
		return nil, runtime.NewResponseError(resp)
	}
	return resp, nil
}

// send is do for calls whose answer body is not needed.
func (w *web) send(ctx context.Context, method, path, apiVersion string, body any, ok ...int) error {
	resp, err := w.do(ctx, method, path, apiVersion, body, ok...)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// putLRO PUTs a resource and waits for ARM's long-running operation, at
// most pollTimeout.
func (w *web) putLRO(ctx context.Context, path, apiVersion string, body any, out any) error {
	ctx, cancel := context.WithTimeout(ctx, w.pollTimeout)
	defer cancel()
	resp, err := w.do(ctx, http.MethodPut, path, apiVersion, body, http.StatusOK, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return err
	}
	// azcore has buffered the body; closing releases nothing the poller needs.
	defer func() { _ = resp.Body.Close() }()
	poller, err := runtime.NewPoller[json.RawMessage](resp, w.client.Pipeline(), nil)
	if err != nil {
		return err
	}
	res, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: w.pollEvery})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", path, err)
	}
	if out != nil && len(res) > 0 {
		return json.Unmarshal(res, out)
	}
	return nil
}

// deleteLRO deletes a resource; gone already is success.
func (w *web) deleteLRO(ctx context.Context, path, apiVersion string) error {
	ctx, cancel := context.WithTimeout(ctx, w.pollTimeout)
	defer cancel()
	resp, err := w.do(ctx, http.MethodDelete, path, apiVersion, nil,
		http.StatusOK, http.StatusAccepted, http.StatusNoContent, http.StatusNotFound)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusAccepted {
		return nil
	}
	poller, err := runtime.NewPoller[json.RawMessage](resp, w.client.Pipeline(), nil)
	if err != nil {
		return err
	}
	_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: w.pollEvery})
	return err
}

func (w *web) putPlan(ctx context.Context, name, location string, tags map[string]string) (string, error) {
	// Y1/Dynamic with reserved=true is the Linux consumption plan: it runs a
	// custom handler from a package URL, which flex consumption does not.
	p := plan{Location: location, Kind: "functionapp", Tags: tags,
		SKU: planSKU{Name: "Y1", Tier: "Dynamic"}, Properties: planProperties{Reserved: true}}
	return w.planPath(name), w.putLRO(ctx, w.planPath(name), webAPIVersion, p, nil)
}

func (w *web) putSite(ctx context.Context, name string, s site) (site, error) {
	var got site
	err := w.putLRO(ctx, w.sitePath(name), webAPIVersion, s, &got)
	return got, err
}

// getSite returns errNotFound when the app is gone.
func (w *web) getSite(ctx context.Context, name string) (site, error) {
	resp, err := w.do(ctx, http.MethodGet, w.sitePath(name), webAPIVersion, nil, http.StatusOK)
	if isNotFound(err) {
		return site{}, errGone
	}
	if err != nil {
		return site{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	var s site
	return s, runtime.UnmarshalAsJSON(resp, &s)
}

func (w *web) putAppSettings(ctx context.Context, name string, settings map[string]string) error {
	return w.send(ctx, http.MethodPut, w.sitePath(name)+"/config/appsettings", webAPIVersion,
		appSettings{Properties: settings}, http.StatusOK)
}

// roleAssignmentPath is deterministic in (scope, principal, role), so a
// repeated Create finds the same assignment instead of adding another.
func (w *web) roleAssignmentPath(scope, principal string) string {
	sum := sha256.Sum256([]byte(scope + "|" + principal + "|" + blobDataOwnerRoleID))
	id := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	return scope + "/providers/Microsoft.Authorization/roleAssignments/" + id
}

func (w *web) grantBlobData(ctx context.Context, account, principal string) error {
	scope := w.accountPath(account)
	body := roleAssignment{Properties: roleAssignmentProperties{
		RoleDefinitionID: "/subscriptions/" + w.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + blobDataOwnerRoleID,
		PrincipalID:      principal, PrincipalType: "ServicePrincipal"}}
	return w.send(ctx, http.MethodPut, w.roleAssignmentPath(scope, principal), authAPIVersion, body,
		http.StatusOK, http.StatusCreated, http.StatusConflict) // 409: it exists under another id
}

func (w *web) revokeBlobData(ctx context.Context, account, principal string) error {
	return w.send(ctx, http.MethodDelete, w.roleAssignmentPath(w.accountPath(account), principal), authAPIVersion, nil,
		http.StatusOK, http.StatusNoContent, http.StatusNotFound)
}

var errGone = errors.New("azure deploy: resource not found")

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
