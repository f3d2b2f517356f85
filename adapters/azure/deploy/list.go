package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// List names the function apps of the deployer's resource group whose
// name starts with prefix, for sweepers of live test accounts (make
// testacc-live). One page: a test resource group holds few apps.
func (d *Deployer) List(ctx context.Context, prefix string) ([]string, error) {
	resp, err := d.web.do(ctx, http.MethodGet, d.web.groupPath()+"/providers/Microsoft.Web/sites", webAPIVersion, nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("azure deploy: list apps: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var page struct {
		Value []struct {
			Name string `json:"name"`
		} `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("azure deploy: list apps: %w", err)
	}
	var names []string
	for _, s := range page.Value {
		if strings.HasPrefix(s.Name, prefix) {
			names = append(names, s.Name)
		}
	}
	return names, nil
}
