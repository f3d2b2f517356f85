package deploy

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"google.golang.org/api/googleapi"
	secretmanager "google.golang.org/api/secretmanager/v1"

	"github.com/openacquire/acquire/adapters/deployer"
)

const secretAccessorRole = "roles/secretmanager.secretAccessor"

// secretID is the Secret Manager id of a service's secret.
func secretID(service string) string { return service + "-service-secret" }

func (d *Deployer) secretName(service string) string {
	return "projects/" + d.cfg.Project + "/secrets/" + secretID(service)
}

// ensureSecret makes the secret exist with value as its latest version and
// lets account read it. It returns that version's resource name, which the
// service pins (never "latest": a new value must come with a new revision).
// A value equal to the latest version's adds no version, so a repeated
// Create or Update does not pile up versions.
func (d *Deployer) ensureSecret(ctx context.Context, service, value, account string, labels map[string]string) (string, error) {
	created, err := d.createSecret(ctx, service, labels)
	if err != nil {
		return "", err
	}
	if !created {
		if err := d.labelSecret(ctx, service, labels); err != nil {
			return "", err
		}
	}
	version, same, err := d.latestMatches(ctx, service, value)
	if err != nil {
		return "", err
	}
	if !same {
		if version, err = d.addVersion(ctx, service, value); err != nil {
			return "", err
		}
	}
	return version, d.grantSecretAccess(ctx, service, account)
}

// createSecret makes the secret, labelled; false when it existed.
func (d *Deployer) createSecret(ctx context.Context, service string, labels map[string]string) (bool, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	secret := &secretmanager.Secret{
		// Replicated only in the service's region: the secret stays where
		// the service and its data are.
		Replication: &secretmanager.Replication{UserManaged: &secretmanager.UserManaged{
			Replicas: []*secretmanager.Replica{{Location: d.cfg.Region}},
		}},
		Labels: labels,
	}
	_, err := d.secrets.Projects.Secrets.Create("projects/"+d.cfg.Project, secret).
		SecretId(secretID(service)).Context(ctx).Do()
	if isConflict(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("gcp deploy: create secret %s: %w", secretID(service), err)
	}
	return true, nil
}

// latestMatches compares the latest enabled version with value in constant
// time; the value read is dropped at once and never reported.
func (d *Deployer) latestMatches(ctx context.Context, service, value string) (string, bool, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.secrets.Projects.Secrets.Versions.Access(d.secretName(service) + "/versions/latest").Context(ctx).Do()
	var ge *googleapi.Error
	// 404: no version yet; 400 FAILED_PRECONDITION: latest is disabled.
	if errors.As(err, &ge) && (ge.Code == http.StatusNotFound || ge.Code == http.StatusBadRequest) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("gcp deploy: read secret %s: %w", secretID(service), errors.New(statusOnly(err)))
	}
	if resp.Payload == nil {
		return "", false, nil
	}
	got, err := base64.StdEncoding.DecodeString(resp.Payload.Data)
	if err != nil {
		return "", false, nil
	}
	return resp.Name, subtle.ConstantTimeCompare(got, []byte(value)) == 1, nil
}

func (d *Deployer) addVersion(ctx context.Context, service, value string) (string, error) {
	ctx, cancel := d.call(ctx)
	defer cancel()
	req := &secretmanager.AddSecretVersionRequest{Payload: &secretmanager.SecretPayload{
		Data: base64.StdEncoding.EncodeToString([]byte(value)),
	}}
	v, err := d.secrets.Projects.Secrets.AddVersion(d.secretName(service), req).Context(ctx).Do()
	if err != nil {
		return "", fmt.Errorf("gcp deploy: add secret version to %s: %w", secretID(service), errors.New(statusOnly(err)))
	}
	return v.Name, nil
}

// grantSecretAccess adds account as a secretAccessor of the secret, by a
// read-modify-write guarded by the policy's etag.
func (d *Deployer) grantSecretAccess(ctx context.Context, service, account string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	name := d.secretName(service)
	pol, err := d.secrets.Projects.Secrets.GetIamPolicy(name).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("gcp deploy: secret policy: %w", err)
	}
	member := "serviceAccount:" + account
	for _, b := range pol.Bindings {
		if b.Role == secretAccessorRole && b.Condition == nil {
			if slices.Contains(b.Members, member) {
				return nil
			}
			b.Members = append(b.Members, member)
			return d.setSecretPolicy(ctx, name, pol)
		}
	}
	pol.Bindings = append(pol.Bindings, &secretmanager.Binding{Role: secretAccessorRole, Members: []string{member}})
	return d.setSecretPolicy(ctx, name, pol)
}

func (d *Deployer) setSecretPolicy(ctx context.Context, name string, pol *secretmanager.Policy) error {
	req := &secretmanager.SetIamPolicyRequest{Policy: pol}
	if _, err := d.secrets.Projects.Secrets.SetIamPolicy(name, req).Context(ctx).Do(); err != nil {
		return fmt.Errorf("gcp deploy: set secret policy: %w", err)
	}
	return nil
}

func (d *Deployer) deleteSecret(ctx context.Context, service string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.secrets.Projects.Secrets.Delete(d.secretName(service)).Context(ctx).Do()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp deploy: delete secret %s: %w", secretID(service), err)
	}
	return nil
}

// statusOnly keeps an API error's status and drops its body, which for the
// calls that carry the secret could echo part of the request.
func statusOnly(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return fmt.Sprintf("status %d", ge.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "transport error"
}

// Secret reads the latest version of the deployment's secret back (see
// deployer.Deployer). Errors carry the status only, never the value.
func (d *Deployer) Secret(ctx context.Context, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	resp, err := d.secrets.Projects.Secrets.Versions.Access(d.secretName(name) + "/versions/latest").Context(ctx).Do()
	if isNotFound(err) {
		return "", deployer.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("gcp deploy: read secret %s: %w", secretID(name), errors.New(statusOnly(err)))
	}
	if resp.Payload == nil {
		return "", fmt.Errorf("gcp deploy: secret %s holds no value", secretID(name))
	}
	v, err := base64.StdEncoding.DecodeString(resp.Payload.Data)
	if err != nil || len(v) == 0 {
		return "", fmt.Errorf("gcp deploy: secret %s holds no readable value", secretID(name))
	}
	return string(v), nil
}
