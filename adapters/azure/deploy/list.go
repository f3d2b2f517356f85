package deploy

import (
	"context"
	"fmt"
	"strings"
)

// List names the function apps of the deployer's resource group whose
// name starts with prefix, for sweepers of live test accounts (make
// testacc-live).
func (d *Deployer) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	pager := d.sites.NewListByResourceGroupPager(d.opts.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("azure deploy: list apps: %w", err)
		}
		for _, s := range page.Value {
			if s != nil && s.Name != nil && strings.HasPrefix(*s.Name, prefix) {
				names = append(names, *s.Name)
			}
		}
	}
	return names, nil
}
