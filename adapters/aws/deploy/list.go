package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// List names the deployments whose function name starts with prefix, for
// sweepers of live test accounts (make testacc-live).
func (d *Deployer) List(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	p := lambda.NewListFunctionsPaginator(d.c.Lambda, &lambda.ListFunctionsInput{MaxItems: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("deploy: list functions: %w", err)
		}
		for _, f := range page.Functions {
			if n := aws.ToString(f.FunctionName); strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
	}
	return names, nil
}
