package deploy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	run "google.golang.org/api/run/v2"

	"github.com/openacquire/acquire/adapters/deployer"
)

const invokerRole = "roles/run.invoker"

func (d *Deployer) serviceName(service string) string {
	return d.parent() + "/services/" + service
}

func (d *Deployer) parent() string {
	return "projects/" + d.cfg.Project + "/locations/" + d.cfg.Region
}

// getService returns the service, or deployer.ErrNotFound.
func (d *Deployer) getService(ctx context.Context, service string) (*run.GoogleCloudRunV2Service, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	svc, err := d.run.Projects.Locations.Services.Get(d.serviceName(service)).Context(ctx).Do()
	if isNotFound(err) {
		return nil, fmt.Errorf("gcp deploy: service %s: %w", service, deployer.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("gcp deploy: read service %s: %w", service, err)
	}
	return svc, nil
}

// deployService creates the service if existing is nil, learning its URL,
// then deploys the revision that knows the URL.
func (d *Deployer) deployService(ctx context.Context, existing *run.GoogleCloudRunV2Service, p parsed, image, secretVersion string) (*run.GoogleCloudRunV2Service, error) {
	if existing == nil {
		created, err := d.createService(ctx, p, image, secretVersion)
		if err != nil {
			return nil, err
		}
		existing = created
	}
	if existing.Uri == "" {
		return nil, fmt.Errorf("gcp deploy: service %s has no URL yet", p.Name)
	}
	public := existing.Uri
	if p.Function.PublicURL != "" {
		public = p.Function.PublicURL // a custom domain fronts the service
	}
	want := d.desiredService(p, image, secretVersion, public)
	op, err := d.callOp(ctx, func(ctx context.Context) (*run.GoogleLongrunningOperation, error) {
		return d.run.Projects.Locations.Services.Patch(d.serviceName(p.Name), want).Context(ctx).Do()
	})
	if err != nil {
		return nil, fmt.Errorf("gcp deploy: update service %s: %w", p.Name, err)
	}
	if err := d.waitOp(ctx, op); err != nil {
		return nil, err
	}
	return d.getService(ctx, p.Name)
}

// createService creates the first revision, without ACQUIRE_PUBLIC_URL
// (Cloud Run assigns the URL only now) and not yet public.
func (d *Deployer) createService(ctx context.Context, p parsed, image, secretVersion string) (*run.GoogleCloudRunV2Service, error) {
	want := d.desiredService(p, image, secretVersion, "")
	op, err := d.callOp(ctx, func(ctx context.Context) (*run.GoogleLongrunningOperation, error) {
		return d.run.Projects.Locations.Services.Create(d.parent(), want).ServiceId(p.Name).Context(ctx).Do()
	})
	if err != nil && !isConflict(err) {
		return nil, fmt.Errorf("gcp deploy: create service %s: %w", p.Name, err)
	}
	if err == nil {
		if err := d.waitOp(ctx, op); err != nil {
			return nil, err
		}
	}
	return d.getService(ctx, p.Name)
}

func (d *Deployer) desiredService(p parsed, image, secretVersion, publicURL string) *run.GoogleCloudRunV2Service {
	c := &run.GoogleCloudRunV2Container{Image: image, Env: d.env(p, secretVersion, publicURL)}
	if p.memory != "" {
		c.Resources = &run.GoogleCloudRunV2ResourceRequirements{Limits: map[string]string{"memory": p.memory}}
	}
	t := &run.GoogleCloudRunV2RevisionTemplate{ServiceAccount: p.serviceAccount, Containers: []*run.GoogleCloudRunV2Container{c}}
	if p.timeoutS > 0 {
		t.Timeout = strconv.FormatInt(p.timeoutS, 10) + "s"
	}
	if p.maxInstances > 0 {
		t.Scaling = &run.GoogleCloudRunV2RevisionScaling{MaxInstanceCount: p.maxInstances}
	}
	return &run.GoogleCloudRunV2Service{
		Ingress:  "INGRESS_TRAFFIC_ALL",
		Labels:   labels(p),
		Template: t,
	}
}

// env is the container's environment; the secret is only a reference to a
// pinned Secret Manager version.
func (d *Deployer) env(p parsed, secretVersion, publicURL string) []*run.GoogleCloudRunV2EnvVar {
	env := []*run.GoogleCloudRunV2EnvVar{
		{Name: envServices, Value: strings.Join(p.Kinds, ",")},
		{Name: envStoreURL, Value: "gs://" + p.Bucket},
	}
	if publicURL != "" {
		env = append(env, &run.GoogleCloudRunV2EnvVar{Name: envPublicURL, Value: publicURL})
	}
	for _, k := range sortedKeys(p.Env) {
		env = append(env, &run.GoogleCloudRunV2EnvVar{Name: k, Value: p.Env[k]})
	}
	ref := &run.GoogleCloudRunV2SecretKeySelector{Secret: d.secretName(p.Name), Version: path.Base(secretVersion)}
	return append(env, &run.GoogleCloudRunV2EnvVar{
		Name:        envSecret,
		ValueSource: &run.GoogleCloudRunV2EnvVarSource{SecretKeyRef: ref},
	})
}

// makePublic lets allUsers invoke the service: Acquire's envelopes carry
// their own authentication.
func (d *Deployer) makePublic(ctx context.Context, service string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	name := d.serviceName(service)
	pol, err := d.run.Projects.Locations.Services.GetIamPolicy(name).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("gcp deploy: service policy: %w", err)
	}
	if !addMember(&pol.Bindings, invokerRole, "allUsers") {
		return nil
	}
	req := &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}
	if _, err := d.run.Projects.Locations.Services.SetIamPolicy(name, req).Context(ctx).Do(); err != nil {
		return fmt.Errorf("gcp deploy: make service %s public: %w", service, err)
	}
	return nil
}

