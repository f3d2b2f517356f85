package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Delete removes the app, its plan, its role assignments, its logs, its
// secret and its package container; the store's container only when
// deleteData. A deployment whose app is already gone is deleted.
func (d *Deployer) Delete(ctx context.Context, name string, deleteData bool) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	if err := validateName(name); err != nil {
		return err
	}
	st, err := d.getSite(ctx, name)
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("azure deploy: reading app: %w", err)
	}
	t := tagValues(st.Tags)
	account, container, vault := t[tagAccount], t[tagContainer], t[tagVault]
	if st.Identity != nil && st.Identity.PrincipalID != nil && account != "" && vault != "" {
		// Revoked while the identity still exists to be named.
		vaultID := d.groupID() + "/providers/Microsoft.KeyVault/vaults/" + vault
		for _, g := range d.grants(name, account, container, vaultID, d.componentID(name)) {
			if err := deployer.Do(ctx, "revoke", func() error { return d.revoke(ctx, g, *st.Identity.PrincipalID) }, "role", g.role, "scope", g.scope); err != nil {
				return err
			}
		}
	}
	done := deployer.Step(ctx, "delete_app", "app", name)
	if _, err = d.sites.Delete(ctx, d.opts.ResourceGroup, name, nil); isNotFound(err) {
		err = nil // already gone
	}
	if done(err); err != nil {
		return fmt.Errorf("azure deploy: deleting app: %w", err)
	}
	if _, err := d.plans.Delete(ctx, d.opts.ResourceGroup, planName(name), nil); err != nil && !isNotFound(err) {
		return fmt.Errorf("azure deploy: deleting plan: %w", err)
	}
	if err := deployer.Do(ctx, "delete_logs", func() error { return d.deleteLogs(ctx, name) }, "app", name); err != nil {
		return err
	}
	if err := deployer.Do(ctx, "delete_secret", func() error { return d.deleteSecret(ctx, vault, name) }, "vault", vault, "secret_name", name); err != nil {
		return err
	}
	return deployer.Do(ctx, "delete_blobs", func() error { return d.deleteBlobs(ctx, account, container, name, deleteData) },
		"account", account, "container", container, "delete_data", deleteData)
}

func (d *Deployer) deleteSecret(ctx context.Context, vault, name string) error {
	if vault == "" {
		return nil
	}
	c, err := d.secrets(vault)
	if err != nil {
		return fmt.Errorf("azure deploy: key vault client: %w", err)
	}
	_, err = c.DeleteSecret(ctx, secretName(name), nil)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("azure deploy: deleting the secret: %w", err)
	}
	return nil
}

// deleteBlobs removes the package container, and the store's when asked.
// The host containers are shared by the account's apps and stay.
func (d *Deployer) deleteBlobs(ctx context.Context, account, container, name string, deleteData bool) error {
	if account == "" {
		return nil
	}
	bc, err := d.opts.BlobClient(account)
	if err != nil {
		return fmt.Errorf("azure deploy: blob client: %w", err)
	}
	if err := deleteContainer(ctx, bc, deployContainer(name)); err != nil {
		return fmt.Errorf("azure deploy: deleting the package container: %w", err)
	}
	if !deleteData || container == "" || slices.Contains(hostContainers[:], container) {
		return nil
	}
	if err := deleteContainer(ctx, bc, container); err != nil {
		return fmt.Errorf("azure deploy: deleting the store container: %w", err)
	}
	return nil
}

// secretTags are the tags the secret gets: Key Vault allows 15, so the
// deployer's own first, then the caller's in key order.
func secretTags(tags map[string]string) map[string]string {
	const most = 15
	out := map[string]string{}
	own := []string{tagAccount, tagContainer, tagVault, tagVersion, tagKinds, tagPublicURL}
	for _, k := range own {
		if v, ok := tags[k]; ok {
			out[k] = v
		}
	}
	var rest []string
	for k := range tags {
		if !slices.Contains(own, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		if len(out) == most {
			break
		}
		out[k] = tags[k]
	}
	return out
}
