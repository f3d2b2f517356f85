package wallet

import (
	"fmt"
	"time"
)

// deviceRecord is a remembered device: the identity service gave this
// machine its own OTP secret, sealed here like the session keys.
type deviceRecord struct {
	IdentityURL  string    `json:"identity_url"`
	Username     string    `json:"username"`
	DeviceUID    string    `json:"device_uid"`
	SecretSealed string    `json:"otp_secret_sealed"`
	SealedWith   string    `json:"sealed_with"`
	LastStep     int64     `json:"last_step,omitempty"`
	Saved        time.Time `json:"saved"`
}

// Device is a remembered device with its OTP secret unsealed.
type Device struct {
	IdentityURL string
	Username    string
	UID         string
	Secret      string
	// LastStep is the last TOTP time step this wallet used the device for:
	// the service accepts each step once, so the next login must use a
	// later one.
	LastStep int64
}

func (f *walletFile) device(identityURL, username string) (int, *deviceRecord) {
	for i, d := range f.Devices {
		if d.IdentityURL == identityURL && d.Username == username {
			return i, d
		}
	}
	return -1, nil
}

// HasDevice reports whether a device is remembered for username.
func (w *Wallet) HasDevice(identityURL, username string) bool {
	_, d := w.snapshot().device(identityURL, username)
	return d != nil
}

// SaveDevice remembers this machine as a device of username, replacing any
// device remembered before.
func (w *Wallet) SaveDevice(identityURL, username, deviceUID, secret string) error {
	if err := checkUser(identityURL, username); err != nil {
		return err
	}
	if deviceUID == "" || secret == "" {
		return fmt.Errorf("%w: a device needs a UID and a secret", ErrInvalid)
	}
	return w.update(func(f *walletFile) error {
		sealing := w.sealing()
		master, err := w.masterFor(sealing, f, true)
		if err != nil {
			return err
		}
		sealed, err := w.sealSecret(master, secret)
		if err != nil {
			return err
		}
		rec := &deviceRecord{IdentityURL: identityURL, Username: username, DeviceUID: deviceUID,
			SecretSealed: sealed, SealedWith: sealing, Saved: w.now().UTC()}
		if i, _ := f.device(identityURL, username); i >= 0 {
			f.Devices[i] = rec
			return nil
		}
		if len(f.Devices) >= MaxDevices {
			return fmt.Errorf("%w: at most %d remembered devices", ErrLimit, MaxDevices)
		}
		f.Devices = append(f.Devices, rec)
		return nil
	})
}

// Device unseals the remembered device of username, or returns ErrNoDevice.
func (w *Wallet) Device(identityURL, username string) (*Device, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, rec := w.f.device(identityURL, username)
	if rec == nil {
		return nil, fmt.Errorf("%w for %s at %s", ErrNoDevice, username, identityURL)
	}
	master, err := w.masterFor(rec.SealedWith, w.f, false)
	if err != nil {
		return nil, err
	}
	secret, err := w.unsealSecret(master, rec.SecretSealed)
	if err != nil {
		return nil, err
	}
	return &Device{IdentityURL: identityURL, Username: username, UID: rec.DeviceUID, Secret: secret, LastStep: rec.LastStep}, nil
}

// UsedDeviceStep records that the device made a code for a TOTP time step.
// Steps only move forward.
func (w *Wallet) UsedDeviceStep(identityURL, username, deviceUID string, step int64) error {
	return w.update(func(f *walletFile) error {
		_, rec := f.device(identityURL, username)
		if rec != nil && rec.DeviceUID == deviceUID && step > rec.LastStep {
			rec.LastStep = step
		}
		return nil
	})
}

// ForgetDevice drops the remembered device of username.
func (w *Wallet) ForgetDevice(identityURL, username string) error {
	if !w.HasDevice(identityURL, username) {
		return nil
	}
	return w.update(func(f *walletFile) error {
		if i, _ := f.device(identityURL, username); i >= 0 {
			f.Devices = append(f.Devices[:i], f.Devices[i+1:]...)
		}
		return nil
	})
}

// DeviceEntry describes a remembered device without its secret.
type DeviceEntry struct {
	IdentityURL string    `json:"identity_url"`
	Username    string    `json:"username"`
	UID         string    `json:"device_uid"`
	Saved       time.Time `json:"saved"`
}

// Devices lists the remembered devices, without their secrets.
func (w *Wallet) Devices() []DeviceEntry {
	f := w.snapshot()
	out := make([]DeviceEntry, 0, len(f.Devices))
	for _, d := range f.Devices {
		out = append(out, DeviceEntry{IdentityURL: d.IdentityURL, Username: d.Username, UID: d.DeviceUID, Saved: d.Saved})
	}
	return out
}