// addMember adds member to role's unconditional binding; false if present.
func addMember(bindings *[]*run.GoogleIamV1Binding, role, member string) bool {
	for _, b := range *bindings {
		if b.Role == role && b.Condition == nil {
			if slices.Contains(b.Members, member) {
				return false
			}
			b.Members = append(b.Members, member)
			return true
		}
	}
	*bindings = append(*bindings, &run.GoogleIamV1Binding{Role: role, Members: []string{member}})
	return true
}

func (d *Deployer) deleteService(ctx context.Context, service string) error {
	op, err := d.callOp(ctx, func(ctx context.Context) (*run.GoogleLongrunningOperation, error) {
		return d.run.Projects.Locations.Services.Delete(d.serviceName(service)).Context(ctx).Do()
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gcp deploy: delete service %s: %w", service, err)
	}
	return d.waitOp(ctx, op)
}

// callOp makes one call that starts an operation, within CallTimeout.
func (d *Deployer) callOp(ctx context.Context, f func(context.Context) (*run.GoogleLongrunningOperation, error)) (*run.GoogleLongrunningOperation, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	return f(ctx)
}

// ErrOperationTimeout is returned when a long-running operation is not
// done within Config.OperationTimeout; the change may still complete.
var ErrOperationTimeout = errors.New("gcp deploy: operation not done in time")

// waitOp polls op until it is done, for at most OperationTimeout.
func (d *Deployer) waitOp(ctx context.Context, op *run.GoogleLongrunningOperation) error {
	deadline := time.Now().Add(d.cfg.OperationTimeout)
	for !op.Done {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s after %v", ErrOperationTimeout, op.Name, d.cfg.OperationTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gcp deploy: waiting for %s: %w", op.Name, ctx.Err())
		case <-time.After(d.cfg.PollInterval):
		}
		next, err := d.callOp(ctx, func(ctx context.Context) (*run.GoogleLongrunningOperation, error) {
			return d.run.Projects.Locations.Operations.Get(op.Name).Context(ctx).Do()
		})
		if err != nil {
			return fmt.Errorf("gcp deploy: poll %s: %w", op.Name, err)
		}
		op = next
	}
	if op.Error != nil {
		return fmt.Errorf("gcp deploy: operation %s failed: code %d: %s", op.Name, op.Error.Code, op.Error.Message)
	}
	return nil
}

// deploymentOf reads back what the service runs; the secret appears only
// as the version it references.
func deploymentOf(name string, svc *run.GoogleCloudRunV2Service) deployer.Deployment {
	dep := deployer.Deployment{Name: name, URL: svc.Uri}
	c := container(svc)
	if c == nil {
		return dep
	}
	for _, e := range c.Env {
		if e.Name == envPublicURL && e.Value != "" {
			dep.URL = e.Value // the service's own URL (a custom domain, or svc.Uri)
		}
	}
	if _, digest, ok := strings.Cut(c.Image, "@"); ok {
		dep.Version = digest
	}
	for _, e := range c.Env {
		switch {
		case e.Name == envStoreURL:
			dep.StoreURL = e.Value
		case e.Name == envServices:
			dep.Services = e.Value
		case e.Name == envSecret && e.ValueSource != nil && e.ValueSource.SecretKeyRef != nil:
			dep.SecretRef = e.ValueSource.SecretKeyRef.Secret + "/versions/" + e.ValueSource.SecretKeyRef.Version
		}
	}
	return dep
}

func container(svc *run.GoogleCloudRunV2Service) *run.GoogleCloudRunV2Container {
	if svc.Template == nil || len(svc.Template.Containers) == 0 {
		return nil
	}
	return svc.Template.Containers[0]
}

// bucketOf is the bucket named by the service's ACQUIRE_STORE_URL.
func bucketOf(svc *run.GoogleCloudRunV2Service) string {
	b, ok := strings.CutPrefix(deploymentOf("", svc).StoreURL, "gs://")
	if !ok || checkBucket(b) != nil {
		return ""
	}
	return b
}
