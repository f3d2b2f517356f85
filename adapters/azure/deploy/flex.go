package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
)

// Flex Consumption defaults when the Spec leaves a size at zero: the
// platform's own (2048 MB instances, at most 100 of them).
const (
	defaultMemoryMB     = 2048
	defaultMaxInstances = 100
	// customRuntimeVersion is the only version Flex offers for runtime
	// "custom" (a custom handler: the package's host.json names it).
	customRuntimeVersion = "1.0"
)

func (d *Deployer) groupID() string {
	return "/subscriptions/" + d.opts.Subscription + "/resourceGroups/" + d.opts.ResourceGroup
}

func (d *Deployer) planID(name string) string {
	return d.groupID() + "/providers/Microsoft.Web/serverfarms/" + planName(name)
}

func planName(name string) string { return name + "-plan" }

// getSite returns errGone when the app is gone.
func (d *Deployer) getSite(ctx context.Context, name string) (armappservice.Site, error) {
	resp, err := d.sites.Get(ctx, d.opts.ResourceGroup, name, nil)
	if isNotFound(err) {
		return armappservice.Site{}, errGone
	}
	if err != nil {
		return armappservice.Site{}, err
	}
	return resp.Site, nil
}

// putApp makes or updates the FC1 plan and the app. A new app gets the
// host's storage and telemetry settings in the same PUT (Flex checks
// them); an existing app keeps its settings until putSettings replaces
// them whole, so an update never runs it without its environment.
func (d *Deployer) putApp(ctx context.Context, t target, tags map[string]string, in insights) (armappservice.Site, error) {
	pctx, cancel := context.WithTimeout(ctx, d.opts.PollTimeout)
	defer cancel()
	p := armappservice.Plan{Location: &t.Location, Kind: to.Ptr("functionapp"), Tags: armTags(tags),
		SKU:        &armappservice.SKUDescription{Name: to.Ptr("FC1"), Tier: to.Ptr("FlexConsumption")},
		Properties: &armappservice.PlanProperties{Reserved: to.Ptr(true)}} // reserved: Linux
	pp, err := d.plans.BeginCreateOrUpdate(pctx, d.opts.ResourceGroup, planName(t.Name), p, nil)
	if err == nil {
		_, err = pp.PollUntilDone(pctx, &runtime.PollUntilDoneOptions{Frequency: d.opts.PollInterval})
	}
	if err != nil {
		return armappservice.Site{}, fmt.Errorf("azure deploy: flex consumption plan: %w", err)
	}
	want := d.siteFor(t, tags)
	if _, err := d.getSite(ctx, t.Name); errors.Is(err, errGone) {
		want.Properties.SiteConfig.AppSettings = nameValues(hostSettings(t, in))
	} else if err != nil {
		return armappservice.Site{}, fmt.Errorf("azure deploy: reading app: %w", err)
	}
	sp, err := d.sites.BeginCreateOrUpdate(pctx, d.opts.ResourceGroup, t.Name, want, nil)
	var got armappservice.WebAppsClientCreateOrUpdateResponse
	if err == nil {
		got, err = sp.PollUntilDone(pctx, &runtime.PollUntilDoneOptions{Frequency: d.opts.PollInterval})
	}
	if err != nil {
		return armappservice.Site{}, fmt.Errorf("azure deploy: function app: %w", err)
	}
	st := got.Site
	if st.Identity == nil || st.Identity.PrincipalID == nil || *st.Identity.PrincipalID == "" {
		return armappservice.Site{}, errors.New("azure deploy: function app: no system-assigned identity in the answer")
	}
	if st.Tags == nil {
		st.Tags = want.Tags
	}
	return st, nil
}

