package deploy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
)

// Built-in role definitions (their IDs are the same in every tenant).
const (
	// RoleKeyVaultSecretsUser reads secret contents.
	RoleKeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6" //nolint:gosec // G101: a public role definition ID, not a credential
	// RoleStorageBlobDataContributor reads, writes and deletes blobs.
	RoleStorageBlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
	// RoleMonitoringMetricsPublisher lets the app send telemetry to its
	// Application Insights component with its identity (local auth is off).
	RoleMonitoringMetricsPublisher = "3913510d-42f4-4e42-8a64-420c390055eb"
)

// hostContainers are the Functions host's own: its lock and host id, and
// its keys (Acquire's trigger is anonymous, so they guard nothing of it).
var hostContainers = [2]string{"azure-webjobs-hosts", "azure-webjobs-secrets"}

// access is one role assignment the app's identity gets.
type access struct {
	scope, role, why string
}

func (d *Deployer) accountID(account string) string {
	return d.groupID() + "/providers/Microsoft.Storage/storageAccounts/" + account
}

func (d *Deployer) containerID(account, container string) string {
	return d.accountID(account) + "/blobServices/default/containers/" + container
}

// grants are every role assignment of a deployment, each at the narrowest
// scope that works: one secret, four containers, one component.
func (d *Deployer) grants(name, account, store, vaultID, insightsID string) []access {
	g := []access{
		{vaultID + "/secrets/" + secretName(name), RoleKeyVaultSecretsUser, "key vault secret"},
		{d.containerID(account, store), RoleStorageBlobDataContributor, "store container"},
		{d.containerID(account, deployContainer(name)), RoleStorageBlobDataContributor, "deployment container"},
	}
	for _, c := range hostContainers {
		g = append(g, access{d.containerID(account, c), RoleStorageBlobDataContributor, "functions host container"})
	}
	if insightsID != "" {
		g = append(g, access{insightsID, RoleMonitoringMetricsPublisher, "application insights"})
	}
	return g
}

func (d *Deployer) roleDefinitionID(role string) string {
	return "/subscriptions/" + d.opts.Subscription + "/providers/Microsoft.Authorization/roleDefinitions/" + role
}

// assignmentName is a GUID deterministic in (scope, principal, role), so a
// repeated Create finds the same assignment instead of adding another, and
// Delete can name it without a search.
func assignmentName(scope, principal, role string) string {
	sum := sha256.Sum256([]byte(scope + "|" + principal + "|" + role))
	sum[6] = sum[6]&0x0f | 0x50 // version 5 layout, as ARM expects a GUID
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// grant creates one role assignment. A new identity may not have reached
// Entra's replicas yet (PrincipalNotFound): retried until the operation's
// deadline. One that exists under another name is success.
func (d *Deployer) grant(ctx context.Context, a access, principal string) error {
	params := armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(d.roleDefinitionID(a.role)), PrincipalID: to.Ptr(principal),
		PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}
	for {
		_, err := d.roles.Create(ctx, a.scope, assignmentName(a.scope, principal, a.role), params, nil)
		var re *azcore.ResponseError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re) && re.StatusCode == http.StatusConflict && re.ErrorCode == "RoleAssignmentExists":
			return nil
		case errors.As(err, &re) && re.ErrorCode == "PrincipalNotFound":
			select {
			case <-ctx.Done():
				return fmt.Errorf("azure deploy: role assignment on the %s: %w", a.why, err)
			case <-time.After(d.opts.PollInterval):
			}
		default:
			return fmt.Errorf("azure deploy: role assignment on the %s: %w", a.why, err)
		}
	}
}

// revoke deletes one role assignment; gone already is success.
func (d *Deployer) revoke(ctx context.Context, a access, principal string) error {
	_, err := d.roles.Delete(ctx, a.scope, assignmentName(a.scope, principal, a.role), nil)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("azure deploy: removing the role assignment on the %s: %w", a.why, err)
	}
	return nil
}

// ErrAccessPolicyVault is returned when the Key Vault uses access
// policies: the deployer grants by role assignment only.
var ErrAccessPolicyVault = errors.New("azure deploy: the key vault uses the access-policy permission model; " +
	"Acquire grants the function its secret by Azure RBAC (set enableRbacAuthorization on the vault)")

// rbacVault returns the vault's resource ID, refusing a vault in
// access-policy mode before anything is made.
func (d *Deployer) rbacVault(ctx context.Context, vault string) (string, error) {
	resp, err := d.vaults.Get(ctx, d.opts.ResourceGroup, vault, nil)
	if err != nil {
		return "", fmt.Errorf("azure deploy: reading key vault %s: %w", vault, err)
	}
	p := resp.Properties
	if p == nil || p.EnableRbacAuthorization == nil || !*p.EnableRbacAuthorization {
		return "", ErrAccessPolicyVault
	}
	if resp.ID == nil || *resp.ID == "" {
		return "", fmt.Errorf("azure deploy: key vault %s: no resource id in the answer", vault)
	}
	return *resp.ID, nil
}
