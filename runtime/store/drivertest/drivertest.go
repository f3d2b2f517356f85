// Package drivertest is the conformance suite every object store driver must
// pass: memory and local files here, and each cloud driver against a real
// server (S3 on versitygw, GCS on fake-gcs-server, Azure on Azurite). It
// drives the driver through store.Bucket, the way Acquire uses it, so it
// checks the whole contract callers rely on.
package drivertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// Options declares a driver's known gaps. Each non-empty field is the reason
// the backend cannot meet one part of the contract; the subtests it covers
// are skipped with that reason, so a gap is visible in every run instead of
// being hidden by a weaker test.
type Options struct {
	// NoDeletePrecondition: DeleteIfVersion does not refuse a wrong version
	// (fake-gcs-server ignores ifGenerationMatch on delete).
	NoDeletePrecondition string
}

// testTimeout bounds every subtest, so a hung backend fails instead of
// stalling the run.
const testTimeout = 2 * time.Minute

// RunConformance runs the full suite with no declared gaps. newDriver is
// called once per subtest and must return a driver on an empty bucket that
// no other test uses; it may register clean-up with t.Cleanup, and the suite
// closes the driver.
func RunConformance(t *testing.T, newDriver func(t *testing.T) store.Driver) {
	RunConformanceWith(t, Options{}, newDriver)
}

// RunConformanceWith runs the full suite, skipping declared gaps by name.
func RunConformanceWith(t *testing.T, opts Options, newDriver func(t *testing.T) store.Driver) {
	s := &suite{opts: opts, newDriver: newDriver}
	tests := []struct {
		name string
		run  func(*testing.T, *store.Bucket)
	}{
		{"GetMissing", s.testGetMissing},
		{"RoundTrip", s.testRoundTrip},
		{"Open", s.testOpen},
		{"PutCRC32C", s.testPutCRC32C},
		{"PutIfAbsent", s.testPutIfAbsent},
		{"PutIfVersion", s.testPutIfVersion},
		{"Delete", s.testDelete},
		{"DeleteIfVersion", s.testDeleteIfVersion},
		{"VersionsNoABA", s.testVersionsNoABA},
		{"ListOrderAndPaging", s.testListPaging},
		{"ListPrefix", s.testListPrefix},
		{"ListFileAndDir", s.testListFileAndDir},
		{"ListTrickyOrder", s.testListTrickyOrder},
		{"ListInfo", s.testListInfo},
		{"ListPageCost", s.testListPageCost},
		{"ListPageCostLongPrefix", s.testListPageCostLongPrefix},
		{"InvalidKeys", s.testInvalidKeys},
		{"InvalidPrefixes", s.testInvalidPrefixes},
		{"MaxKey", s.testMaxKey},
		{"EncodeName", s.testEncodeName},
		{"TooLarge", s.testTooLarge},
		{"JSON", s.testJSON},
		{"Update", s.testUpdate},
		{"ErrorsNameKeyNotData", s.testErrorsNameKey},
		{"RacePutIfAbsent", s.testRacePutIfAbsent},
		{"RacePutIfVersion", s.testRacePutIfVersion},
		{"RaceUpdate", s.testRaceUpdate},
		{"SignedURL", s.testSignedURL},
		{"Closed", s.testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s.bucket(t)) })
	}
}

type suite struct {
	opts       Options
	newDriver  func(t *testing.T) store.Driver
	driverName string       // for messages; set when the first bucket opens
	driver     store.Driver // the driver of the bucket opened last
}

// bucket opens a fresh bucket for one subtest and closes it afterwards.
func (s *suite) bucket(t *testing.T) *store.Bucket {
	t.Helper()
	d := s.newDriver(t)
	s.driverName = fmt.Sprintf("%T", d)
	s.driver = d
	b := store.NewBucket(d)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// ctx returns a context bounded by testTimeout.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return c
}

// gap skips t with the declared reason when the driver has that gap.
func gap(t *testing.T, field, reason string) {
	t.Helper()
	if reason != "" {
		t.Skipf("declared driver gap %s: %s", field, reason)
	}
}

// key builds distinct test keys, e.g. key("k", 3) = "k/003".
func key(prefix string, i int) string {
	return fmt.Sprintf("%s/%03d", prefix, i)
}
