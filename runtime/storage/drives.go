package storage

import (
	"context"
	"errors"
	"strings"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

var roleRank = map[string]int{RoleNone: 0, RoleRead: 1, RoleWrite: 2, RoleOwner: 3}

// atLeast reports whether role includes want.
func atLeast(role, want string) bool { return roleRank[role] >= roleRank[want] }

func (p Principal) same(q Principal) bool {
	return p.PAR == "" && q.PAR == "" && p.IdentityURL == q.IdentityURL && p.UserUID == q.UserUID
}

// checkACL validates an ACL's shape.
func checkACL(a *ACL) error {
	if a == nil {
		return nil
	}
	if len(a.Rules) == 0 || len(a.Rules) > MaxRulesPerACL {
		return call.Errorf(call.ErrBadArguments, "an ACL has 1 to %d rules", MaxRulesPerACL)
	}
	for _, r := range a.Rules {
		if _, ok := roleRank[r.Role]; !ok || r.Role == RoleNone {
			return call.Errorf(call.ErrBadArguments, "role %q (want read, write or owner)", clip(r.Role))
		}
		ok := false
		switch r.Kind {
		case RuleUser:
			ok = r.IdentityURL != "" && r.UserUID != "" && r.Group == ""
		case RuleGroup:
			// The group's owner is part of its name (see groups.go).
			ok = checkGroupName(r.Group) == nil && r.IdentityURL != "" && r.UserUID != ""
		case RuleDefault:
			ok = r.Group == "" && r.IdentityURL == "" && r.UserUID == ""
		}
		if !ok || hasControl(r.IdentityURL+r.UserUID) || len(r.IdentityURL)+len(r.UserUID) > 1024 {
			return call.Errorf(call.ErrBadArguments, "a %q rule names a user (identity_url, user_uid), a group (its owner's identity_url and user_uid, and its name), or nothing (default)", clip(r.Kind))
		}
	}
	return nil
}

// roleIn is p's role under a: the strongest matching rule. Groups are
// read once per call through groups.
func (s *Storage) roleIn(ctx context.Context, a *ACL, p Principal, groups map[string]*Group) (string, error) {
	best := RoleNone
	for _, r := range a.Rules {
		if roleRank[r.Role] <= roleRank[best] {
			continue
		}
		match := false
		switch r.Kind {
		case RuleUser:
			match = p.same(Principal{IdentityURL: r.IdentityURL, UserUID: r.UserUID})
		case RuleDefault:
			match = p.PAR == ""
		case RuleGroup:
			g, err := s.group(ctx, Principal{IdentityURL: r.IdentityURL, UserUID: r.UserUID}, r.Group, groups)
			if err != nil {
				return "", err
			}
			match = g != nil && g.has(p)
		}
		if match {
			best = r.Role
		}
	}
	return best, nil
}

// getDrive reads a drive record.
func (s *Storage) getDrive(ctx context.Context, name string) (*Drive, store.Version, error) {
	if err := CheckDriveName(name); err != nil {
		return nil, "", err
	}
	var d Drive
	v, err := s.b.GetJSON(ctx, driveKey(name), &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", call.Errorf(call.ErrNotFound, "no drive %q", name)
	}
	return &d, v, err
}

// effectiveACL walks up from d to the nearest drive with an ACL of its own.
func (s *Storage) effectiveACL(ctx context.Context, d *Drive) (*ACL, string, error) {
	cur := d
	for range MaxDriveDepth {
		if cur.ACL != nil {
			return cur.ACL, cur.Name, nil
		}
		if cur.Parent == "" {
			break
		}
		var err error
		if cur, _, err = s.getDrive(ctx, cur.Parent); err != nil {
			return nil, "", err
		}
	}
	// A top-level drive always has an ACL; reaching here is a bug or damage.
	return nil, "", errors.New("storage: drive " + d.Name + " has no ACL up its chain")
}

// roleOn is p's effective role on d.
func (s *Storage) roleOn(ctx context.Context, d *Drive, p Principal) (string, error) {
	a, _, err := s.effectiveACL(ctx, d)
	if err != nil {
		return "", err
	}
	return s.roleIn(ctx, a, p, map[string]*Group{})
}

// access reads drive and checks p holds want on it. Drive names are one
// namespace and creating a name reveals whether it is taken, so a denial
// says plainly that the drive exists.
func (s *Storage) access(ctx context.Context, drive string, p Principal, want string) (*Drive, string, error) {
	d, _, err := s.getDrive(ctx, drive)
	if err != nil {
		return nil, "", err
	}
	role, err := s.roleOn(ctx, d, p)
	if err != nil {
		return nil, "", err
	}
	if !atLeast(role, want) {
		return nil, role, call.Errorf(ErrAccessDenied, "%s access to drive %q is needed", want, drive)
	}
	return d, role, nil
}

// checkLimits checks a drive's limits; a max_versions of 0 becomes the
// default. A limit below what the drive holds stops it growing, no more.
func checkLimits(maxBytes int64, maxVersions *int64) error {
	if maxBytes < 0 {
		return call.Errorf(call.ErrBadArguments, "max_bytes must not be negative")
	}
	if *maxVersions == 0 {
		*maxVersions = DefaultMaxVersions
	}
	if *maxVersions < 1 || *maxVersions > MaxVersionsLimit {
		return call.Errorf(call.ErrBadArguments, "max_versions must be in [1, %d] (0: %d)", MaxVersionsLimit, DefaultMaxVersions)
	}
	return nil
}

func checkDeleteRule(r string) error {
	if r != DeleteKeep && r != DeletePurge {
		return call.Errorf(call.ErrBadArguments, "delete rule %q (want keep or purge)", clip(r))
	}
	return nil
}

func (s *Storage) handleCreateDrive(ctx context.Context, a *CreateDriveArgs) (*DriveInfo, error) {
	p, err := s.authorise(ctx, a.Credentials, CreateDriveResource(a))
	if err != nil {
		return nil, err
	}
	if err := CheckDriveName(a.Drive); err != nil {
		return nil, err
	}
	if a.DeleteRule == "" {
		a.DeleteRule = DeleteKeep
	}
	if err := checkDeleteRule(a.DeleteRule); err != nil {
		return nil, err
	}
	if err := checkLimits(a.MaxBytes, &a.MaxVersions); err != nil {
		return nil, err
	}
	if err := s.checkACLGroups(ctx, a.ACL); err != nil {
		return nil, err
	}
	d := &Drive{Name: a.Drive, ID: service.NewID(), Parent: parentOf(a.Drive), ACL: a.ACL, MaxBytes: a.MaxBytes,
		MaxVersions: a.MaxVersions, DeleteRule: a.DeleteRule, CreatedBy: p, Created: s.now()}
	role, parentID := RoleOwner, ""
	if d.Parent == "" {
		if err := s.checkTopLevel(ctx, d, p); err != nil {
			return nil, err
		}
	} else if role, parentID, err = s.checkSubDrive(ctx, d, p); err != nil {
		return nil, err
	}
	v, err := s.b.PutJSONIfAbsent(ctx, driveKey(d.Name), d)
	if errors.Is(err, store.ErrPrecondition) {
		return nil, call.Errorf(call.ErrExists, "drive %q exists", d.Name)
	} else if err != nil {
		return nil, err
	}
	if parentID != "" {
		// A delete_drive of the parent that closed it meanwhile did not see
		// this sub-drive: take it back (see handleDeleteDrive).
		if closed, err := s.closed(ctx, parentID); err != nil || closed {
			_ = s.b.DeleteIfVersion(ctx, driveKey(d.Name), v)
			if err == nil {
				err = call.Errorf(call.ErrNotFound, "drive %q was deleted", d.Parent)
			}
			return nil, err
		}
	}
	if d.Parent == "" {
		// The index of a user's drives; a crash before it leaves a drive
		// reachable by name but not listed (see the design note).
		if _, err := s.b.Put(ctx, userDrivesPrefix(p)+store.EncodeName(d.Name), nil); err != nil {
			return nil, err
		}
	}
	if d.ACL != nil {
		if role, err = s.roleIn(ctx, d.ACL, p, map[string]*Group{}); err != nil {
			return nil, err
		}
	}
	return &DriveInfo{Drive: *d, Role: role}, nil
}

// checkTopLevel: any user may create a top-level drive, up to
// MaxDrivesPerUser, and owns it (an ACL given must keep them owner).
func (s *Storage) checkTopLevel(ctx context.Context, d *Drive, p Principal) error {
	mine, err := s.b.ListAll(ctx, userDrivesPrefix(p), MaxDrivesPerUser)
	if errors.Is(err, store.ErrTooMany) || len(mine) >= MaxDrivesPerUser {
		return call.Errorf(ErrTooMany, "a user may create at most %d top-level drives", MaxDrivesPerUser)
	} else if err != nil {
		return err
	}
	if d.ACL == nil {
		d.ACL = &ACL{Rules: []Rule{{Kind: RuleUser, IdentityURL: p.IdentityURL, UserUID: p.UserUID, Role: RoleOwner}}}
	}
	return s.mustStayOwner(ctx, d.ACL, p)
}

// checkSubDrive: a sub-drive needs write access to its parent; only the
// parent's owners may give it an ACL of its own (else it inherits).
func (s *Storage) checkSubDrive(ctx context.Context, d *Drive, p Principal) (role, parentID string, err error) {
	parent, role, err := s.access(ctx, d.Parent, p, RoleWrite)
	if err != nil {
		return "", "", err
	}
	if d.ACL != nil {
		if role != RoleOwner {
			return "", "", call.Errorf(ErrAccessDenied, "only owners of %q may give a sub-drive its own ACL", parent.Name)
		}
		if err := s.mustStayOwner(ctx, d.ACL, p); err != nil {
			return "", "", err
		}
	}
	return role, parent.ID, nil
}

// mustStayOwner refuses an ACL that would lock its setter out: a drive
// must keep an owner, and the one changing the rules is the one we know.
func (s *Storage) mustStayOwner(ctx context.Context, a *ACL, p Principal) error {
	role, err := s.roleIn(ctx, a, p, map[string]*Group{})
	if err != nil {
		return err
	}
	if role != RoleOwner {
		return call.Errorf(call.ErrBadArguments, "the ACL must keep you an owner")
	}
	return nil
}

func (s *Storage) driveInfo(ctx context.Context, d *Drive, role string) (*DriveInfo, error) {
	u, err := s.usageOf(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	out := &DriveInfo{Drive: *d, Role: role, UsageBytes: u.Bytes, UsageVersions: u.Versions}
	out.MaxVersions = d.maxVersions()
	return out, nil
}

func (s *Storage) handleListDrives(ctx context.Context, a *ListDrivesArgs) (*DriveList, error) {
	p, err := s.authorise(ctx, a.Credentials, ListDrivesResource(a.Parent))
	if err != nil {
		return nil, err
	}
	var names []string
	if a.Parent == "" {
		items, err := s.b.ListAll(ctx, userDrivesPrefix(p), MaxDrivesPerUser)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			n, err := store.DecodeName(strings.TrimPrefix(it.Key, userDrivesPrefix(p)))
			if err == nil {
				names = append(names, n)
			}
		}
	} else {
		if _, _, err := s.access(ctx, a.Parent, p, RoleRead); err != nil {
			return nil, err
		}
		items, err := s.b.ListAll(ctx, driveKey(a.Parent+"/"), MaxSubDrives)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			n, err := store.DecodeName(strings.TrimPrefix(it.Key, drivesPre))
			if err == nil && parentOf(n) == a.Parent {
				names = append(names, n)
			}
		}
	}
	out := &DriveList{Drives: []DriveInfo{}}
	for _, n := range names {
		d, _, err := s.getDrive(ctx, n)
		if err != nil {
			continue // listed but gone or damaged: not shown
		}
		role, err := s.roleOn(ctx, d, p)
		if err != nil {
			return nil, err
		}
		if role == RoleNone {
			continue
		}
		info, err := s.driveInfo(ctx, d, role)
		if err != nil {
			return nil, err
		}
		out.Drives = append(out.Drives, *info)
	}
	return out, nil
}

