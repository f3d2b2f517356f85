package storage

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// Groups live in their owner's namespace, storage/groups/<owner>/<name>:
// a group is named by its owner (identity URL and user UID) and a name,
// so a name is never first come, first served, and a rule naming alice's
// "team" lets in whoever alice put in it, whatever anyone else calls
// their own group. Only the owner writes under their namespace, so only
// the owner creates the group and changes its members. An ACL naming a
// group that does not exist is refused; a stored rule whose group is gone
// matches no one (only its owner could make it again).

func checkGroupName(g string) error {
	if g == "" || len(g) > MaxGroupNameBytes || !driveSegment.MatchString(g) {
		return call.Errorf(ErrInvalidName, "group name must match %s (≤ %d bytes)", driveSegment, MaxGroupNameBytes)
	}
	return nil
}

func (g *Group) has(p Principal) bool {
	for _, m := range g.Members {
		if m.same(p) {
			return true
		}
	}
	return false
}

// checkACLGroups checks an ACL's shape, then that every group it names exists.
func (s *Storage) checkACLGroups(ctx context.Context, a *ACL) error {
	if err := checkACL(a); err != nil {
		return err
	}
	if a == nil {
		return nil
	}
	cache := map[string]*Group{}
	for _, r := range a.Rules {
		if r.Kind != RuleGroup {
			continue
		}
		g, err := s.group(ctx, Principal{IdentityURL: r.IdentityURL, UserUID: r.UserUID}, r.Group, cache)
		if err != nil {
			return err
		}
		if g == nil {
			return call.Errorf(call.ErrNotFound, "no group %q owned by user %s of %s: create it first ('acquire group create')",
				r.Group, clip(r.UserUID), clip(r.IdentityURL))
		}
	}
	return nil
}

// group reads owner's group name (nil if it does not exist: its rules
// match no one). cache holds the groups one call has read.
func (s *Storage) group(ctx context.Context, owner Principal, name string, cache map[string]*Group) (*Group, error) {
	if owner.IdentityURL == "" || owner.UserUID == "" || checkGroupName(name) != nil {
		// A rule stored before groups had owners: it names no one's group.
		return nil, nil
	}
	key := groupKey(owner, name)
	if g, ok := cache[key]; ok {
		return g, nil
	}
	var g Group
	_, err := s.b.GetJSON(ctx, key, &g)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cache[key] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	if !g.Owner.same(owner) || g.Name != name {
		return nil, errors.New("storage: group record " + key + " names another owner or name")
	}
	cache[key] = &g
	return &g, nil
}

func checkMembers(members []Principal) error {
	if len(members) > MaxGroupMembers {
		return call.Errorf(ErrTooMany, "a group has at most %d members", MaxGroupMembers)
	}
	for _, m := range members {
		if m.IdentityURL == "" || m.UserUID == "" || m.PAR != "" || hasControl(m.IdentityURL+m.UserUID) || len(m.IdentityURL)+len(m.UserUID) > 1024 {
			return call.Errorf(call.ErrBadArguments, "a member is an identity_url and a user_uid")
		}
	}
	return nil
}

