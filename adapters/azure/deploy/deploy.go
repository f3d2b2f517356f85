// Package deploy is the Azure deployer (adapters/deployer.Deployer): for
// one Acquire service it manages, in one subscription and resource group,
//
//   - blob containers in the storage account Settings["storageAccount"]
//     (in the deployer's resource group): the store's (Spec.Bucket, removed
//     by Delete only when deleteData), the service's own Flex deployment
//     container acquire-pkg-<name>, and the Functions host's
//     azure-webjobs-hosts and azure-webjobs-secrets (shared by the apps of
//     the account, never deleted);
//   - a Log Analytics workspace <name>-logs whose retention is
//     Function.LogRetentionDays, and a workspace-based Application Insights
//     component <name>-insights with local (key) auth disabled: the app
//     sends telemetry with its identity (Monitoring Metrics Publisher on the
//     component);
//   - a Flex Consumption plan (<name>-plan, FC1) and the Function App <name>
//     (functionAppConfig: runtime custom, the deployment container with the
//     app's system-assigned identity, instance memory, maximum instance
//     count and per-instance HTTP concurrency; https only, TLS 1.2);
//   - the service secret, kept in the Key Vault Settings["keyVault"] (it
//     must exist in the deployer's resource group and use the RBAC
//     permission model) as <name>-service-secret, given to the app as
//     ACQUIRE_SERVICE_SECRET=@Microsoft.KeyVault(SecretUri=<versionless URI>);
//   - role assignments for the app's identity at exactly these scopes: Key
//     Vault Secrets User on the one secret, Storage Blob Data Contributor on
//     the store's container, the deployment container and the two host
//     containers, Monitoring Metrics Publisher on the component. No account
//     key, SAS or access policy anywhere;
//   - the package, published by Flex's OneDeploy (POST /api/publish on the
//     app's SCM host, Entra-authenticated), which the platform stores in the
//     deployment container with the app's identity.
//
// Tags (Function.Tags under the deployer's own) go on every object that
// takes ARM tags: the workspace, the component, the plan, the app and the
// secret. Role assignments and containers take none. Tags reads the app's
// back (deployer.TagReader), the deployer's own left out; a caller may not
// set one of those keys (CheckTag).
//
// The public URL is https://<name>.azurewebsites.net unless the app's
// answer names another default host name. Read finds a deployment by the
// app alone (its tags record the account, container, vault and version)
// and returns deployer.ErrNotFound when the app is gone.
//
// Limits, stated plainly: this deployer has NOT been applied against a live
// Azure subscription from here. Its tests check what it sends at the SDK
// boundary (the SDK's own fake servers, which decode each request into the
// SDK's models, plus a fake of the SCM publish API) and run the container
// steps against Azurite.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/applicationinsights/armapplicationinsights"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/operationalinsights/armoperationalinsights/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/openacquire/acquire/adapters/deployer"
)

// App settings the deployer writes (runtime/host reads the ACQUIRE ones).
const (
	envServices  = "ACQUIRE_SERVICES"
	envStoreURL  = "ACQUIRE_STORE_URL"
	envPublicURL = "ACQUIRE_PUBLIC_URL"
	envSecret    = "ACQUIRE_SERVICE_SECRET"
)

// Tags on the Function App that let Read and Delete work from the name.
const (
	tagAccount   = "acquire-storage-account"
	tagContainer = "acquire-container"
	tagVault     = "acquire-key-vault"
	tagVersion   = "acquire-version"
	tagPublicURL = "acquire-public-url"
	tagKinds     = "acquire-kinds"
)

// Options configure a Deployer.
type Options struct {
	Subscription  string // required
	ResourceGroup string // required; must exist
	Credential    azcore.TokenCredential
	// Transport replaces the HTTP client of every ARM, Key Vault and SCM
	// client (tests pass a fake); nil is the default.
	Transport policy.Transporter
	// BlobClient opens a storage account's blob service; nil is
	// https://<account>.blob.core.windows.net/ with Credential.
	BlobClient func(account string) (*azblob.Client, error)
	// OperationTimeout bounds each Create, Read, Update or Delete (default 20 min).
	OperationTimeout time.Duration
	// PollTimeout bounds each long-running operation (default 10 min).
	PollTimeout time.Duration
	// PollInterval is how often an operation is polled (default 5 s).
	PollInterval time.Duration
}

// Deployer manages Acquire services on Azure Functions Flex Consumption.
type Deployer struct {
	opts       Options
	sites      *armappservice.WebAppsClient
	plans      *armappservice.PlansClient
	roles      *armauthorization.RoleAssignmentsClient
	vaults     *armkeyvault.VaultsClient
	components *armapplicationinsights.ComponentsClient
	workspaces *armoperationalinsights.WorkspacesClient
	scm        runtime.Pipeline // the app's SCM (Kudu) host, with an ARM token
}

