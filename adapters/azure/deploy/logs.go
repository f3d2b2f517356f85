package deploy

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/applicationinsights/armapplicationinsights"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/operationalinsights/armoperationalinsights/v2"
)

// defaultRetentionDays is a Log Analytics workspace's own default.
const defaultRetentionDays = 30

func workspaceName(name string) string { return name + "-logs" }

func componentName(name string) string { return name + "-insights" }

// insights is the deployment's Application Insights component.
type insights struct {
	id, connection string
}

// putLogs makes the service's Log Analytics workspace (its retention is
// the service's log retention: a workspace-based component keeps its data
// in the workspace) and the Application Insights component the Functions
// host sends to. Local auth is disabled on the component: the connection
// string alone cannot write, only the app's identity can.
func (d *Deployer) putLogs(ctx context.Context, t target, tags map[string]string) (insights, error) {
	days := t.Function.LogRetentionDays
	if days == 0 {
		days = defaultRetentionDays
	}
	pctx, cancel := context.WithTimeout(ctx, d.opts.PollTimeout)
	defer cancel()
	ws := armoperationalinsights.Workspace{Location: &t.Location, Tags: armTags(tags),
		Properties: &armoperationalinsights.WorkspaceProperties{RetentionInDays: to.Ptr(int32(days)),
			SKU: &armoperationalinsights.WorkspaceSKU{Name: to.Ptr(armoperationalinsights.WorkspaceSKUNameEnumPerGB2018)}}}
	wp, err := d.workspaces.BeginCreateOrUpdate(pctx, d.opts.ResourceGroup, workspaceName(t.Name), ws, nil)
	var w armoperationalinsights.WorkspacesClientCreateOrUpdateResponse
	if err == nil {
		w, err = wp.PollUntilDone(pctx, &runtime.PollUntilDoneOptions{Frequency: d.opts.PollInterval})
	}
	if err != nil {
		return insights{}, fmt.Errorf("azure deploy: log analytics workspace: %w", err)
	}
	wsID := d.groupID() + "/providers/Microsoft.OperationalInsights/workspaces/" + workspaceName(t.Name)
	if w.ID != nil && *w.ID != "" {
		wsID = *w.ID
	}
	c := armapplicationinsights.Component{Location: &t.Location, Kind: to.Ptr("web"), Tags: armTags(tags),
		Properties: &armapplicationinsights.ComponentProperties{
			ApplicationType:     to.Ptr(armapplicationinsights.ApplicationTypeWeb),
			WorkspaceResourceID: &wsID, DisableLocalAuth: to.Ptr(true),
			IngestionMode: to.Ptr(armapplicationinsights.IngestionModeLogAnalytics)}}
	got, err := d.components.CreateOrUpdate(ctx, d.opts.ResourceGroup, componentName(t.Name), c, nil)
	if err != nil {
		return insights{}, fmt.Errorf("azure deploy: application insights: %w", err)
	}
	in := insights{id: d.componentID(t.Name)}
	if got.ID != nil && *got.ID != "" {
		in.id = *got.ID
	}
	if got.Properties != nil && got.Properties.ConnectionString != nil {
		in.connection = *got.Properties.ConnectionString
	}
	return in, nil
}

func (d *Deployer) componentID(name string) string {
	return d.groupID() + "/providers/Microsoft.Insights/components/" + componentName(name)
}

// deleteLogs removes the component and the workspace (soft-deleted by
// Azure: a workspace made again under its name within 14 days comes back
// with its logs).
func (d *Deployer) deleteLogs(ctx context.Context, name string) error {
	if _, err := d.components.Delete(ctx, d.opts.ResourceGroup, componentName(name), nil); err != nil && !isNotFound(err) {
		return fmt.Errorf("azure deploy: deleting application insights: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, d.opts.PollTimeout)
	defer cancel()
	p, err := d.workspaces.BeginDelete(pctx, d.opts.ResourceGroup, workspaceName(name), nil)
	if err == nil {
		_, err = p.PollUntilDone(pctx, &runtime.PollUntilDoneOptions{Frequency: d.opts.PollInterval})
	}
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("azure deploy: deleting the log analytics workspace: %w", err)
	}
	return nil
}
