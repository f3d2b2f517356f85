package identity

import "context"

// SetPassword replaces a user's password. It is the platform's way to
// rotate a first admin's password (the host's admin API calls it); users
// themselves have no such call yet. The hash is made before the record is
// read, so the compare-and-swap loop does no argon2id work per attempt.
func (id *Identity) SetPassword(ctx context.Context, username, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := id.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	_, err = id.updateUser(ctx, username, func(u *userRecord) error {
		u.PasswordHash = hash
		u.Lock.Password.reset()
		return nil
	})
	if err == nil {
		id.audit(ctx, auditEvent{Event: "password_set", Username: username})
	}
	return err
}