var _ deployer.Deployer = (*Deployer)(nil)

// armScope is the token audience ARM and the SCM publish endpoint accept.
const armScope = "https://management.azure.com/.default"

// New checks the options and builds the clients; it calls nothing.
func New(o Options) (*Deployer, error) {
	if o.Subscription == "" || o.ResourceGroup == "" || o.Credential == nil {
		return nil, errors.New("azure deploy: Subscription, ResourceGroup and Credential are required")
	}
	o = withDefaults(o)
	copts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: o.Transport}}
	d := &Deployer{opts: o}
	var err error
	web, err := armappservice.NewClientFactory(o.Subscription, o.Credential, copts)
	if err != nil {
		return nil, err
	}
	d.sites, d.plans = web.NewWebAppsClient(), web.NewPlansClient()
	if d.roles, err = armauthorization.NewRoleAssignmentsClient(o.Subscription, o.Credential, copts); err != nil {
		return nil, err
	}
	if d.vaults, err = armkeyvault.NewVaultsClient(o.Subscription, o.Credential, copts); err != nil {
		return nil, err
	}
	if d.components, err = armapplicationinsights.NewComponentsClient(o.Subscription, o.Credential, copts); err != nil {
		return nil, err
	}
	if d.workspaces, err = armoperationalinsights.NewWorkspacesClient(o.Subscription, o.Credential, copts); err != nil {
		return nil, err
	}
	bearer := runtime.NewBearerTokenPolicy(o.Credential, []string{armScope}, nil)
	d.scm = runtime.NewPipeline("acquire-deploy", "v0.2.0", runtime.PipelineOptions{PerRetry: []policy.Policy{bearer}},
		&policy.ClientOptions{Transport: o.Transport})
	return d, nil
}

func withDefaults(o Options) Options {
	if o.OperationTimeout <= 0 {
		o.OperationTimeout = 20 * time.Minute
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = 10 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.BlobClient == nil {
		cred := o.Credential
		o.BlobClient = func(account string) (*azblob.Client, error) {
			return azblob.NewClient(blobEndpoint(account), cred, nil)
		}
	}
	return o
}

func blobEndpoint(account string) string { return "https://" + account + ".blob.core.windows.net/" }

// Create deploys s; on an existing deployment it converges to s, so a
// retried Create does no harm.
func (d *Deployer) Create(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	return d.apply(ctx, s)
}

// Update changes an existing deployment's package, sizing and settings in place.
func (d *Deployer) Update(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	if _, err := validate(s); err != nil {
		return deployer.Deployment{}, err
	}
	if _, err := d.getSite(ctx, s.Name); err != nil {
		return deployer.Deployment{}, d.mapErr("reading app", err)
	}
	return d.apply(ctx, s)
}

// Read returns the deployment, or deployer.ErrNotFound when the app is gone.
func (d *Deployer) Read(ctx context.Context, name string) (deployer.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	if err := validateName(name); err != nil {
		return deployer.Deployment{}, err
	}
	st, err := d.getSite(ctx, name)
	if err != nil {
		return deployer.Deployment{}, d.mapErr("reading app", err)
	}
	return deploymentFromSite(name, st), nil
}

func (d *Deployer) mapErr(step string, err error) error {
	if errors.Is(err, errGone) {
		return deployer.ErrNotFound
	}
	return fmt.Errorf("azure deploy: %s: %w", step, err)
}

var errGone = errors.New("azure deploy: resource not found")

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

func deploymentFromSite(name string, st armappservice.Site) deployer.Deployment {
	host := name + ".azurewebsites.net"
	if st.Properties != nil && st.Properties.DefaultHostName != nil && *st.Properties.DefaultHostName != "" {
		host = *st.Properties.DefaultHostName
	}
	t := tagValues(st.Tags)
	u := "https://" + host
	if t[tagPublicURL] != "" {
		u = t[tagPublicURL] // the service's own URL, a custom domain
	}
	return deployer.Deployment{
		Name:      name,
		Services:  t[tagKinds],
		URL:       u,
		StoreURL:  storeURL(t[tagContainer], t[tagAccount]),
		SecretRef: secretURI(t[tagVault], name),
		Version:   t[tagVersion],
	}
}

func storeURL(container, account string) string {
	return "azblob://" + container + "?account=" + account
}

func secretName(name string) string { return name + "-service-secret" }

func vaultURL(vault string) string { return "https://" + vault + ".vault.azure.net/" }

// secretURI is versionless so that the app follows a rotated secret.
func secretURI(vault, name string) string {
	return vaultURL(vault) + "secrets/" + secretName(name) + "/"
}

// apply converges the cloud to s. The vault is checked before anything is
// made; the app settings are written after the grants, so the Key Vault
// reference is first resolved when the identity may read the secret, and
// the package is published last, onto an app whose settings are final.
func (d *Deployer) apply(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	t, err := validate(s)
	if err != nil {
		return deployer.Deployment{}, err
	}
	data, digest, err := readArtifact(s.Artifact)
	if err != nil {
		return deployer.Deployment{}, err
	}
	done := deployer.Step(ctx, "check_vault", "vault", t.vault)
	vaultID, err := d.rbacVault(ctx, t.vault)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	if err := deployer.Do(ctx, "ensure_containers", func() error { return d.containers(ctx, t) }, "account", t.account, "container", t.Bucket); err != nil {
		return deployer.Deployment{}, err
	}
	tags := ownTags(t, digest)
	// The secret's vault and name are logged, never its value.
	if err := deployer.Do(ctx, "set_secret", func() error { return d.setSecret(ctx, t, tags) }, "vault", t.vault, "secret_name", t.Name); err != nil {
		return deployer.Deployment{}, err
	}
	done = deployer.Step(ctx, "put_logs", "app", t.Name)
	insights, err := d.putLogs(ctx, t, tags)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	done = deployer.Step(ctx, "put_app", "app", t.Name, "plan", planName(t.Name))
	st, err := d.putApp(ctx, t, tags, insights)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	principal := *st.Identity.PrincipalID
	for _, g := range d.grants(t.Name, t.account, t.Bucket, vaultID, insights.id) {
		if err := deployer.Do(ctx, "grant", func() error { return d.grant(ctx, g, principal) }, "role", g.role, "scope", g.scope); err != nil {
			return deployer.Deployment{}, err
		}
	}
	if err := deployer.Do(ctx, "put_settings", func() error { return d.putSettings(ctx, t.Name, appSettingsFor(t, insights)) }, "app", t.Name); err != nil {
		return deployer.Deployment{}, err
	}
	if err := deployer.Do(ctx, "publish", func() error { return d.publish(ctx, st, data) }, "app", t.Name, "bytes", len(data)); err != nil {
		return deployer.Deployment{}, err
	}
	return deploymentFromSite(s.Name, st), nil
}

// ownTags are the tags of every object: the caller's under the deployer's own.
func ownTags(t target, digest string) map[string]string {
	tags := map[string]string{tagAccount: t.account, tagContainer: t.Bucket, tagVault: t.vault, tagVersion: digest,
		tagKinds: strings.Join(t.Kinds, ",")}
	if t.Function.PublicURL != "" {
		tags[tagPublicURL] = t.Function.PublicURL
	}
	for k, v := range t.Function.Tags {
		if _, own := tags[k]; !own {
			tags[k] = v
		}
	}
	return tags
}

func armTags(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = &v
	}
	return out
}

