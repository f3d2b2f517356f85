package deploy

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/web"
)

// managedAnnotation marks the objects this deployer made.
const managedAnnotation = "org.openacquire/managed-by"

// annotations mark an object as the deployer's and carry the service's
// tags (Fn has annotations where clouds have tags).
func annotations(tags map[string]string) map[string]any {
	out := map[string]any{managedAnnotation: "acquire"}
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// recordAnnotation prefixes the annotations holding record: settings.
const recordAnnotation = "org.openacquire/config."

// fnAnnotations are the function's: the app's, and the record.
func fnAnnotations(p parsed) map[string]any {
	out := annotations(p.Function.Tags)
	for k, v := range p.record {
		out[recordAnnotation+k] = v
	}
	return out
}

// ownAnnotation: a key the server set (fnproject.io/...), which the
// deployer neither compares nor removes.
func serverAnnotation(k string) bool { return strings.Contains(k, "fnproject.io/") }

// ensureApp finds the app called name or creates it.
func (d *Deployer) ensureApp(ctx context.Context, a *api, name string, tags map[string]string) (*app, error) {
	ap, err := a.appByName(ctx, name)
	if err != nil || ap != nil {
		return ap, err
	}
	var created app
	if err := a.do(ctx, http.MethodPost, "/apps", nil, app{Name: name, Annotations: annotations(tags)}, &created); err != nil {
		return nil, err
	}
	if created.ID == "" {
		return nil, errEmpty
	}
	return &created, nil
}

// fnConfig is the function's whole configuration.
func fnConfig(p parsed, public string) map[string]string {
	cfg := map[string]string{}
	maps.Copy(cfg, p.env)
	maps.Copy(cfg, p.Env)
	cfg[envServices] = strings.Join(p.Kinds, ",")
	cfg[envStoreURL] = p.storeURL
	cfg[envPublicURL] = public
	cfg[envSecret] = p.Secret
	if slices.Contains(p.Kinds, storage.Kind) {
		// Its own data URLs become /storage/data?key=…: one trigger.
		cfg[host.EnvStorageDataURL] = "query"
	}
	return cfg
}

// ensureFn creates the app's function or updates what differs. Keys the
// function has but should not are sent empty, which Fn takes as removal.
func (d *Deployer) ensureFn(ctx context.Context, a *api, appID string, p parsed, image, public string) (*fnObject, error) {
	want := fnObject{Name: FunctionName, AppID: appID, Image: image, Memory: p.memoryMB, Timeout: p.timeoutS,
		IdleTimeout: p.idleTimeoutS, Config: fnConfig(p, public), Annotations: fnAnnotations(p)}
	have, err := a.fnByName(ctx, appID, FunctionName)
	if err != nil {
		return nil, err
	}
	if have == nil {
		var created fnObject
		if err := a.do(ctx, http.MethodPost, "/fns", nil, want, &created); err != nil {
			return nil, err
		}
		if created.ID == "" {
			return nil, errEmpty
		}
		return &created, nil
	}
	if have.Image == want.Image && have.Memory == want.Memory && have.Timeout == want.Timeout &&
		have.IdleTimeout == want.IdleTimeout && maps.Equal(have.Config, want.Config) && sameAnnotations(have.Annotations, want.Annotations) {
		return have, nil
	}
	update := fnObject{Image: want.Image, Memory: want.Memory, Timeout: want.Timeout, IdleTimeout: want.IdleTimeout,
		Config: maps.Clone(want.Config), Annotations: maps.Clone(want.Annotations)}
	for k := range have.Config {
		if _, keep := want.Config[k]; !keep {
			update.Config[k] = ""
		}
	}
	// Fn merges annotations too, removing a key sent empty: a tag or
	// record dropped from the spec is removed.
	for k := range have.Annotations {
		if _, keep := want.Annotations[k]; !keep && !serverAnnotation(k) {
			update.Annotations[k] = ""
		}
	}
	var updated fnObject
	if err := a.do(ctx, http.MethodPut, "/fns/"+url.PathEscape(have.ID), nil, update, &updated); err != nil {
		return nil, err
	}
	return &updated, nil
}

// route is one HTTP trigger: Fn matches a trigger's source to the whole
// path below /t/<app>, so each path a service answers needs its own.
type route struct{ name, source string }

// routes are the triggers of kinds: /<kind> for each, for identity every
// page and asset of its browser pages (/identity/web/…), and for storage
// its data route (/storage/data, the key in the query: see fnConfig).
func routes(kinds []string) []route {
	var out []route
	for _, kind := range kinds {
		out = append(out, route{kind, "/" + kind})
		if kind == storage.Kind {
			out = append(out, route{kind + "-data", "/" + kind + storage.DataRoute})
		}
		if kind != identityKind {
			continue
		}
		for _, r := range web.Routes() {
			name := kind + "-web"
			if r != "" {
				name += "-" + strings.NewReplacer(".", "-", "_", "-").Replace(r)
			}
			out = append(out, route{name, "/" + kind + web.Path + r})
		}
	}
	return out
}

// identityKind serves browser pages below its path.
const identityKind = "identity"

// ensureTriggers makes the HTTP triggers of kinds (routes) and deletes the
// function's other triggers.
func (d *Deployer) ensureTriggers(ctx context.Context, a *api, appID, fnID string, kinds []string, tags map[string]string) ([]trigger, error) {
	have, err := a.triggers(ctx, appID, fnID)
	if err != nil {
		return nil, err
	}
	byName := map[string]trigger{}
	for _, t := range have {
		byName[t.Name] = t
	}
	var out []trigger
	wanted := map[string]bool{}
	for _, rt := range routes(kinds) {
		wanted[rt.name] = true
		t, ok := byName[rt.name]
		if ok && t.Type == "http" && t.Source == rt.source {
			out = append(out, t)
			continue
		}
		if ok { // same name, wrong route: replace it
			if err := ignoreNotFound(a.do(ctx, http.MethodDelete, "/triggers/"+url.PathEscape(t.ID), nil, nil, nil)); err != nil {
				return nil, err
			}
		}
		var created trigger
		want := trigger{Name: rt.name, AppID: appID, FnID: fnID, Type: "http", Source: rt.source, Annotations: annotations(tags)}
		if err := a.do(ctx, http.MethodPost, "/triggers", nil, want, &created); err != nil {
			return nil, err
		}
		if created.ID == "" {
			return nil, errEmpty
		}
		out = append(out, created)
	}
	for _, t := range have {
		if !wanted[t.Name] {
			if err := ignoreNotFound(a.do(ctx, http.MethodDelete, "/triggers/"+url.PathEscape(t.ID), nil, nil, nil)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// sameAnnotations compares the annotations the deployer sets (a server
// may add its own), and finds none it no longer sets.
func sameAnnotations(have, want map[string]any) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok && !serverAnnotation(k) {
			return false
		}
	}
	return true
}