func (s *Storage) handleGetDrive(ctx context.Context, a *DriveArgs) (*DriveInfo, error) {
	p, err := s.authorise(ctx, a.Credentials, GetDriveResource(a.Drive))
	if err != nil {
		return nil, err
	}
	d, role, err := s.access(ctx, a.Drive, p, RoleRead)
	if err != nil {
		return nil, err
	}
	return s.driveInfo(ctx, d, role)
}

func (s *Storage) handleSetDrive(ctx context.Context, a *SetDriveArgs) (*DriveInfo, error) {
	p, err := s.authorise(ctx, a.Credentials, SetDriveResource(a))
	if err != nil {
		return nil, err
	}
	if err := checkDeleteRule(a.DeleteRule); err != nil {
		return nil, err
	}
	if err := checkLimits(a.MaxBytes, &a.MaxVersions); err != nil {
		return nil, err
	}
	d, err := s.updateDrive(ctx, a.Drive, p, func(d *Drive) error {
		d.MaxBytes, d.MaxVersions, d.DeleteRule = a.MaxBytes, a.MaxVersions, a.DeleteRule
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.driveInfo(ctx, d, RoleOwner)
}

// updateDrive changes a drive record with compare-and-swap, checking the
// caller is an owner against the record being replaced.
func (s *Storage) updateDrive(ctx context.Context, drive string, p Principal, fn func(*Drive) error) (*Drive, error) {
	for range MaxUpdateAttempts {
		d, v, err := s.getDrive(ctx, drive)
		if err != nil {
			return nil, err
		}
		role, err := s.roleOn(ctx, d, p)
		if err != nil {
			return nil, err
		}
		if role != RoleOwner {
			return nil, call.Errorf(ErrAccessDenied, "only owners of drive %q may change it", drive)
		}
		if err := fn(d); err != nil {
			return nil, err
		}
		if _, err := s.b.PutJSONIfVersion(ctx, driveKey(drive), d, v); err == nil {
			return d, nil
		} else if !errors.Is(err, store.ErrPrecondition) {
			return nil, err
		}
	}
	return nil, call.Errorf(call.ErrBusy, "drive %q changed too often; try again", drive)
}

func (s *Storage) handleGetACL(ctx context.Context, a *DriveArgs) (*ACLInfo, error) {
	p, err := s.authorise(ctx, a.Credentials, GetACLResource(a.Drive))
	if err != nil {
		return nil, err
	}
	d, role, err := s.access(ctx, a.Drive, p, RoleRead)
	if err != nil {
		return nil, err
	}
	eff, from, err := s.effectiveACL(ctx, d)
	if err != nil {
		return nil, err
	}
	return &ACLInfo{Drive: d.Name, Own: d.ACL, Effective: *eff, From: from, Role: role}, nil
}

func (s *Storage) handleSetACL(ctx context.Context, a *SetACLArgs) (*ACLInfo, error) {
	p, err := s.authorise(ctx, a.Credentials, SetACLResource(a.Drive, a.ACL))
	if err != nil {
		return nil, err
	}
	if err := s.checkACLGroups(ctx, a.ACL); err != nil {
		return nil, err
	}
	d, err := s.updateDrive(ctx, a.Drive, p, func(d *Drive) error {
		if a.ACL == nil && d.Parent == "" {
			return call.Errorf(call.ErrBadArguments, "a top-level drive has nothing to inherit: give an ACL")
		}
		d.ACL = a.ACL
		// The caller must still own the drive under its new rules.
		eff, _, err := s.effectiveACL(ctx, d)
		if err != nil {
			return err
		}
		return s.mustStayOwner(ctx, eff, p)
	})
	if err != nil {
		return nil, err
	}
	eff, from, err := s.effectiveACL(ctx, d)
	if err != nil {
		return nil, err
	}
	return &ACLInfo{Drive: d.Name, Own: d.ACL, Effective: *eff, From: from, Role: RoleOwner}, nil
}
