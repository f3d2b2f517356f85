package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/openacquire/acquire/runtime/store"
)

const adminsKey = "service/admins.json"

// MaxAdmins bounds the admin list of one service.
const MaxAdmins = 100

// Admin names one user, by the identity service that vouches for them.
type Admin struct {
	IdentityURL string `json:"identity_url"`
	UserUID     string `json:"user_uid"`
}

// Admins lists the service's admin users.
func (s *Service) Admins(ctx context.Context) ([]Admin, error) {
	var out struct {
		Admins []Admin `json:"admins"`
	}
	if _, err := s.cfg.Bucket.GetJSON(ctx, adminsKey, &out); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return out.Admins, nil
}

// IsAdmin says whether a user administers this service.
func (s *Service) IsAdmin(ctx context.Context, identityURL, userUID string) (bool, error) {
	admins, err := s.Admins(ctx)
	if err != nil {
		return false, err
	}
	return slices.Contains(admins, Admin{IdentityURL: identityURL, UserUID: userUID}), nil
}

// AddAdmin adds a user to the admin list (a no-op if present).
func (s *Service) AddAdmin(ctx context.Context, a Admin) error {
	_, err := s.cfg.Bucket.Update(ctx, adminsKey, 20, func(old []byte, exists bool) ([]byte, error) {
		var cur struct {
			Admins []Admin `json:"admins"`
		}
		if exists {
			if err := json.Unmarshal(old, &cur); err != nil {
				return nil, err
			}
		}
		if slices.Contains(cur.Admins, a) {
			return old, nil
		}
		if len(cur.Admins) >= MaxAdmins {
			return nil, errors.New("service: admin list is full")
		}
		cur.Admins = append(cur.Admins, a)
		return json.Marshal(&cur)
	})
	return err
}