// updateGroup changes one of p's groups with compare-and-swap; change gets
// the group as it is (nil: none yet) and answers its new members.
func (s *Storage) updateGroup(ctx context.Context, p Principal, name string, change func(*Group) ([]Principal, error)) (*Group, error) {
	if err := checkGroupName(name); err != nil {
		return nil, err
	}
	var out Group
	_, err := s.b.Update(ctx, groupKey(p, name), MaxUpdateAttempts, func(old []byte, exists bool) ([]byte, error) {
		var cur *Group
		if exists {
			cur = &Group{}
			if err := json.Unmarshal(old, cur); err != nil {
				return nil, err
			}
		}
		members, err := change(cur)
		if err != nil {
			return nil, err
		}
		if err := checkMembers(members); err != nil {
			return nil, err
		}
		if members == nil {
			members = []Principal{}
		}
		out = Group{Name: name, Owner: p, Members: members, Updated: s.now()}
		return json.Marshal(&out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// handleSetGroup creates one of the caller's groups, or replaces its members.
func (s *Storage) handleSetGroup(ctx context.Context, a *GroupArgs) (*Group, error) {
	p, err := s.authorise(ctx, a.Credentials, SetGroupResource(a))
	if err != nil {
		return nil, err
	}
	if err := checkMembers(a.Members); err != nil {
		return nil, err
	}
	if err := checkGroupName(a.Group); err != nil {
		return nil, err
	}
	if _, _, err := s.b.Get(ctx, groupKey(p, a.Group)); errors.Is(err, store.ErrNotFound) {
		if err := s.roomForGroup(ctx, p); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return s.updateGroup(ctx, p, a.Group, func(cur *Group) ([]Principal, error) {
		if cur != nil && a.New {
			return nil, call.Errorf(call.ErrExists, "you already have a group %q", a.Group)
		}
		return a.Members, nil
	})
}

// roomForGroup: a user owns at most MaxGroupsPerUser groups.
func (s *Storage) roomForGroup(ctx context.Context, p Principal) error {
	mine, err := s.b.ListAll(ctx, groupsPrefix(p), MaxGroupsPerUser)
	if errors.Is(err, store.ErrTooMany) || len(mine) >= MaxGroupsPerUser {
		return call.Errorf(ErrTooMany, "a user owns at most %d groups", MaxGroupsPerUser)
	}
	return err
}

// handleEditGroup adds and removes members of one of the caller's groups.
func (s *Storage) handleEditGroup(ctx context.Context, a *EditGroupArgs) (*Group, error) {
	p, err := s.authorise(ctx, a.Credentials, EditGroupResource(a))
	if err != nil {
		return nil, err
	}
	if err := checkMembers(a.Add); err != nil {
		return nil, err
	}
	if err := checkMembers(a.Remove); err != nil {
		return nil, err
	}
	return s.updateGroup(ctx, p, a.Group, func(cur *Group) ([]Principal, error) {
		if cur == nil {
			return nil, call.Errorf(call.ErrNotFound, "you have no group %q", a.Group)
		}
		out := []Principal{}
		for _, m := range cur.Members {
			if !(&Group{Members: a.Remove}).has(m) {
				out = append(out, m)
			}
		}
		for _, m := range a.Add {
			if !(&Group{Members: out}).has(m) {
				out = append(out, m)
			}
		}
		return out, nil
	})
}

// handleGetGroup answers a group to its owner and its members.
func (s *Storage) handleGetGroup(ctx context.Context, a *GroupArgs) (*Group, error) {
	p, err := s.authorise(ctx, a.Credentials, GetGroupResource(a))
	if err != nil {
		return nil, err
	}
	if err := checkGroupName(a.Group); err != nil {
		return nil, err
	}
	owner := p
	if a.Owner != nil {
		owner = *a.Owner
	}
	g, err := s.group(ctx, owner, a.Group, map[string]*Group{})
	if err != nil {
		return nil, err
	}
	// One answer for "none" and "not yours to read": a stranger learns
	// nothing about other users' groups.
	if g == nil || (!g.Owner.same(p) && !g.has(p)) {
		return nil, call.Errorf(call.ErrNotFound, "no group %q of that owner that you may read", a.Group)
	}
	return g, nil
}

// handleListGroups lists the caller's groups.
func (s *Storage) handleListGroups(ctx context.Context, a *ListGroupsArgs) (*GroupList, error) {
	p, err := s.authorise(ctx, a.Credentials, ListGroupsResource())
	if err != nil {
		return nil, err
	}
	items, err := s.b.ListAll(ctx, groupsPrefix(p), MaxGroupsPerUser)
	if err != nil && !errors.Is(err, store.ErrTooMany) {
		return nil, err
	}
	out := &GroupList{Groups: []Group{}}
	cache := map[string]*Group{}
	for _, it := range items {
		name, err := store.DecodeName(strings.TrimPrefix(it.Key, groupsPrefix(p)))
		if err != nil {
			continue
		}
		g, err := s.group(ctx, p, name, cache)
		if err != nil {
			return nil, err
		}
		if g != nil {
			out.Groups = append(out.Groups, *g)
		}
	}
	return out, nil
}
