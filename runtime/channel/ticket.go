package channel

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"
)

// ticketAAD binds a sealed ticket to its purpose and version.
var ticketAAD = []byte(Version + " ticket")

// ticket is what a service instance seals and the client carries: the
// channel's binding and keys, so the instance needs no store read to find
// them.
type ticket struct {
	Binding
	Keys
}

// sealer seals tickets under one instance's random key: tickets of any
// other instance or service do not open here.
type sealer struct{ aead cipher.AEAD }

func newSealer() (*sealer, error) {
	var key [keyBytes]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	aead, err := newAEAD(key[:])
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *sealer) seal(t *ticket) ([]byte, error) {
	plain, err := t.encode()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, ticketAAD), nil
}

func (s *sealer) open(b []byte) (*ticket, error) {
	n := s.aead.NonceSize()
	if len(b) < n+s.aead.Overhead() {
		return nil, errors.New("short ticket")
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], ticketAAD)
	if err != nil {
		return nil, err
	}
	return decodeTicket(plain)
}

// encode: id, expiry (unix ns), both keys, then four u16-length-prefixed
// strings (identity URL, user, session, audience).
func (t *ticket) encode() ([]byte, error) {
	out := make([]byte, 0, idBytes+8+2*keyBytes+64+len(t.IdentityURL)+len(t.Audience))
	out = append(out, t.ID[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(t.Expires.UnixNano()))
	out = append(out, t.C2S[:]...)
	out = append(out, t.S2C[:]...)
	for _, s := range []string{t.IdentityURL, t.UserUID, t.SessionUID, t.Audience} {
		if len(s) > maxTextBytes {
			return nil, errors.New("channel: a binding field is over the size limit")
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)))
		out = append(out, s...)
	}
	return out, nil
}

func decodeTicket(b []byte) (*ticket, error) {
	var t ticket
	if len(b) < idBytes+8+2*keyBytes {
		return nil, errors.New("short ticket")
	}
	copy(t.ID[:], b)
	b = b[idBytes:]
	t.Expires = time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	b = b[8:]
	copy(t.C2S[:], b)
	copy(t.S2C[:], b[keyBytes:])
	b = b[2*keyBytes:]
	fields := []*string{&t.IdentityURL, &t.UserUID, &t.SessionUID, &t.Audience}
	for _, f := range fields {
		if len(b) < 2 {
			return nil, errors.New("short ticket")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("short ticket")
		}
		*f, b = string(b[2:2+n]), b[2+n:]
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes in ticket")
	}
	return &t, nil
}
