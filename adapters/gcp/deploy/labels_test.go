package deploy_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"cloud.google.com/go/storage"

	"github.com/openacquire/acquire/adapters/deployer"
)

const (
	logBucketRN = "projects/" + project + "/locations/" + region + "/buckets/acquire-" + svcName
	sinkRN      = "projects/" + project + "/sinks/acquire-" + svcName
	exclusionRN = "projects/" + project + "/exclusions/acquire-" + svcName
)

// TestLabelsFollowTags (issue 20): the bucket, the secret and the service
// carry the tags as labels with acquire-service; a change of tags updates
// each in place (a label dropped from the tags is removed), and Tags
// reads the service's labels back, so a change out of band is drift.
func TestLabelsFollowTags(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const bucket = "acq-test-store-1"
	s := e.spec()
	s.Function.Tags = map[string]string{"team": "ledger", "cost-centre": "cc_42"}
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "ledger", "cost-centre": "cc_42", "acquire-service": svcName}
	checkLabels(t, e, bucket, want)

	s.Function.Tags = map[string]string{"team": "payments", "env": "prod"}
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"team": "payments", "env": "prod", "acquire-service": svcName}
	checkLabels(t, e, bucket, want)
	got, err := e.d.Tags(ctx, svcName)
	if err != nil || !maps.Equal(got, map[string]string{"team": "payments", "env": "prod"}) {
		t.Errorf("Tags = %v, %v", got, err)
	}
	e.cloud.mu.Lock()
	e.cloud.services[resource].Labels["team"] = "changed-out-of-band"
	e.cloud.mu.Unlock()
	if got, _ := e.d.Tags(ctx, svcName); got["team"] != "changed-out-of-band" {
		t.Errorf("Tags does not show drift: %v", got)
	}
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	checkLabels(t, e, bucket, want)
	if err := e.d.Delete(ctx, svcName, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Tags(ctx, svcName); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Tags of a deleted service = %v; want ErrNotFound", err)
	}
}

// TestBucketOfAnotherKeepsItsLabels: a bucket the deployer did not make
// (no acquire-service label of this service) gains the labels but keeps
// its own.
func TestBucketOfAnotherKeepsItsLabels(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const bucket = "acq-test-store-1"
	if err := e.gcs.Bucket(bucket).Create(ctx, project, &storage.BucketAttrs{Labels: map[string]string{"owner": "finance"}}); err != nil {
		t.Fatal(err)
	}
	s := e.spec()
	s.Function.Tags = map[string]string{"team": "ledger"}
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	a, err := e.gcs.Bucket(bucket).Attrs(ctx)
	if err != nil || !maps.Equal(a.Labels, map[string]string{"owner": "finance", "team": "ledger", "acquire-service": svcName}) {
		t.Errorf("bucket labels %v, %v", a.Labels, err)
	}
}

func checkLabels(t *testing.T, e *env, bucket string, want map[string]string) {
	t.Helper()
	a, err := e.gcs.Bucket(bucket).Attrs(context.Background())
	if err != nil || !maps.Equal(a.Labels, want) {
		t.Errorf("bucket labels %v (%v); want %v", a.Labels, err, want)
	}
	if got := e.cloud.secretLabels(secretRN); !maps.Equal(got, want) {
		t.Errorf("secret labels %v; want %v", got, want)
	}
	if got := e.cloud.service(resource).Labels; !maps.Equal(got, want) {
		t.Errorf("service labels %v; want %v", got, want)
	}
}

// TestLogRetention (issue 20): a retention gives the service its own log
// bucket with it, a sink routing exactly its logs there and an exclusion
// keeping them out of _Default; a new retention patches the bucket;
// none removes the routing and keeps the bucket; Delete with data deletes
// the bucket, and a later Create undeletes it.
func TestLogRetention(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	s := e.spec()
	s.Function.LogRetentionDays = 90
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	b, sink, x := e.cloud.logState(logBucketRN, sinkRN, exclusionRN)
	filter := `resource.type="cloud_run_revision" AND resource.labels.service_name="` + svcName + `" AND resource.labels.location="` + region + `"`
	if b == nil || b.RetentionDays != 90 {
		t.Fatalf("log bucket %+v", b)
	}
	if sink == nil || sink.Destination != "logging.googleapis.com/"+logBucketRN || sink.Filter != filter {
		t.Errorf("sink %+v", sink)
	}
	if x == nil || x.Filter != filter {
		t.Errorf("exclusion %+v", x)
	}
	before := len(e.cloud.requests())
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.cloud.requests()[before:] {
		if strings.HasPrefix(r.Path, "/logging/") && r.Method != "GET" {
			t.Errorf("an unchanged retention wrote %s %s", r.Method, r.Path)
		}
	}
	s.Function.LogRetentionDays = 7
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := e.cloud.logState(logBucketRN, sinkRN, exclusionRN); b.RetentionDays != 7 {
		t.Errorf("retention %d after update; want 7", b.RetentionDays)
	}
	s.Function.LogRetentionDays = 0
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	b, sink, x = e.cloud.logState(logBucketRN, sinkRN, exclusionRN)
	if b == nil || sink != nil || x != nil {
		t.Errorf("without a retention: bucket %v (kept), sink %v, exclusion %v (both gone)", b != nil, sink, x)
	}
	s.Function.LogRetentionDays = 30
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Delete(ctx, svcName, true); err != nil {
		t.Fatal(err)
	}
	b, sink, x = e.cloud.logState(logBucketRN, sinkRN, exclusionRN)
	if b.LifecycleState != "DELETE_REQUESTED" || sink != nil || x != nil {
		t.Errorf("after Delete with data: bucket %s, sink %v, exclusion %v", b.LifecycleState, sink, x)
	}
	if err := e.d.Delete(ctx, svcName, true); err != nil {
		t.Errorf("a second Delete with the log bucket already going: %v", err)
	}
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := e.cloud.logState(logBucketRN, sinkRN, exclusionRN); b.LifecycleState != "ACTIVE" || b.RetentionDays != 30 {
		t.Errorf("re-created within 7 days: bucket %s %d days", b.LifecycleState, b.RetentionDays)
	}
}
