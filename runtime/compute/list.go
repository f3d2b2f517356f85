package compute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// Listing a user's jobs: submit writes an empty index entry per job under
// its owner, keyed so that the newest job lists first; list_jobs pages
// through the entries and answers the jobs they name. The entry is written
// before the job's record, so a job never lacks one; an entry whose job
// was never written (submit stopped between the two) is skipped.
const (
	ownersPre = "compute/owners/"
	// newestFirstMs: entries sort by (newestFirstMs - created ms), so the
	// lexical order of the store is newest first, until the year 2286.
	newestFirstMs = 9_999_999_999_999
)

// ownerPrefix is where one user's index entries live.
func ownerPrefix(identityURL, userUID string) string {
	sum := sha256.Sum256([]byte(identityURL + "\n" + userUID))
	return ownersPre + hex.EncodeToString(sum[:16]) + "/"
}

// ownerKey is job j's index entry.
func ownerKey(j *Job) string {
	rank := newestFirstMs - j.Created.UnixMilli()
	return ownerPrefix(j.IdentityURL, j.UserUID) + fmt.Sprintf("%013d", rank) + "-" + j.ID
}

func (c *Compute) handleListJobs(ctx context.Context, args *ListJobsArgs) (*JobList, error) {
	if args.Limit < 0 || args.Limit > MaxListLimit {
		return nil, call.Errorf(call.ErrBadArguments, "limit %d outside [0, %d]", args.Limit, MaxListLimit)
	}
	limit := args.Limit
	if limit == 0 {
		limit = DefaultListLimit
	}
	u, err := c.authoriseUser(ctx, args.Credentials, ListJobsResource(args))
	if err != nil {
		return nil, err
	}
	pg, err := c.b.List(ctx, ownerPrefix(u.IdentityURL, u.UserUID), args.Page, limit)
	if errors.Is(err, store.ErrInvalidArgument) {
		return nil, call.Errorf(call.ErrBadArguments, "bad page token")
	} else if err != nil {
		return nil, err
	}
	out := &JobList{Jobs: []Job{}, Next: pg.Next}
	for _, it := range pg.Items {
		j, _, err := c.job(ctx, jobIDOf(it.Key))
		if errors.Is(err, call.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		out.Jobs = append(out.Jobs, *j)
	}
	return out, nil
}

// jobIDOf is the job an index entry names (job ids have no '-').
func jobIDOf(key string) string { return key[strings.LastIndexByte(key, '-')+1:] }

// indexJob writes job j's index entry.
func (c *Compute) indexJob(ctx context.Context, j *Job) error {
	_, err := c.b.Put(ctx, ownerKey(j), nil)
	return err
}
