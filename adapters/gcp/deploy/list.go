package deploy

import (
	"context"
	"fmt"
	"path"
	"strings"

	run "google.golang.org/api/run/v2"
)

// List names the Cloud Run services in the deployer's project and region
// whose name starts with prefix, for sweepers of live test accounts
// (make testacc-live).
func (d *Deployer) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := d.run.Projects.Locations.Services.List(d.parent()).Pages(ctx, func(r *run.GoogleCloudRunV2ListServicesResponse) error {
		for _, s := range r.Services {
			if n := path.Base(s.Name); strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("gcp deploy: list services: %w", err)
	}
	return names, nil
}
