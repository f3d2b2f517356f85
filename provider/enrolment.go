package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/openacquire/acquire/runtime/host"
)

// The first admin's enrolment (authenticator URI and recovery codes) is
// shown once, by the call that created the admin. An earlier version kept
// it in two sensitive attributes, so every state file (and its backups,
// and every remote state copy) held the admin's TOTP secret and recovery
// codes: "sensitive" hides a value from plan output only. Now the provider
// writes it, once, to admin_enrolment_file (0600, written whole or not at
// all) and state keeps only that path: a reference. The ephemeral resource
// acquire_admin_enrolment reads it back without a trace in state or plan,
// for engines with ephemeral values (Terraform >= 1.10) to hand it to a
// secret manager.

// enrolment is what admin_enrolment_file holds.
type enrolment struct {
	Username      string   `json:"username"`
	OTPURI        string   `json:"otp_uri"`
	RecoveryCodes []string `json:"recovery_codes"`
}

// MaxEnrolmentBytes bounds an enrolment file read back.
const MaxEnrolmentBytes = 64 << 10

// writeEnrolment writes a created admin's enrolment to file, 0600, through
// a temporary file renamed into place (never half-written, never readable
// by others even briefly).
func writeEnrolment(file, username string, a *host.AdminCreated) error {
	b, err := json.MarshalIndent(enrolment{Username: username, OTPURI: a.ProvisioningURI, RecoveryCodes: a.RecoveryCodes}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("admin_enrolment_file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".enrolment-*")
	if err != nil {
		return fmt.Errorf("admin_enrolment_file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("admin_enrolment_file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("admin_enrolment_file: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("admin_enrolment_file: %w", err)
	}
	return nil
}

// readEnrolment reads an enrolment file, refusing one others can read.
func readEnrolment(file string) (enrolment, error) {
	var e enrolment
	f, err := os.Open(file) //nolint:gosec // the configured enrolment file
	if err != nil {
		return e, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return e, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return e, fmt.Errorf("%s is readable by others (mode %v): it holds the admin's TOTP secret; chmod 600 it", file, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxEnrolmentBytes+1))
	if err != nil {
		return e, err
	}
	if len(b) > MaxEnrolmentBytes {
		return e, errors.New("enrolment file too large")
	}
	if err := json.Unmarshal(b, &e); err != nil || e.OTPURI == "" {
		return e, fmt.Errorf("%s is not an enrolment file written by the provider", file)
	}
	return e, nil
}
