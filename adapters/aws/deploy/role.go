package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// trustPolicy lets Lambda, and only Lambda, assume the execution role.
const trustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

type policyDoc struct {
	Version   string
	Statement []statement
}

type statement struct {
	Effect   string
	Action   []string
	Resource []string
}

// accessPolicy is the role's only permission: its bucket, its secret, its
// log group.
func accessPolicy(region, account, bucket, fn, secretARN string) (string, error) {
	logGroup := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:/aws/lambda/%s", region, account, fn)
	doc := policyDoc{Version: "2012-10-17", Statement: []statement{
		{Effect: "Allow", Action: []string{"s3:ListBucket", "s3:GetBucketLocation"}, Resource: []string{"arn:aws:s3:::" + bucket}},
		{Effect: "Allow", Action: []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, Resource: []string{"arn:aws:s3:::" + bucket + "/*"}},
		{Effect: "Allow", Action: []string{"secretsmanager:GetSecretValue"}, Resource: []string{secretARN}},
		{Effect: "Allow", Action: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, Resource: []string{logGroup, logGroup + ":*"}},
	}}
	b, err := json.Marshal(doc)
	return string(b), err
}

// ensureRole creates the execution role unless it exists and (re)writes
// its inline policy, which is idempotent; it returns the role's ARN.
func (d *Deployer) ensureRole(ctx context.Context, p plan, secretARN string) (string, error) {
	arn, err := d.getOrCreateRole(ctx, p.roleName, p.tags)
	if err != nil {
		return "", err
	}
	policy, err := accessPolicy(d.region, accountOf(arn), p.bucket, p.name, secretARN)
	if err != nil {
		return "", fmt.Errorf("deploy: role policy: %w", err)
	}
	_, err = d.c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(p.roleName), PolicyName: aws.String(rolePolicyName), PolicyDocument: aws.String(policy),
	})
	if err != nil {
		return "", fmt.Errorf("deploy: role %s policy: %w", p.roleName, err)
	}
	return arn, nil
}

func (d *Deployer) getOrCreateRole(ctx context.Context, name string, tags map[string]string) (string, error) {
	got, err := d.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err == nil {
		return aws.ToString(got.Role.Arn), d.tagRole(ctx, name, got.Role.Tags, tags)
	}
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		return "", fmt.Errorf("deploy: role %s: %w", name, err)
	}
	out, err := d.c.IAM.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		AssumeRolePolicyDocument: aws.String(trustPolicy),
		Description:              aws.String("Acquire function execution role (deployer-managed)"),
		Tags:                     roleTags(tags),
	})
	var exists *iamtypes.EntityAlreadyExistsException
	if errors.As(err, &exists) {
		// A concurrent Create made it between our calls.
		got, err := d.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			return "", fmt.Errorf("deploy: role %s: %w", name, err)
		}
		return aws.ToString(got.Role.Arn), nil
	}
	if err != nil {
		return "", fmt.Errorf("deploy: create role %s: %w", name, err)
	}
	return aws.ToString(out.Role.Arn), nil
}

// accountOf reads the account id out of an IAM ARN
// (arn:aws:iam::ACCOUNT:role/NAME), saving an STS call.
func accountOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 5 || parts[4] == "" {
		return "*"
	}
	return parts[4]
}

// deleteRole removes the inline policy, then the role (IAM refuses to
// delete a role that still has policies). Parts already gone are fine.
func (d *Deployer) deleteRole(ctx context.Context, name string) error {
	var nse *iamtypes.NoSuchEntityException
	_, err := d.c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(rolePolicyName)})
	if err != nil && !errors.As(err, &nse) {
		return fmt.Errorf("deploy: delete role %s policy: %w", name, err)
	}
	_, err = d.c.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)})
	if err != nil && !errors.As(err, &nse) {
		return fmt.Errorf("deploy: delete role %s: %w", name, err)
	}
	return nil
}

func roleTags(tags map[string]string) []iamtypes.Tag {
	out := make([]iamtypes.Tag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}
