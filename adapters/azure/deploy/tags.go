package deploy

import (
	"context"

	"github.com/openacquire/acquire/adapters/deployer"
)

var _ deployer.TagReader = (*Deployer)(nil)

// ownTagKeys are the tags the deployer writes for itself (Read and Delete
// work from them). A caller may not set them: the deployer's value would
// win, and the tag read back would differ from the configured one forever.
var ownTagKeys = map[string]bool{tagAccount: true, tagContainer: true, tagVault: true, tagVersion: true,
	tagPublicURL: true, tagKinds: true}

// Tags reads the Function App's tags back through ARM, the deployer's own
// left out (deployer.TagReader): a tag changed out of band on the app is
// drift. The app is the main object; the plan, workspace, component and
// secret get the same tags at every apply.
func (d *Deployer) Tags(ctx context.Context, name string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.OperationTimeout)
	defer cancel()
	if err := validateName(name); err != nil {
		return nil, err
	}
	st, err := d.getSite(ctx, name)
	if err != nil {
		return nil, d.mapErr("reading app", err)
	}
	out := tagValues(st.Tags)
	for k := range out {
		if ownTagKeys[k] {
			delete(out, k)
		}
	}
	return out, nil
}
