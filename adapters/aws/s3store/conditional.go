package s3store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// ErrConditionalWritesIgnored: the S3 server stored a conditional write it
// should have refused. Every exactly-once guarantee of the store rests on
// If-None-Match and If-Match, and a server that drops them turns each
// put-if-absent into a plain put, so the driver refuses to write through
// one. It wraps driver.ErrUnsupported.
var ErrConditionalWritesIgnored = fmt.Errorf("%w: the S3 server ignores conditional writes", driver.ErrUnsupported)

// probeKeyPrefix names the objects the check writes under the driver's
// prefix (one per check, deleted at once; a crash may leave one behind).
const probeKeyPrefix = "acquire-conditional-write-probe-"

// checkedBuckets holds "endpoint\x00bucket" for each bucket whose server
// passed the check in this process: the check runs once per bucket, not
// per driver (a host opens one driver per service on one bucket).
var checkedBuckets sync.Map

// conditional is a driver's state of the check.
type conditional struct {
	mu     sync.Mutex
	ok     bool
	failed error // latched: the server ignored a condition
}

// CheckConditionalWrites makes sure, once per bucket, that the server
// honours the conditions the store relies on: it writes a fresh probe
// object, writes it again with If-None-Match: * and with a wrong If-Match,
// requires both to be refused with 412, and deletes it. OpenURL runs it at
// open; every conditional write runs it first too, so a driver made with
// New fails closed as well. A server that stored a conditioned write is
// ErrConditionalWritesIgnored, for the driver's life; other failures
// (network, credentials, a missing bucket) are returned as they are and
// the check runs again next time.
func (d *Driver) CheckConditionalWrites(ctx context.Context) error {
	d.cond.mu.Lock()
	defer d.cond.mu.Unlock()
	if d.cond.ok {
		return nil
	}
	if d.cond.failed != nil {
		return d.cond.failed
	}
	id := d.endpoint + "\x00" + d.bucket
	if _, ok := checkedBuckets.Load(id); ok {
		d.cond.ok = true
		return nil
	}
	err := d.probeConditional(ctx)
	switch {
	case errors.Is(err, ErrConditionalWritesIgnored):
		d.cond.failed = err
	case err == nil:
		checkedBuckets.Store(id, true)
		d.cond.ok = true
	}
	return err
}

func (d *Driver) probeConditional(ctx context.Context) (err error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	key := aws.String(d.prefix + probeKeyPrefix + hex.EncodeToString(nonce))
	put := func(cond func(*s3.PutObjectInput)) error {
		return retryConflict(ctx, func() error {
			in := &s3.PutObjectInput{Bucket: &d.bucket, Key: key, Body: strings.NewReader("probe"), ContentLength: aws.Int64(5)}
			if cond != nil {
				cond(in)
			}
			_, err := d.client.PutObject(ctx, in)
			return err
		})
	}
	if err := put(func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); err != nil {
		return fmt.Errorf("s3store: checking conditional writes on bucket %s: %w", d.bucket, err)
	}
	defer func() {
		_, derr := d.client.DeleteObject(context.WithoutCancel(ctx), &s3.DeleteObjectInput{Bucket: &d.bucket, Key: key})
		if err == nil && derr != nil {
			err = fmt.Errorf("s3store: deleting the conditional-write probe: %w", classify(ctx, derr))
		}
	}()
	for _, c := range []struct {
		header string
		cond   func(*s3.PutObjectInput)
	}{
		{"If-None-Match: * over an existing object", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }},
		{"If-Match with another ETag", func(in *s3.PutObjectInput) { in.IfMatch = aws.String(`"00000000000000000000000000000000"`) }},
	} {
		err := put(c.cond)
		if err == nil {
			return fmt.Errorf("%w: bucket %s stored a write sent with %s instead of answering 412 Precondition Failed, "+
				"so put-if-absent would silently overwrite and exactly-once writes cannot be kept; "+
				"use a server that honours conditional writes (AWS S3, versitygw)", ErrConditionalWritesIgnored, d.bucket, c.header)
		}
		if !errors.Is(err, driver.ErrPrecondition) {
			return fmt.Errorf("s3store: checking conditional writes on bucket %s: %w", d.bucket, err)
		}
	}
	return nil
}
