package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
)

// Delete removes the app, its plan, its access, its secret and its
// packages; the store's container only when deleteData. A deployment whose
// app is already gone is deleted.
func (d *Deployer) Delete(ctx context.Context, name string, deleteData bool) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	if err := validateName(name); err != nil {
		return err
	}
	st, err := d.web.getSite(ctx, name)
	if errors.Is(err, errGone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("azure deploy: reading app: %w", err)
	}
	account, container, vault := st.Tags[tagAccount], st.Tags[tagContainer], st.Tags[tagVault]
	if err := d.revoke(ctx, account, vault, st.Identity); err != nil {
		return err
	}
	if err := d.web.deleteLRO(ctx, d.web.sitePath(name), webAPIVersion); err != nil {
		return fmt.Errorf("azure deploy: deleting app: %w", err)
	}
	if err := d.web.deleteLRO(ctx, d.web.planPath(name), webAPIVersion); err != nil {
		return fmt.Errorf("azure deploy: deleting plan: %w", err)
	}
	if err := d.deleteSecret(ctx, vault, name); err != nil {
		return err
	}
	return d.deleteBlobs(ctx, account, container, name, deleteData)
}

// revoke undoes grant while the identity still exists to be named.
func (d *Deployer) revoke(ctx context.Context, account, vault string, id *identity) error {
	if id == nil || id.PrincipalID == "" {
		return nil
	}
	if vault != "" {
		if err := d.accessPolicy(ctx, vault, id, armkeyvault.AccessPolicyUpdateKindRemove); err != nil {
			return err
		}
	}
	if account != "" {
		if err := d.web.revokeBlobData(ctx, account, id.PrincipalID); err != nil {
			return fmt.Errorf("azure deploy: removing storage role assignment: %w", err)
		}
	}
	return nil
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

func (d *Deployer) deleteBlobs(ctx context.Context, account, container, name string, deleteData bool) error {
	if account == "" {
		return nil
	}
	bc, err := d.opts.BlobClient(account)
	if err != nil {
		return fmt.Errorf("azure deploy: blob client: %w", err)
	}
	if err := deletePackages(ctx, bc, name); err != nil {
		return err
	}
	if !deleteData || container == "" {
		return nil
	}
	if err := deleteContainer(ctx, bc, container); err != nil {
		return fmt.Errorf("azure deploy: deleting the store container: %w", err)
	}
	return nil
}
