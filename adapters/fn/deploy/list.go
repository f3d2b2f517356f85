package deploy

import (
	"context"
	"strings"
)

// List names the deployments on the Fn server whose name starts with
// prefix: the apps this deployer made (marked by its annotation), for
// sweepers of test servers. Apps made by others are never named.
func (d *Deployer) List(ctx context.Context, prefix string) ([]string, error) {
	apps, err := listAll[app](ctx, d.api, "/apps", nil)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, a := range apps {
		if strings.HasPrefix(a.Name, prefix) && a.Annotations[managedAnnotation] == "acquire" {
			names = append(names, a.Name)
		}
	}
	return names, nil
}
