package call

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
)

// Limits on what an envelope may carry. A request larger than MaxBodyBytes
// is refused before any cryptography is spent on it.
const (
	MaxBodyBytes     = 4 << 20
	MaxFunctionBytes = 128
)

// syncTimeLayout is Python's datetime.isoformat() without a zone; the
// fractional part is omitted when it is zero, as Python does. It is the
// parsing layout; FormatSyncTime writes the fraction with all six digits.
const syncTimeLayout = "2006-01-02T15:04:05.999999"

// FormatSyncTime writes t (in UTC) the way Acquire writes 'synctime':
// Python writes either no fraction (zero microseconds) or exactly six
// digits, never a shortened one.
func FormatSyncTime(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

// ParseSyncTime reads a 'synctime' string as UTC.
func ParseSyncTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation(syncTimeLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, Errorf(ErrUnpacking, "synctime %q is not an ISO time", truncate(s, 40))
	}
	return t, nil
}

// Outer is the JSON object sent as an HTTP body, both ways. An encrypted
// envelope uses Data/Encrypted/Fingerprint (and Signature on replies); a
// clear one uses Payload/Function.
type Outer struct {
	Signature   string          `json:"signature,omitempty"`
	Data        string          `json:"data,omitempty"`
	Encrypted   bool            `json:"encrypted,omitempty"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	SyncTime    string          `json:"synctime"`
	Function    *string         `json:"function,omitempty"`
}

// Inner is the decrypted request. Field order matches Acquire's
// pack_arguments; IdempotencyKey is Acquire-Go's own addition, which the
// Python services ignore.
type Inner struct {
	EncryptionPublicKey string          `json:"encryption_public_key,omitempty"`
	SignWithServiceKey  string          `json:"sign_with_service_key,omitempty"`
	Payload             json.RawMessage `json:"payload"`
	SyncTime            string          `json:"synctime"`
	Function            string          `json:"function"`
	IdempotencyKey      string          `json:"idempotency_key,omitempty"`
}

// Request is a request as the service sees it after unpacking.
type Request struct {
	Function       string
	Args           json.RawMessage
	ReplyKey       *crypto.PublicKey // nil for a clear request
	SignWith       string            // fingerprint of the certificate to sign the reply with
	SyncTime       time.Time
	IdempotencyKey string
	Encrypted      bool
	Ciphertext     []byte // the exact encrypted bytes, for replay detection
}

// KeyFinder returns the service's private key with a fingerprint.
type KeyFinder func(fingerprint string) (*crypto.PrivateKey, error)

// decodeOuter parses a body, json-decoding again while the value is a
// string, as Acquire does.
func decodeOuter(body []byte) (*Outer, error) {
	if len(body) > MaxBodyBytes {
		return nil, Errorf(ErrTooLarge, "body of %d bytes is over the %d byte limit", len(body), MaxBodyBytes)
	}
	for range 3 {
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) == 0 || trimmed[0] != '"' {
			break
		}
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return nil, Errorf(ErrUnpacking, "body is not JSON")
		}
		body = []byte(s)
	}
	var o Outer
	if err := json.Unmarshal(body, &o); err != nil {
		return nil, Errorf(ErrUnpacking, "body is not a JSON envelope")
	}
	return &o, nil
}

// Sealed is an encrypted request before decryption: what a service can
// check without spending a private-key operation.
type Sealed struct {
	Fingerprint string
	Ciphertext  []byte
	SyncTime    time.Time // from the clear outer envelope; Decrypt checks it against the inner one
	syncText    string
}

// OpenEnvelope parses a request body. An encrypted request comes back
// sealed; a clear one comes back as a Request.
func OpenEnvelope(body []byte) (*Sealed, *Request, error) {
	o, err := decodeOuter(body)
	if err != nil {
		return nil, nil, err
	}
	if !o.Encrypted {
		req, err := unpackClearRequest(o)
		return nil, req, err
	}
	ct, err := crypto.UnB64(o.Data)
	if err != nil {
		return nil, nil, Errorf(ErrUnpacking, "data is not base64")
	}
	t, err := ParseSyncTime(o.SyncTime)
	if err != nil {
		return nil, nil, err
	}
	return &Sealed{Fingerprint: o.Fingerprint, Ciphertext: ct, SyncTime: t, syncText: o.SyncTime}, nil, nil
}

// Decrypt opens a sealed request with the key its envelope names. The
// inner synctime must equal the outer one, so a service may trust the
// outer time (read before decrypting) once this succeeds.
func (s *Sealed) Decrypt(keys KeyFinder) (*Request, error) {
	key, err := keys(s.Fingerprint)
	if err != nil {
		return nil, Errorf(ErrUnpacking, "no key with fingerprint %q", truncate(s.Fingerprint, 64))
	}
	plain, err := key.Decrypt(s.Ciphertext)
	if err != nil {
		return nil, Errorf(ErrUnpacking, "request cannot be decrypted (tampered, or encrypted to another key)")
	}
	var in Inner
	if err := json.Unmarshal(plain, &in); err != nil {
		return nil, Errorf(ErrUnpacking, "decrypted request is not JSON")
	}
	if in.SyncTime != s.syncText {
		return nil, Errorf(ErrUnpacking, "outer and inner synctime differ")
	}
	req, err := requestFromInner(&in)
	if err != nil {
		return nil, err
	}
	req.Encrypted = true
	req.Ciphertext = s.Ciphertext
	return req, nil
}

// UnpackRequest turns an HTTP body into a Request, decrypting it with the
// key whose fingerprint the envelope names.
func UnpackRequest(body []byte, keys KeyFinder) (*Request, error) {
	sealed, req, err := OpenEnvelope(body)
	if err != nil || sealed == nil {
		return req, err
	}
	return sealed.Decrypt(keys)
}

func unpackClearRequest(o *Outer) (*Request, error) {
	if o.Function == nil {
		return nil, Errorf(ErrUnpacking, "clear request names no function")
	}
	return requestFromInner(&Inner{Payload: o.Payload, SyncTime: o.SyncTime, Function: *o.Function})
}

func requestFromInner(in *Inner) (*Request, error) {
	if in.Function == "" || len(in.Function) > MaxFunctionBytes {
		return nil, Errorf(ErrUnpacking, "function name missing or too long")
	}
	t, err := ParseSyncTime(in.SyncTime)
	if err != nil {
		return nil, err
	}
	req := &Request{Function: in.Function, Args: in.Payload, SignWith: in.SignWithServiceKey,
		SyncTime: t, IdempotencyKey: in.IdempotencyKey}
	if in.EncryptionPublicKey != "" {
		pemText, err := crypto.UnB64(in.EncryptionPublicKey)
		if err != nil {
			return nil, Errorf(ErrUnpacking, "encryption_public_key is not base64")
		}
		if req.ReplyKey, err = crypto.ParsePublicPEM(pemText); err != nil {
			return nil, Errorf(ErrUnpacking, "encryption_public_key is not a public key")
		}
	}
	if len(req.Args) == 0 || string(req.Args) == "null" {
		req.Args = json.RawMessage("{}")
	}
	return req, nil
}

// PackRequest encrypts a call to a service key, asking for a reply
// encrypted to replyKey and signed by the certificate signWith.
func PackRequest(service *crypto.PublicKey, replyKey *crypto.PublicKey, signWith string, function string, args any, idemKey string, now time.Time) ([]byte, error) {
	payload, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("call: encoding arguments of %s: %w", function, err)
	}
	sync := FormatSyncTime(now)
	in := Inner{EncryptionPublicKey: crypto.B64(replyKey.PEM()), SignWithServiceKey: signWith,
		Payload: payload, SyncTime: sync, Function: function, IdempotencyKey: idemKey}
	plain, err := json.Marshal(&in)
	if err != nil {
		return nil, err
	}
	ct, err := service.Encrypt(plain)
	if err != nil {
		return nil, fmt.Errorf("call: encrypting request: %w", err)
	}
	return json.Marshal(&Outer{Data: crypto.B64(ct), Encrypted: true, Fingerprint: service.Fingerprint(), SyncTime: sync})
}

// PackClearRequest is the unencrypted form, used only for public functions
// such as fetching a service's public keys.
func PackClearRequest(function string, args any, now time.Time) ([]byte, error) {
	payload, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	return json.Marshal(&Outer{Payload: payload, SyncTime: FormatSyncTime(now), Function: &function})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// safeText keeps remote text printable and bounded before it goes into an
// error or a log line.
func safeText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, s)
	return truncate(s, n)
}
