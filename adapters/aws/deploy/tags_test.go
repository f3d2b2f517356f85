package deploy_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/openacquire/acquire/adapters/aws/deploy"
	"github.com/openacquire/acquire/adapters/deployer"
)

// TestTagsUpdateInPlace (issue 20): a change of tags reaches the function,
// its role, its secret and its log group in place (changed values set,
// dropped keys removed, acquire-service kept); an unchanged apply tags
// nothing; Tags reads the function's back, so a change out of band shows
// as drift and the next apply puts the spec's back.
func TestTagsUpdateInPlace(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx := context.Background()
	s := e.spec(t)
	s.Function = deployer.Function{LogRetentionDays: 30, Tags: map[string]string{"team": "ledger", "cost-centre": "42"}}
	dep, err := e.d.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]string{
		"function":  "arn:aws:lambda:us-east-1:" + account + ":function:acq-test",
		"role":      "role/acquire-acq-test-fn",
		"secret":    dep.SecretRef,
		"log group": "arn:aws:logs:us-east-1:" + account + ":log-group:/aws/lambda/acq-test",
	}
	check := func(want map[string]string) {
		t.Helper()
		for what, id := range objects {
			if got := e.fake.tagsOf(id); !maps.Equal(got, want) {
				t.Errorf("%s tags %v; want %v", what, got, want)
			}
		}
	}
	check(map[string]string{"team": "ledger", "cost-centre": "42", "acquire-service": "acq-test"})

	e.fake.reset()
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.fake.Calls() {
		switch c.Op {
		case "TagResource", "UntagResource", "iam.TagRole", "iam.UntagRole", "secretsmanager.TagResource", "secretsmanager.UntagResource":
			t.Errorf("an unchanged apply called %s", c.Op)
		}
	}

	s.Function.Tags = map[string]string{"team": "payments", "env": "prod"}
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "payments", "env": "prod", "acquire-service": "acq-test"}
	check(want)
	if got, err := e.d.Tags(ctx, "acq-test"); err != nil || !maps.Equal(got, map[string]string{"team": "payments", "env": "prod"}) {
		t.Errorf("Tags = %v, %v", got, err)
	}

	e.fake.mu.Lock()
	e.fake.tags[objects["function"]]["team"] = "out-of-band"
	e.fake.mu.Unlock()
	if got, _ := e.d.Tags(ctx, "acq-test"); got["team"] != "out-of-band" {
		t.Errorf("Tags does not show drift: %v", got)
	}
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	check(want)
	if err := e.d.Delete(ctx, "acq-test", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Tags(ctx, "acq-test"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Tags after Delete = %v; want ErrNotFound", err)
	}
}
