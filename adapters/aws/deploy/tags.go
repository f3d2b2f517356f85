package deploy

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Tags are set when an object is made and brought to the spec on every
// apply after: a change of tags (the provider's default_tags or the
// service's own) updates the function, its role, its secret and its log
// group in place. Every object is the deployer's own, so a tag the spec no
// longer has is removed, except AWS's own (aws:...), which no caller may
// change.

// tagDiff is what to set and what to remove to turn have into want.
func tagDiff(have, want map[string]string) (set map[string]string, remove []string) {
	set = map[string]string{}
	for k, v := range want {
		if cur, ok := have[k]; !ok || cur != v {
			set[k] = v
		}
	}
	for _, k := range sortedKeys(have) {
		if _, ok := want[k]; !ok && !strings.HasPrefix(strings.ToLower(k), "aws:") {
			remove = append(remove, k)
		}
	}
	return set, remove
}

func (d *Deployer) tagFunction(ctx context.Context, arn string, have, want map[string]string) error {
	set, remove := tagDiff(have, want)
	if len(set) > 0 {
		if _, err := d.c.Lambda.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(arn), Tags: set}); err != nil {
			return fmt.Errorf("deploy: tag function %s: %w", arn, err)
		}
	}
	if len(remove) > 0 {
		if _, err := d.c.Lambda.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(arn), TagKeys: remove}); err != nil {
			return fmt.Errorf("deploy: untag function %s: %w", arn, err)
		}
	}
	return nil
}

func (d *Deployer) tagRole(ctx context.Context, name string, have []iamtypes.Tag, want map[string]string) error {
	cur := map[string]string{}
	for _, t := range have {
		cur[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	set, remove := tagDiff(cur, want)
	if len(set) > 0 {
		if _, err := d.c.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(name), Tags: roleTags(set)}); err != nil {
			return fmt.Errorf("deploy: tag role %s: %w", name, err)
		}
	}
	if len(remove) > 0 {
		if _, err := d.c.IAM.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(name), TagKeys: remove}); err != nil {
			return fmt.Errorf("deploy: untag role %s: %w", name, err)
		}
	}
	return nil
}

func (d *Deployer) tagSecret(ctx context.Context, arn string, have []smtypes.Tag, want map[string]string) error {
	cur := map[string]string{}
	for _, t := range have {
		cur[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	set, remove := tagDiff(cur, want)
	if len(set) > 0 {
		if _, err := d.c.Secrets.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: secretTags(set)}); err != nil {
			return fmt.Errorf("deploy: tag secret %s: %w", arn, err)
		}
	}
	if len(remove) > 0 {
		if _, err := d.c.Secrets.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String(arn), TagKeys: remove}); err != nil {
			return fmt.Errorf("deploy: untag secret %s: %w", arn, err)
		}
	}
	return nil
}

// tagLogGroup brings an existing log group's tags to want (by its ARN,
// through the tagging calls that replaced TagLogGroup).
func (d *Deployer) tagLogGroup(ctx context.Context, arn string, want map[string]string) error {
	out, err := d.c.Logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("deploy: log group tags: %w", err)
	}
	set, remove := tagDiff(out.Tags, want)
	if len(set) > 0 {
		if _, err := d.c.Logs.TagResource(ctx, &cloudwatchlogs.TagResourceInput{ResourceArn: aws.String(arn), Tags: set}); err != nil {
			return fmt.Errorf("deploy: tag log group: %w", err)
		}
	}
	if len(remove) > 0 {
		if _, err := d.c.Logs.UntagResource(ctx, &cloudwatchlogs.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: remove}); err != nil {
			return fmt.Errorf("deploy: untag log group: %w", err)
		}
	}
	return nil
}

// logGroupARN is the log group's ARN in the account an ARN of the
// deployment names.
func (d *Deployer) logGroupARN(name, anyARN string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", d.region, accountOf(anyARN), logGroup(name))
}

// Tags reads the function's tags back, acquire-service left out
// (deployer.TagReader): a tag changed out of band is drift.
func (d *Deployer) Tags(ctx context.Context, name string) (map[string]string, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fn, err := d.getFunction(ctx, name)
	if err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, deployer.ErrNotFound
	}
	out := maps.Clone(fn.Tags)
	if out == nil {
		out = map[string]string{}
	}
	delete(out, TagService)
	return out, nil
}
