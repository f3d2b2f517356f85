package storage

import (
	"context"
	"errors"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// delete_drive removes an empty drive: no versions of any file (a kept
// tombstone is a version) and no sub-drives. It races two writers, and
// each pair is settled the same way, by both sides writing first and then
// reading what the other wrote:
//
//   - a commit of any version (an empty file and a tombstone too) reserves
//     its bytes and one version in the drive's usage record before it
//     writes the version; delete_drive closes that record only while it
//     holds no bytes and no versions, and a closed record refuses
//     reservations. It then lists the versions too, for records written
//     before versions were counted;
//   - a new sub-drive is written, then reads its parent's usage record and
//     takes itself back if the parent was closed; delete_drive closes, then
//     lists sub-drives.
//
// A delete cut short leaves the drive closed to new versions (uploads to it
// fail with NotFoundError saying so); deleting it again finishes the job.
// The closed usage record stays behind as the drive id's tombstone.
func (s *Storage) handleDeleteDrive(ctx context.Context, a *DriveArgs) (*DriveInfo, error) {
	p, err := s.authorise(ctx, a.Credentials, DeleteDriveResource(a.Drive))
	if err != nil {
		return nil, err
	}
	d, dv, err := s.getDrive(ctx, a.Drive)
	if err != nil {
		return nil, err
	}
	if role, err := s.roleOn(ctx, d, p); err != nil {
		return nil, err
	} else if role != RoleOwner {
		return nil, call.Errorf(ErrAccessDenied, "owner access to drive %q is needed", d.Name)
	}
	if err := s.setClosed(ctx, d, true); err != nil {
		return nil, err
	}
	if err := s.mustBeEmpty(ctx, d); err != nil {
		return nil, s.reopen(ctx, d, err)
	}
	if err := s.deleteDrivePARs(ctx, d); err != nil {
		return nil, err
	}
	if err := s.b.DeleteIfVersion(ctx, driveKey(d.Name), dv); errors.Is(err, store.ErrPrecondition) {
		return nil, s.reopen(ctx, d, call.Errorf(call.ErrBusy, "drive %q changed while it was being deleted; try again", d.Name))
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if d.Parent == "" {
		if err := s.b.Delete(ctx, userDrivesPrefix(d.CreatedBy)+store.EncodeName(d.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return &DriveInfo{Drive: *d, Role: RoleOwner}, nil
}

// mustBeEmpty: no version of any file, no sub-drive.
func (s *Storage) mustBeEmpty(ctx context.Context, d *Drive) error {
	page, err := s.b.List(ctx, driveVersionsPrefix(d.ID), "", 1)
	if err != nil {
		return err
	}
	if len(page.Items) > 0 {
		return call.Errorf(ErrDriveNotEmpty, "drive %q holds files (deleted ones too, while their versions are kept): purge them first ('acquire file rm --purge')", d.Name)
	}
	subs, err := s.b.ListAll(ctx, driveKey(d.Name+"/"), MaxSubDrives)
	if err != nil {
		return err
	}
	for _, it := range subs {
		if n, err := store.DecodeName(it.Key[len(drivesPre):]); err == nil && parentOf(n) == d.Name {
			return call.Errorf(ErrDriveNotEmpty, "drive %q has sub-drives (%s): delete them first", d.Name, n)
		}
	}
	return nil
}

// setClosed closes (or reopens) the drive's usage record; it closes only a
// drive that holds no bytes.
func (s *Storage) setClosed(ctx context.Context, d *Drive, closed bool) error {
	return s.updateUsage(ctx, d.ID, func(u *usageRecord) error {
		if closed && (u.Bytes > 0 || u.Versions > 0) {
			return call.Errorf(ErrDriveNotEmpty, "drive %q holds %d versions of %d bytes: purge its files first ('acquire file rm --purge')", d.Name, u.Versions, u.Bytes)
		}
		u.Closed = closed
		return nil
	})
}

// reopen undoes a close that did not end in a delete, and answers why.
func (s *Storage) reopen(ctx context.Context, d *Drive, why error) error {
	if err := s.setClosed(ctx, d, false); err != nil {
		return err
	}
	return why
}

// closed reports whether a drive id's usage record is closed.
func (s *Storage) closed(ctx context.Context, driveID string) (bool, error) {
	u, err := s.usageOf(ctx, driveID)
	return u.Closed, err
}

func errDriveClosed(d *Drive) error {
	return call.Errorf(call.ErrNotFound, "drive %q is deleted, or being deleted (deleting it again finishes that)", d.Name)
}

// deleteDrivePARs removes the drive's PARs (their records hold the
// secrets' MACs); a PAR left behind would be refused anyway, since it
// names the drive's id.
func (s *Storage) deleteDrivePARs(ctx context.Context, d *Drive) error {
	items, err := s.b.ListAll(ctx, driveParsPre+d.ID+"/", MaxPARsPerDrive)
	if err != nil {
		return err
	}
	for _, it := range items {
		id := it.Key[len(driveParsPre+d.ID+"/"):]
		for _, k := range []string{parKey(id), it.Key} {
			if err := s.b.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}
