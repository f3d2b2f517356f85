package deploy

import (
	"context"
	"fmt"

	logging "google.golang.org/api/logging/v2"
)

// Log retention. Cloud Run writes a service's logs to the project's
// _Default log bucket, whose retention (30 days unless changed) is the
// project's, not the service's. A service with Function.LogRetentionDays
// therefore gets its own log bucket (acquire-<name>, in the service's
// region, with that retention), a sink routing the service's logs to it,
// and an exclusion on the _Default sink for the same logs, so they are
// kept for the retention asked, neither longer nor shorter. Log buckets,
// sinks and exclusions take no labels: they are named after the service.
//
// Without a retention the sink and the exclusion are removed (the logs go
// back to _Default); the log bucket is kept, so the logs already in it
// expire by its own retention. Delete removes the sink and the exclusion,
// and the log bucket only with the data (a deleted log bucket waits 7
// days before it is gone; a re-create within them undeletes it).

// MaxLogRetentionDays is the longest retention a user log bucket takes.
const MaxLogRetentionDays = 3650

// logID names a service's log bucket, sink and exclusion.
func logID(service string) string { return "acquire-" + service }

func (d *Deployer) logBucketName(service string) string {
	return d.parent() + "/buckets/" + logID(service)
}

// logFilter selects the service's Cloud Run logs.
func (d *Deployer) logFilter(service string) string {
	return fmt.Sprintf(`resource.type="cloud_run_revision" AND resource.labels.service_name=%q AND resource.labels.location=%q`,
		service, d.cfg.Region)
}

// ensureLogs routes the service's logs to its own bucket with the
// retention asked, or back to _Default without one.
func (d *Deployer) ensureLogs(ctx context.Context, service string, retentionDays int64) error {
	if retentionDays == 0 {
		return d.unrouteLogs(ctx, service)
	}
	if err := d.ensureLogBucket(ctx, service, retentionDays); err != nil {
		return err
	}
	if err := d.ensureSink(ctx, service); err != nil {
		return err
	}
	return d.ensureExclusion(ctx, service)
}

func (d *Deployer) ensureLogBucket(ctx context.Context, service string, days int64) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	name := d.logBucketName(service)
	b, err := d.logging.Projects.Locations.Buckets.Get(name).Context(ctx).Do()
	if isNotFound(err) {
		want := &logging.LogBucket{RetentionDays: days, Description: "Acquire service " + service + " (deployer-managed)"}
		_, err = d.logging.Projects.Locations.Buckets.Create(d.parent(), want).BucketId(logID(service)).Context(ctx).Do()
		if err != nil && !isConflict(err) {
			return fmt.Errorf("gcp deploy: create log bucket %s: %w", logID(service), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("gcp deploy: log bucket %s: %w", logID(service), err)
	}
	if b.LifecycleState == "DELETE_REQUESTED" {
		if _, err := d.logging.Projects.Locations.Buckets.Undelete(name, &logging.UndeleteBucketRequest{}).Context(ctx).Do(); err != nil {
			return fmt.Errorf("gcp deploy: undelete log bucket %s: %w", logID(service), err)
		}
	}
	if b.RetentionDays == days {
		return nil
	}
	if b.Locked {
		return fmt.Errorf("gcp deploy: log bucket %s is locked at %d days' retention; it cannot become %d", logID(service), b.RetentionDays, days)
	}
	_, err = d.logging.Projects.Locations.Buckets.Patch(name, &logging.LogBucket{RetentionDays: days}).UpdateMask("retentionDays").Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("gcp deploy: log bucket %s retention: %w", logID(service), err)
	}
	return nil
}

func (d *Deployer) ensureSink(ctx context.Context, service string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	name := "projects/" + d.cfg.Project + "/sinks/" + logID(service)
	want := &logging.LogSink{Name: logID(service), Destination: "logging.googleapis.com/" + d.logBucketName(service),
		Filter: d.logFilter(service), Description: "Acquire service " + service + " (deployer-managed)"}
	got, err := d.logging.Projects.Sinks.Get(name).Context(ctx).Do()
	switch {
	case isNotFound(err):
		_, err = d.logging.Projects.Sinks.Create("projects/"+d.cfg.Project, want).Context(ctx).Do()
		if err != nil && !isConflict(err) {
			return fmt.Errorf("gcp deploy: create log sink %s: %w", logID(service), err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("gcp deploy: log sink %s: %w", logID(service), err)
	case got.Destination == want.Destination && got.Filter == want.Filter && !got.Disabled:
		return nil
	}
	_, err = d.logging.Projects.Sinks.Update(name, want).UpdateMask("destination,filter,disabled").Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("gcp deploy: update log sink %s: %w", logID(service), err)
	}
	return nil
}

// ensureExclusion keeps the service's logs out of the _Default bucket
// (project exclusions apply to the _Default sink).
func (d *Deployer) ensureExclusion(ctx context.Context, service string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	name := "projects/" + d.cfg.Project + "/exclusions/" + logID(service)
	want := &logging.LogExclusion{Name: logID(service), Filter: d.logFilter(service),
		Description: "Acquire service " + service + ": its logs go to its own log bucket (deployer-managed)"}
	got, err := d.logging.Projects.Exclusions.Get(name).Context(ctx).Do()
	switch {
	case isNotFound(err):
		_, err = d.logging.Projects.Exclusions.Create("projects/"+d.cfg.Project, want).Context(ctx).Do()
		if err != nil && !isConflict(err) {
			return fmt.Errorf("gcp deploy: create log exclusion %s: %w", logID(service), err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("gcp deploy: log exclusion %s: %w", logID(service), err)
	case got.Filter == want.Filter && !got.Disabled:
		return nil
	}
	_, err = d.logging.Projects.Exclusions.Patch(name, want).UpdateMask("filter,disabled").Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("gcp deploy: update log exclusion %s: %w", logID(service), err)
	}
	return nil
}

// unrouteLogs removes the sink and the exclusion; gone is fine.
func (d *Deployer) unrouteLogs(ctx context.Context, service string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	_, err := d.logging.Projects.Sinks.Delete("projects/" + d.cfg.Project + "/sinks/" + logID(service)).Context(ctx).Do()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp deploy: delete log sink %s: %w", logID(service), err)
	}
	_, err = d.logging.Projects.Exclusions.Delete("projects/" + d.cfg.Project + "/exclusions/" + logID(service)).Context(ctx).Do()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp deploy: delete log exclusion %s: %w", logID(service), err)
	}
	return nil
}

// deleteLogs removes the routing and, with the data, the log bucket.
func (d *Deployer) deleteLogs(ctx context.Context, service string, deleteData bool) error {
	if err := d.unrouteLogs(ctx, service); err != nil || !deleteData {
		return err
	}
	ctx, cancel := d.call(ctx)
	defer cancel()
	b, err := d.logging.Projects.Locations.Buckets.Get(d.logBucketName(service)).Context(ctx).Do()
	if isNotFound(err) || err == nil && b.LifecycleState == "DELETE_REQUESTED" {
		return nil // gone, or already going
	}
	if err != nil {
		return fmt.Errorf("gcp deploy: log bucket %s: %w", logID(service), err)
	}
	_, err = d.logging.Projects.Locations.Buckets.Delete(d.logBucketName(service)).Context(ctx).Do()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("gcp deploy: delete log bucket %s: %w", logID(service), err)
	}
	return nil
}