func tagValues(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func (d *Deployer) secrets(vault string) (*azsecrets.Client, error) {
	return azsecrets.NewClient(vaultURL(vault), d.opts.Credential,
		&azsecrets.ClientOptions{ClientOptions: policy.ClientOptions{Transport: d.opts.Transport}})
}

// setSecret writes the secret (tagged like everything else); errors carry
// the step, never the value. Key Vault allows 15 tags on a secret: the
// deployer's own come first, then the caller's in key order.
func (d *Deployer) setSecret(ctx context.Context, t target, tags map[string]string) error {
	c, err := d.secrets(t.vault)
	if err != nil {
		return fmt.Errorf("azure deploy: key vault client: %w", err)
	}
	ct := "text/plain"
	_, err = c.SetSecret(ctx, secretName(t.Name), azsecrets.SetSecretParameters{Value: &t.Secret, ContentType: &ct,
		Tags: armTags(secretTags(tags))}, nil)
	if err != nil {
		return fmt.Errorf("azure deploy: storing the secret in key vault %s: %w", t.vault, err)
	}
	return nil
}

// Secret reads the deployment's secret back from the Key Vault its app's
// tags name (see deployer.Deployer): ErrNotFound once the app or the
// secret is gone. Errors carry the step, never the value.
func (d *Deployer) Secret(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	if err := validateName(name); err != nil {
		return "", err
	}
	st, err := d.getSite(ctx, name)
	if err != nil {
		return "", d.mapErr("reading app", err)
	}
	vault := tagValues(st.Tags)[tagVault]
	if vault == "" {
		return "", errors.New("azure deploy: the app's tags name no key vault")
	}
	c, err := d.secrets(vault)
	if err != nil {
		return "", fmt.Errorf("azure deploy: key vault client: %w", err)
	}
	resp, err := c.GetSecret(ctx, secretName(name), "", nil)
	if isNotFound(err) {
		return "", deployer.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("azure deploy: reading the secret from key vault %s: %w", vault, err)
	}
	if resp.Value == nil || *resp.Value == "" {
		return "", fmt.Errorf("azure deploy: the secret in key vault %s holds no value", vault)
	}
	return *resp.Value, nil
}
