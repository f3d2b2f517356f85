// Package deploy is the Azure deployer (adapters/deployer.Deployer): for
// one Acquire service it manages, in one subscription and resource group,
//
//   - the store's blob container (Spec.Bucket) in the storage account named
//     by Settings["storageAccount"], created if missing and removed by
//     Delete only when deleteData;
//   - the function package: dist/azure-functions-<arch>.zip uploaded to
//     <account>/acquire-packages/<name>/<sha256>.zip (the digest is the
//     Deployment's Version), run with WEBSITE_RUN_FROM_PACKAGE set to the
//     blob's plain URL and WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID
//     =SystemAssigned: the app fetches it with its own identity, so no SAS
//     token (a long-lived credential) sits in the app settings;
//   - a Linux consumption plan (<name>-plan, Y1 Dynamic) and the Function
//     App <name> (custom handler, FUNCTIONS_WORKER_RUNTIME=custom, https
//     only, TLS 1.2) with a system-assigned identity;
//   - the service secret, stored in the Key Vault named by
//     Settings["keyVault"] (it must exist and use access policies) as
//     <name>-service-secret, given to the app as ACQUIRE_SERVICE_SECRET=
//     @Microsoft.KeyVault(SecretUri=<versionless URI>); the app's identity
//     gets an access policy with secret get only;
//   - a Storage Blob Data Owner role assignment for the app's identity on the
//     storage account, which the package fetch, the Functions host
//     (AzureWebJobsStorage__accountName) and the store (azidentity's chain,
//     see adapters/azure/blobstore) all use: no account key anywhere.
//
// The public URL is https://<name>.azurewebsites.net, known from the name
// before anything exists, so it is set in the same app settings write.
// Read finds a deployment by the app alone (its tags record the account,
// container, vault and version) and returns deployer.ErrNotFound when the
// app is gone. Delete keeps the store's container unless deleteData; the
// Key Vault secret is deleted (soft delete: recoverable for the vault's
// retention period, not purged).
//
// The Microsoft.Web and role-assignment calls go through azcore's ARM
// pipeline with hand-written request bodies, because armappservice is not
// served by the module proxy this project builds from. Key Vault uses the
// SDK's armkeyvault and azsecrets.
//
// Limits, stated plainly: this deployer has NOT been applied against a live
// Azure subscription from here. Its tests check what it sends at the SDK
// boundary (the SDK's fakes for Key Vault, an in-process fake of the
// Microsoft.Web API) and run the container and package steps against
// Azurite. Linux consumption plans are being retired by Azure in favour of
// flex consumption, which deploys packages differently; moving is future
// work. A storage account change on Update leaves the old role assignment.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
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
	// Transport replaces the HTTP client of the ARM and Key Vault clients
	// (tests pass the SDK's fakes); nil is the default.
	Transport policy.Transporter
	// BlobClient opens a storage account's blob service; nil is
	// https://<account>.blob.core.windows.net/ with Credential.
	BlobClient func(account string) (*azblob.Client, error)
	// OperationTimeout bounds each Create, Read, Update or Delete (default 20 min).
	OperationTimeout time.Duration
	// PollTimeout bounds each long-running ARM operation (default 10 min).
	PollTimeout time.Duration
	// PollInterval is how often an ARM operation is polled (default 5 s).
	PollInterval time.Duration
}

// Deployer manages Acquire services on Azure Functions.
type Deployer struct {
	opts   Options
	web    *web
	vaults *armkeyvault.VaultsClient
}

var _ deployer.Deployer = (*Deployer)(nil)