// siteFor is the app as Flex Consumption takes it: runtime, deployment
// storage and scale in functionAppConfig, not in app settings.
func (d *Deployer) siteFor(t target, tags map[string]string) armappservice.Site {
	mem, most := t.Function.MemoryMB, t.Function.MaxInstances
	if mem == 0 {
		mem = defaultMemoryMB
	}
	if most == 0 {
		most = defaultMaxInstances
	}
	scale := &armappservice.FunctionsScaleAndConcurrency{InstanceMemoryMB: to.Ptr(int32(mem)), MaximumInstanceCount: to.Ptr(int32(most))}
	if t.concurrency > 0 {
		scale.Triggers = &armappservice.FunctionsScaleAndConcurrencyTriggers{
			HTTP: &armappservice.FunctionsScaleAndConcurrencyTriggersHTTP{PerInstanceConcurrency: to.Ptr(int32(t.concurrency))}}
	}
	return armappservice.Site{
		Location: &t.Location, Kind: to.Ptr("functionapp,linux"), Tags: armTags(tags),
		Identity: &armappservice.ManagedServiceIdentity{Type: to.Ptr(armappservice.ManagedServiceIdentityTypeSystemAssigned)},
		Properties: &armappservice.SiteProperties{
			ServerFarmID: to.Ptr(d.planID(t.Name)), Reserved: to.Ptr(true), HTTPSOnly: to.Ptr(true),
			SiteConfig: &armappservice.SiteConfig{MinTLSVersion: to.Ptr(armappservice.SupportedTLSVersionsOne2),
				FtpsState: to.Ptr(armappservice.FtpsStateDisabled), Http20Enabled: to.Ptr(true)},
			FunctionAppConfig: &armappservice.FunctionAppConfig{
				Deployment: &armappservice.FunctionsDeployment{Storage: &armappservice.FunctionsDeploymentStorage{
					Type:  to.Ptr(armappservice.FunctionsDeploymentStorageTypeBlobContainer),
					Value: to.Ptr(blobEndpoint(t.account) + deployContainer(t.Name)),
					Authentication: &armappservice.FunctionsDeploymentStorageAuthentication{
						Type: to.Ptr(armappservice.AuthenticationTypeSystemAssignedIdentity)},
				}},
				Runtime:             &armappservice.FunctionsRuntime{Name: to.Ptr(armappservice.RuntimeNameCustom), Version: to.Ptr(customRuntimeVersion)},
				ScaleAndConcurrency: scale,
			},
		},
	}
}

func nameValues(m map[string]string) []*armappservice.NameValuePair {
	out := make([]*armappservice.NameValuePair, 0, len(m))
	for k, v := range m {
		out = append(out, &armappservice.NameValuePair{Name: to.Ptr(k), Value: to.Ptr(v)})
	}
	return out
}

