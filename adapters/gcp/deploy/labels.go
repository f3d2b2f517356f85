package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"

	"cloud.google.com/go/storage"
	secretmanager "google.golang.org/api/secretmanager/v1"
)

// GCP labels are stricter than AWS tags: keys 1-63 of lowercase letters,
// digits, '_' and '-', starting with a letter; values 0-63 of the same;
// at most 64 on one resource. Tags are checked, not rewritten: a mapping
// (lowercasing, replacing characters) could send two tags to one label
// and would show a label the configuration does not hold. (GCP also
// allows international lowercase letters; they are refused here, so one
// rule holds everywhere.)
const (
	MaxLabels     = 64
	maxLabelBytes = 63
	// LabelService names the deployment on every object the deployer makes.
	LabelService = "acquire-service"
)

var (
	labelKeyRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

// ErrLabel is matched by every label refused by CheckLabel.
var ErrLabel = errors.New("not a GCP label")

// CheckLabel checks one tag as a GCP label, by the rule the deployer
// applies (the provider calls it at plan).
func CheckLabel(key, value string) error {
	if !labelKeyRE.MatchString(key) {
		return fmt.Errorf("%w: key %q: keys are 1-%d of a-z, 0-9, '_' and '-', starting with a lowercase letter", ErrLabel, key, maxLabelBytes)
	}
	if !labelValueRE.MatchString(value) {
		return fmt.Errorf("%w: value of %q: values are at most %d of a-z, 0-9, '_' and '-'", ErrLabel, key, maxLabelBytes)
	}
	return nil
}

func checkLabels(tags map[string]string) error {
	if len(tags)+1 > MaxLabels {
		return &SpecError{Field: "Function.Tags", Reason: fmt.Sprintf("at most %d (one is the deployer's)", MaxLabels-1)}
	}
	for _, k := range sortedKeys(tags) {
		if err := CheckLabel(k, tags[k]); err != nil {
			return &SpecError{Field: "Function.Tags", Reason: err.Error()}
		}
	}
	return nil
}

// labels are the caller's tags (checked by checkLabels) under the
// deployer's own acquire-service label.
func labels(p parsed) map[string]string {
	l := maps.Clone(p.Function.Tags)
	if l == nil {
		l = map[string]string{}
	}
	l[LabelService] = p.Name
	return l
}

// labelBucket makes an existing bucket's labels those wanted. Labels that
// are not wanted are removed only from a bucket this service owns (its
// acquire-service label names it): a bucket made by someone else keeps
// its own labels.
func (d *Deployer) labelBucket(ctx context.Context, b *storage.BucketHandle, have, want map[string]string) error {
	if maps.Equal(have, want) {
		return nil
	}
	var u storage.BucketAttrsToUpdate
	for k, v := range want {
		if have[k] != v {
			u.SetLabel(k, v)
		}
	}
	if have[LabelService] == want[LabelService] {
		for k := range have {
			if _, ok := want[k]; !ok {
				u.DeleteLabel(k)
			}
		}
	}
	if _, err := b.Update(ctx, u); err != nil {
		return fmt.Errorf("gcp deploy: label bucket: %w", err)
	}
	return nil
}

// labelSecret makes the secret's labels exactly those wanted (the secret
// is the deployer's alone).
func (d *Deployer) labelSecret(ctx context.Context, service string, want map[string]string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	got, err := d.secrets.Projects.Secrets.Get(d.secretName(service)).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("gcp deploy: secret %s: %w", secretID(service), err)
	}
	if maps.Equal(got.Labels, want) {
		return nil
	}
	_, err = d.secrets.Projects.Secrets.Patch(d.secretName(service), &secretmanager.Secret{Labels: want, ForceSendFields: []string{"Labels"}}).
		UpdateMask("labels").Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("gcp deploy: label secret %s: %w", secretID(service), err)
	}
	return nil
}

// Tags reads the service's labels back, the deployer's own left out
// (deployer.TagReader): a label changed out of band is drift.
func (d *Deployer) Tags(ctx context.Context, name string) (map[string]string, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	svc, err := d.getService(ctx, name)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	delete(out, LabelService)
	return out, nil
}