// New checks the options and builds the ARM clients; it calls nothing.
func New(o Options) (*Deployer, error) {
	if o.Subscription == "" || o.ResourceGroup == "" || o.Credential == nil {
		return nil, errors.New("azure deploy: Subscription, ResourceGroup and Credential are required")
	}
	o = withDefaults(o)
	copts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: o.Transport}}
	client, err := arm.NewClient("acquire-deploy", "v0.1.0", o.Credential, copts)
	if err != nil {
		return nil, err
	}
	vaults, err := armkeyvault.NewVaultsClient(o.Subscription, o.Credential, copts)
	if err != nil {
		return nil, err
	}
	w := &web{client: client, sub: o.Subscription, group: o.ResourceGroup, pollTimeout: o.PollTimeout, pollEvery: o.PollInterval}
	return &Deployer{opts: o, web: w, vaults: vaults}, nil
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
			return azblob.NewClient("https://"+account+".blob.core.windows.net/", cred, nil)
		}
	}
	return o
}

// Create deploys s; on an existing deployment it converges to s, so a
// retried Create does no harm.
func (d *Deployer) Create(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	return d.apply(ctx, s)
}

// Update changes an existing deployment's package and settings in place.
func (d *Deployer) Update(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	if _, err := validate(s); err != nil {
		return deployer.Deployment{}, err
	}
	if _, err := d.web.getSite(ctx, s.Name); err != nil {
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
	st, err := d.web.getSite(ctx, name)
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

func deploymentFromSite(name string, st site) deployer.Deployment {
	host := st.Properties.DefaultHostName
	if host == "" {
		host = name + ".azurewebsites.net"
	}
	t := st.Tags
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

// apply converges the cloud to s: store, package, secret, plan, app,
// access, then settings last so that the Key Vault reference is first
// resolved after the identity may read it.
func (d *Deployer) apply(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	t, err := validate(s)
	if err != nil {
		return deployer.Deployment{}, err
	}
	data, digest, err := readArtifact(s.Artifact)
	if err != nil {
		return deployer.Deployment{}, err
	}
	pkgURL, err := d.storeAndPackage(ctx, t, data, digest)
	if err != nil {
		return deployer.Deployment{}, err
	}
	if err := d.setSecret(ctx, t); err != nil {
		return deployer.Deployment{}, err
	}
	st, err := d.putApp(ctx, t, digest)
	if err != nil {
		return deployer.Deployment{}, err
	}
	if err := d.grant(ctx, t, st); err != nil {
		return deployer.Deployment{}, err
	}
	if err := d.web.putAppSettings(ctx, s.Name, appSettingsFor(t, pkgURL)); err != nil {
		return deployer.Deployment{}, fmt.Errorf("azure deploy: app settings: %w", err)
	}
	return deploymentFromSite(s.Name, st), nil
}

func (d *Deployer) storeAndPackage(ctx context.Context, t target, data []byte, digest string) (string, error) {
	bc, err := d.opts.BlobClient(t.account)
	if err != nil {
		return "", fmt.Errorf("azure deploy: blob client: %w", err)
	}
	if err := ensureContainer(ctx, bc, t.Bucket); err != nil {
		return "", fmt.Errorf("azure deploy: store container: %w", err)
	}
	return uploadPackage(ctx, bc, t.Name, data, digest)
}

func (d *Deployer) secrets(vault string) (*azsecrets.Client, error) {
	return azsecrets.NewClient(vaultURL(vault), d.opts.Credential,
		&azsecrets.ClientOptions{ClientOptions: policy.ClientOptions{Transport: d.opts.Transport}})
}

// setSecret writes the secret; errors carry the step, never the value.
func (d *Deployer) setSecret(ctx context.Context, t target) error {
	c, err := d.secrets(t.vault)
	if err != nil {
		return fmt.Errorf("azure deploy: key vault client: %w", err)
	}
	ct := "text/plain"
	_, err = c.SetSecret(ctx, secretName(t.Name), azsecrets.SetSecretParameters{Value: &t.Secret, ContentType: &ct}, nil)
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
	st, err := d.web.getSite(ctx, name)
	if err != nil {
		return "", d.mapErr("reading app", err)
	}
	vault := st.Tags[tagVault]
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

func (d *Deployer) putApp(ctx context.Context, t target, digest string) (site, error) {
	tags := map[string]string{tagAccount: t.account, tagContainer: t.Bucket, tagVault: t.vault, tagVersion: digest,
		tagKinds: strings.Join(t.Kinds, ",")}
	for k, v := range t.Function.Tags {
		if _, own := tags[k]; !own {
			tags[k] = v // the caller's tags, under the deployer's own
		}
	}
	if t.Function.PublicURL != "" {
		tags[tagPublicURL] = t.Function.PublicURL
	}
	planID, err := d.web.putPlan(ctx, t.Name, t.Location, tags)
	if err != nil {
		return site{}, fmt.Errorf("azure deploy: plan: %w", err)
	}
	want := site{Location: t.Location, Kind: "functionapp,linux", Tags: tags,
		Identity: &identity{Type: "SystemAssigned"},
		Properties: siteProperties{ServerFarmID: planID, Reserved: true, HTTPSOnly: true,
			SiteConfig: &siteConfig{MinTLSVersion: "1.2", FtpsState: "Disabled", HTTP20Enabled: true}}}
	st, err := d.web.putSite(ctx, t.Name, want)
	if err != nil {
		return site{}, fmt.Errorf("azure deploy: function app: %w", err)
	}
	if st.Identity == nil || st.Identity.PrincipalID == "" || st.Identity.TenantID == "" {
		return site{}, errors.New("azure deploy: function app: no system-assigned identity in the answer")
	}
	if st.Tags == nil {
		st.Tags = tags
	}
	return st, nil
}

// grant lets the app's identity read its secret and use the storage account.
func (d *Deployer) grant(ctx context.Context, t target, st site) error {
	if err := d.accessPolicy(ctx, t.vault, st.Identity, armkeyvault.AccessPolicyUpdateKindAdd); err != nil {
		return err
	}
	if err := d.web.grantBlobData(ctx, t.account, st.Identity.PrincipalID); err != nil {
		return fmt.Errorf("azure deploy: storage role assignment: %w", err)
	}
	return nil
}

func (d *Deployer) accessPolicy(ctx context.Context, vault string, id *identity, kind armkeyvault.AccessPolicyUpdateKind) error {
	get := armkeyvault.SecretPermissionsGet
	params := armkeyvault.VaultAccessPolicyParameters{Properties: &armkeyvault.VaultAccessPolicyProperties{
		AccessPolicies: []*armkeyvault.AccessPolicyEntry{{
			ObjectID: &id.PrincipalID, TenantID: &id.TenantID,
			Permissions: &armkeyvault.Permissions{Secrets: []*armkeyvault.SecretPermissions{&get}},
		}}}}
	_, err := d.vaults.UpdateAccessPolicy(ctx, d.opts.ResourceGroup, vault, kind, params, nil)
	if err != nil {
		return fmt.Errorf("azure deploy: key vault access policy (%s): %w", kind, err)
	}
	return nil
}

// appSettingsFor is the app's whole environment. The secret appears only as
// a Key Vault reference.
func appSettingsFor(t target, pkgURL string) map[string]string {
	m := make(map[string]string, len(t.Env)+10)
	for k, v := range t.Env {
		m[k] = v
	}
	m["FUNCTIONS_EXTENSION_VERSION"] = "~4"
	m["FUNCTIONS_WORKER_RUNTIME"] = "custom"
	m["AzureWebJobsStorage__accountName"] = t.account
	m["WEBSITE_RUN_FROM_PACKAGE"] = pkgURL
	m["WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID"] = "SystemAssigned"
	m[envServices] = strings.Join(t.Kinds, ",")
	m[envStoreURL] = storeURL(t.Bucket, t.account)
	m[envPublicURL] = "https://" + t.Name + ".azurewebsites.net"
	if t.Function.PublicURL != "" {
		m[envPublicURL] = t.Function.PublicURL // a custom domain fronts the app
	}
	m[envSecret] = "@Microsoft.KeyVault(SecretUri=" + secretURI(t.vault, t.Name) + ")"
	return m
}
