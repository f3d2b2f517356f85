package storage

import (
	"context"
	"errors"
	"strings"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// MaxPurgeNames bounds the file names one purge_drive call removes, so a
// call stays well inside a cloud function's time limit; the caller calls
// again until Done.
const MaxPurgeNames = 50

// MaxPurgeVersions bounds the versions one purge_drive call removes, for
// the same reason: one name may have any number of versions.
const MaxPurgeVersions = 2000

// purgeDriveBudget is MaxPurgeVersions, a variable so a test can make it small.
var purgeDriveBudget int64 = MaxPurgeVersions

// PurgeResult answers purge_drive: what this call removed, and whether
// the drive now holds no file at all.
type PurgeResult struct {
	Drive    string `json:"drive"`
	Names    int    `json:"names"`    // names whose every version this call removed
	Versions int64  `json:"versions"` // versions this call removed
	Bytes    int64  `json:"bytes"`    // bytes those versions held
	Done     bool   `json:"done"`
}

// purge_drive removes every version of up to MaxPurgeNames file names of
// one drive (owners), deleted names whose versions are kept included, as
// 'acquire file rm --purge' does one name at a time. Names are found from
// the versions themselves, not the heads, so a version whose head update
// was lost goes too. Sub-drives are not touched.
func (s *Storage) handlePurgeDrive(ctx context.Context, a *DriveArgs) (*PurgeResult, error) {
	p, err := s.authorise(ctx, a.Credentials, PurgeDriveResource(a.Drive))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleOwner)
	if err != nil {
		return nil, err
	}
	out := &PurgeResult{Drive: d.Name}
	budget := purgeDriveBudget
	for out.Names < MaxPurgeNames && budget > 0 {
		name, ok, err := s.firstName(ctx, d)
		if err != nil {
			return nil, err
		}
		if !ok {
			// No versions left: heads still here are a purge's cut short
			// between its last version and the head.
			out.Done = true
			return out, s.deletePrefix(ctx, headsPrefix(d.ID))
		}
		r, err := s.purge(ctx, d, name, budget)
		if err != nil {
			return nil, err
		}
		budget -= r.versions
		out.Bytes += r.bytes
		out.Versions += r.versions
		if r.done {
			out.Names++
		}
	}
	return out, nil
}

// firstName is the first file name that has a version in the drive.
func (s *Storage) firstName(ctx context.Context, d *Drive) (string, bool, error) {
	pre := driveVersionsPrefix(d.ID)
	page, err := s.b.List(ctx, pre, "", 1)
	if err != nil || len(page.Items) == 0 {
		return "", false, err
	}
	enc, _, ok := strings.Cut(strings.TrimPrefix(page.Items[0].Key, pre), "/")
	name, err := store.DecodeName(enc)
	if !ok || err != nil {
		return "", false, errors.New("storage: unreadable version key " + page.Items[0].Key)
	}
	return name, true, nil
}

// PurgeDrive removes every version of up to MaxPurgeNames file names of a
// drive (owners); call it again until the answer is Done.
func (c *Client) PurgeDrive(ctx context.Context, s auth.Signer, drive string) (*PurgeResult, error) {
	var out PurgeResult
	return &out, c.driveCall(ctx, s, "purge_drive", PurgeDriveResource(drive), drive, &out, true)
}

// TreeDeleted answers DeleteDriveTree: the drives deleted, deepest first,
// and what their files held.
type TreeDeleted struct {
	Drives []string `json:"drives"`
	Names  int      `json:"names"`
	Bytes  int64    `json:"bytes"`
}

// DeleteDriveTree deletes a drive with every file and every sub-drive
// (owners of each): the sub-drives are found first, then each drive,
// deepest first, is purged and deleted. progress, if given, is told after
// each purge call and each deleted drive. It is not atomic: a tree cut
// short (or refused part way, say because someone wrote into a drive
// meanwhile: DriveNotEmptyError) keeps what was not reached yet, and
// running it again finishes the job.
func (c *Client) DeleteDriveTree(ctx context.Context, s auth.Signer, drive string, progress func(TreeDeleted)) (*TreeDeleted, error) {
	drives, err := c.driveTree(ctx, s, drive)
	if err != nil {
		return nil, err
	}
	out := &TreeDeleted{Drives: []string{}}
	tell := func() {
		if progress != nil {
			progress(*out)
		}
	}
	for i := len(drives) - 1; i >= 0; i-- {
		for done := false; !done; {
			r, err := c.PurgeDrive(ctx, s, drives[i])
			if err != nil {
				return out, err
			}
			out.Names += r.Names
			out.Bytes += r.Bytes
			done = r.Done
			tell()
		}
		if _, err := c.DeleteDrive(ctx, s, drives[i]); err != nil {
			return out, err
		}
		out.Drives = append(out.Drives, drives[i])
		tell()
	}
	return out, nil
}

// driveTree lists drive and the drives below it, parents before their
// sub-drives, at most MaxSubDrives+1 of them.
func (c *Client) driveTree(ctx context.Context, s auth.Signer, drive string) ([]string, error) {
	if _, err := c.GetDrive(ctx, s, drive); err != nil {
		return nil, err
	}
	tree := []string{drive}
	for i := 0; i < len(tree); i++ {
		l, err := c.ListDrives(ctx, s, tree[i])
		if err != nil {
			return nil, err
		}
		for _, d := range l.Drives {
			if len(tree) > MaxSubDrives {
				return nil, call.Errorf(call.ErrBadArguments, "drive %q has more than %d sub-drives", drive, MaxSubDrives)
			}
			tree = append(tree, d.Name)
		}
	}
	return tree, nil
}
