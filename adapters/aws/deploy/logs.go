package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/openacquire/acquire/adapters/deployer"
)

// RetentionDays are the values CloudWatch Logs accepts for a log group's
// retention.
var RetentionDays = []int64{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// MaxTags is the most tags a Lambda function (and an IAM role) takes.
const MaxTags = 50

// checkFunction checks the typed function settings Lambda-side: retention
// one of RetentionDays, reserved concurrency 1..1000, tags by AWS's rules
// (keys 1-128, values 0-256, no "aws:" prefix, at most MaxTags).
func checkFunction(f deployer.Function) error {
	if f.LogRetentionDays != 0 && !slices.Contains(RetentionDays, f.LogRetentionDays) {
		return bad("Function.LogRetentionDays", "must be one of CloudWatch's values (1, 3, 5, 7, 14, 30, ... 3653)")
	}
	if f.MaxInstances < 0 || f.MaxInstances > 1000 {
		return bad("Function.MaxInstances", "must be from 1 to 1000 (reserved concurrency)")
	}
	if len(f.Tags)+1 > MaxTags {
		return bad("Function.Tags", "at most %d (one is the deployer's)", MaxTags-1)
	}
	for k, v := range f.Tags {
		if k == "" || len(k) > 128 || len(v) > 256 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return bad("Function.Tags", "keys are 1-128 bytes, not starting with aws:, values at most 256")
		}
	}
	return nil
}

// tagsOf are the tags every object of a deployment carries: the caller's
// and acquire-service (which the sweeper of make testacc-live looks for).
func tagsOf(name string, f deployer.Function) map[string]string {
	t := maps.Clone(f.Tags)
	if t == nil {
		t = map[string]string{}
	}
	t[TagService] = name
	return t
}

// TagService names the deployment on every object the deployer makes.
const TagService = "acquire-service"

// logGroup is where Lambda writes the function's logs.
func logGroup(name string) string { return "/aws/lambda/" + name }

// ensureLogs creates the function's log group (Lambda would create it on
// first write, keeping logs forever) with the deployment's tags and sets
// its retention. Without a retention the group is left as it is.
// An existing group's tags are brought to the spec's; anyARN is an ARN of
// the deployment, for the account.
func (d *Deployer) ensureLogs(ctx context.Context, p plan, anyARN string) error {
	if p.retentionDays == 0 {
		return nil
	}
	_, err := d.c.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(logGroup(p.name)), Tags: p.tags})
	var exists *logtypes.ResourceAlreadyExistsException
	switch {
	case errors.As(err, &exists):
		if err := d.tagLogGroup(ctx, d.logGroupARN(p.name, anyARN), p.tags); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("deploy: log group %s: %w", logGroup(p.name), err)
	}
	_, err = d.c.Logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
		LogGroupName: aws.String(logGroup(p.name)), RetentionInDays: aws.Int32(int32(p.retentionDays))})
	if err != nil {
		return fmt.Errorf("deploy: log group %s retention: %w", logGroup(p.name), err)
	}
	return nil
}

// ensureConcurrency reserves max_instances of the account's concurrency
// for the function (a ceiling on its instances, and a floor no other
// function can take); unset leaves the function on the shared pool.
func (d *Deployer) ensureConcurrency(ctx context.Context, p plan) error {
	if p.maxInstances == 0 {
		return nil
	}
	_, err := d.c.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(p.name), ReservedConcurrentExecutions: aws.Int32(int32(p.maxInstances))})
	if err != nil {
		return fmt.Errorf("deploy: function %s concurrency: %w", p.name, err)
	}
	return nil
}
