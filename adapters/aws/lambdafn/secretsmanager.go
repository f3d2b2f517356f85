package lambdafn

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsManager reads secrets from AWS Secrets Manager with the
// function's execution role. Its client is made on first use, so a
// function that never reads a secret never loads the AWS configuration.
type SecretsManager struct {
	once   sync.Once
	client *secretsmanager.Client
	err    error
}

// SecretValue returns the secret's string value. Errors name the ARN and
// the failing call, never the value.
func (s *SecretsManager) SecretValue(ctx context.Context, arn string) (string, error) {
	s.once.Do(func() {
		cfg, err := config.LoadDefaultConfig(ctx)
		s.client, s.err = secretsmanager.NewFromConfig(cfg), err
	})
	if s.err != nil {
		return "", fmt.Errorf("lambdafn: aws configuration: %w", s.err)
	}
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("lambdafn: read secret %s: %w", arn, err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return "", fmt.Errorf("lambdafn: secret %s has no string value", arn)
	}
	return *out.SecretString, nil
}