// hostSettings are what the Functions host needs to start: its storage by
// identity and its telemetry by identity (no key in either).
func hostSettings(t target, in insights) map[string]string {
	m := map[string]string{"AzureWebJobsStorage__accountName": t.account}
	if in.connection != "" {
		m["APPLICATIONINSIGHTS_CONNECTION_STRING"] = in.connection
		m["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] = "Authorization=AAD"
	}
	return m
}

// appSettingsFor is the app's whole environment. The secret appears only as
// a Key Vault reference.
func appSettingsFor(t target, in insights) map[string]string {
	m := make(map[string]string, len(t.Env)+10)
	for k, v := range t.Env {
		m[k] = v
	}
	for k, v := range hostSettings(t, in) {
		m[k] = v
	}
	if t.Function.TimeoutS > 0 { // host.json's functionTimeout, overridden per app
		m["AzureFunctionsJobHost__functionTimeout"] = fmt.Sprintf("%02d:%02d:%02d", t.Function.TimeoutS/3600, t.Function.TimeoutS/60%60, t.Function.TimeoutS%60)
	}
	m[envServices] = strings.Join(t.Kinds, ",")
	m[envStoreURL] = storeURL(t.Bucket, t.account)
	m[envPublicURL] = "https://" + t.Name + ".azurewebsites.net"
	if t.Function.PublicURL != "" {
		m[envPublicURL] = t.Function.PublicURL // a custom domain fronts the app
	}
	m[envSecret] = "@Microsoft.KeyVault(SecretUri=" + secretURI(t.vault, t.Name) + ")"
	return m
}

func (d *Deployer) putSettings(ctx context.Context, name string, settings map[string]string) error {
	_, err := d.sites.UpdateApplicationSettings(ctx, d.opts.ResourceGroup, name,
		armappservice.StringDictionary{Properties: armTags(settings)}, nil)
	if err != nil {
		return fmt.Errorf("azure deploy: app settings: %w", err)
	}
	return nil
}

// scmHost is the app's SCM (Kudu) host name, where Flex takes packages.
func scmHost(st armappservice.Site) string {
	if st.Properties != nil {
		for _, h := range st.Properties.HostNameSSLStates {
			if h != nil && h.HostType != nil && *h.HostType == armappservice.HostTypeRepository && h.Name != nil {
				return *h.Name
			}
		}
	}
	return *st.Name + ".scm.azurewebsites.net"
}

var deploymentIDRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// Kudu's deployment states (api/deployments): 3 failed, 4 succeeded.
const (
	deployFailed  = 3
	deploySuccess = 4
)

// publish sends the zip to Flex's OneDeploy endpoint (no remote build:
// the package is a static binary) and waits for the deployment, at most
// PollTimeout. The platform writes the package to the deployment container
// with the app's identity.
func (d *Deployer) publish(ctx context.Context, st armappservice.Site, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.PollTimeout)
	defer cancel()
	base := "https://" + scmHost(st)
	req, err := runtime.NewRequest(ctx, http.MethodPost, base+"/api/publish?RemoteBuild=false")
	if err != nil {
		return err
	}
	if err := req.SetBody(streaming.NopCloser(bytes.NewReader(data)), "application/zip"); err != nil {
		return err
	}
	resp, err := d.scm.Do(req) //nolint:bodyclose // readSmall closes it
	if err != nil {
		return fmt.Errorf("azure deploy: publishing the package: %w", err)
	}
	body, err := readSmall(resp)
	if err != nil {
		return fmt.Errorf("azure deploy: publishing the package: %w", err)
	}
	if !runtime.HasStatusCode(resp, http.StatusOK, http.StatusAccepted) {
		return fmt.Errorf("azure deploy: publishing the package: %s", resp.Status)
	}
	status := base + "/api/deployments/latest"
	if id := strings.Trim(strings.TrimSpace(string(body)), `"`); deploymentIDRE.MatchString(id) {
		status = base + "/api/deployments/" + id
	}
	return d.waitDeployment(ctx, status)
}

func (d *Deployer) waitDeployment(ctx context.Context, url string) error {
	for {
		req, err := runtime.NewRequest(ctx, http.MethodGet, url)
		if err != nil {
			return err
		}
		resp, err := d.scm.Do(req) //nolint:bodyclose // readSmall closes it
		if err != nil {
			return fmt.Errorf("azure deploy: waiting for the package deployment: %w", err)
		}
		body, err := readSmall(resp)
		if err != nil {
			return fmt.Errorf("azure deploy: waiting for the package deployment: %w", err)
		}
		var dep struct {
			Status   int  `json:"status"`
			Complete bool `json:"complete"`
		}
		if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &dep) == nil {
			switch {
			case dep.Status == deploySuccess:
				return nil
			case dep.Status == deployFailed || (dep.Complete && dep.Status != deploySuccess):
				return fmt.Errorf("azure deploy: the package deployment failed (status %d; see the app's deployment log)", dep.Status)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("azure deploy: waiting for the package deployment: %w", ctx.Err())
		case <-time.After(d.opts.PollInterval):
		}
	}
}

// readSmall reads an SCM answer, bounded: none is larger than a status.
func readSmall(resp *http.Response) ([]byte, error) {
	defer func() { _ = resp.Body.Close() }()
	return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
}
