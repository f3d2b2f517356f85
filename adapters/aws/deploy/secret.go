package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/openacquire/acquire/adapters/deployer"
)

// ensureSecret stores value in the deployment's secret, creating it,
// or restoring it from a pending deletion, as needed; it returns the ARN.
// Errors from Secrets Manager never carry the value (it travels only in
// the request body).
func (d *Deployer) ensureSecret(ctx context.Context, name, value string, tags map[string]string) (string, error) {
	desc, err := d.c.Secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		out, err := d.c.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         aws.String(name),
			Description:  aws.String("Acquire service secret (deployer-managed)"),
			SecretString: aws.String(value),
			Tags:         secretTags(tags),
		})
		if err != nil {
			return "", fmt.Errorf("deploy: create secret %s: %w", name, err)
		}
		return aws.ToString(out.ARN), nil
	}
	if err != nil {
		return "", fmt.Errorf("deploy: describe secret %s: %w", name, err)
	}
	if desc.DeletedDate != nil {
		if _, err := d.c.Secrets.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: desc.ARN}); err != nil {
			return "", fmt.Errorf("deploy: restore secret %s: %w", name, err)
		}
	}
	if err := d.putSecretIfChanged(ctx, aws.ToString(desc.ARN), value); err != nil {
		return "", err
	}
	if err := d.tagSecret(ctx, aws.ToString(desc.ARN), desc.Tags, tags); err != nil {
		return "", err
	}
	return aws.ToString(desc.ARN), nil
}

// putSecretIfChanged writes a new version only when the value differs, so
// an unchanged Create or Update leaves the secret's versions alone.
func (d *Deployer) putSecretIfChanged(ctx context.Context, arn, value string) error {
	cur, err := d.c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err == nil && aws.ToString(cur.SecretString) == value {
		return nil
	}
	if _, err := d.c.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String(value)}); err != nil {
		return fmt.Errorf("deploy: store secret %s: %w", arn, err)
	}
	return nil
}

// deleteSecret schedules the secret's deletion with a recovery window
// when the data is kept, and deletes it at once with the data.
func (d *Deployer) deleteSecret(ctx context.Context, name string, deleteData bool) error {
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(name)}
	if deleteData {
		in.ForceDeleteWithoutRecovery = aws.Bool(true)
	} else {
		in.RecoveryWindowInDays = aws.Int64(SecretRecoveryDays)
	}
	_, err := d.c.Secrets.DeleteSecret(ctx, in)
	var nf *smtypes.ResourceNotFoundException
	var inv *smtypes.InvalidRequestException
	switch {
	case err == nil || errors.As(err, &nf):
		return nil
	case errors.As(err, &inv) && !deleteData:
		// Already scheduled for deletion: nothing more to do.
		return nil
	default:
		return fmt.Errorf("deploy: delete secret %s: %w", name, err)
	}
}

// Secret reads the deployment's secret back (see deployer.Deployer). The
// value goes only to the caller; errors name the secret, never its value.
func (d *Deployer) Secret(ctx context.Context, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	out, err := d.c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretName(name))})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", deployer.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("deploy: read secret %s: %w", secretName(name), err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return "", fmt.Errorf("deploy: secret %s holds no value", secretName(name))
	}
	return *out.SecretString, nil
}

func secretTags(tags map[string]string) []smtypes.Tag {
	out := make([]smtypes.Tag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, smtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
