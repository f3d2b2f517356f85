package call

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
)

// Result is the wrapped return value of Acquire's create_return_value.
type Result struct {
	Status    int             `json:"status"`
	Return    json.RawMessage `json:"return,omitempty"`
	Exception *Error          `json:"exception,omitempty"`
}

// replyInner is the decrypted reply; 'function' is always null.
type replyInner struct {
	Payload  json.RawMessage `json:"payload"`
	SyncTime string          `json:"synctime"`
	Function *string         `json:"function"`
}

// WrapReturn applies create_return_value: an object is returned as is, null
// as no 'return', anything else as {"result": value}.
func WrapReturn(value any) (*Result, error) {
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("call: encoding result: %w", err)
	}
	switch {
	case string(raw) == "null":
		return &Result{Status: 0}, nil
	case len(raw) > 0 && raw[0] == '{':
		return &Result{Status: 0, Return: raw}, nil
	default:
		return &Result{Status: 0, Return: json.RawMessage(`{"result":` + string(raw) + `}`)}, nil
	}
}

// WrapError turns a typed error into the failure form of a reply.
func WrapError(e *Error) *Result { return &Result{Status: -1, Exception: e} }

// CertFinder returns the service's private certificate with a fingerprint.
type CertFinder func(fingerprint string) (*crypto.PrivateKey, error)

// PackReply encrypts a result to the caller's reply key and, when the
// request asked, signs the raw ciphertext with the named certificate. A
// clear request gets a clear, unsigned reply.
func PackReply(req *Request, res *Result, certs CertFinder, now time.Time) ([]byte, error) {
	payload, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	sync := FormatSyncTime(now)
	if req == nil || req.ReplyKey == nil {
		return json.Marshal(&Outer{Payload: payload, SyncTime: sync, Function: nil})
	}
	plain, err := json.Marshal(&replyInner{Payload: payload, SyncTime: sync})
	if err != nil {
		return nil, err
	}
	ct, err := req.ReplyKey.Encrypt(plain)
	if err != nil {
		return nil, fmt.Errorf("call: encrypting reply: %w", err)
	}
	out := Outer{Data: crypto.B64(ct), Encrypted: true, Fingerprint: req.ReplyKey.Fingerprint(), SyncTime: sync}
	if req.SignWith != "" {
		cert, err := certs(req.SignWith)
		if err != nil {
			return nil, Errorf(ErrUnpacking, "no certificate with fingerprint %q to sign the reply", truncate(req.SignWith, 64))
		}
		sig, err := cert.Sign(ct)
		if err != nil {
			return nil, fmt.Errorf("call: signing reply: %w", err)
		}
		out.Signature = crypto.B64(sig)
	}
	return json.Marshal(&out)
}

// ReplyCheck says how a client unpacks a reply: with which private key, and
// which service certificates may have signed it (none: no signature asked).
type ReplyCheck struct {
	ReplyKey *crypto.PrivateKey
	Certs    []*crypto.PublicKey
	Function string
	URL      string
}

// UnpackReply verifies and decrypts a reply and returns the 'return' value,
// or the remote error as a *Error. As in Acquire, a failure status in a
// clear reply is raised even when a signed reply was expected, while a clear
// success is refused in that case.
func UnpackReply(body []byte, chk ReplyCheck) (json.RawMessage, error) {
	o, err := decodeOuter(body)
	if err != nil {
		return nil, err
	}
	if !o.Encrypted {
		res, err := parseResult(o.Payload)
		if err != nil {
			return nil, err
		}
		if res.Status != 0 || chk.ReplyKey == nil {
			return resultValue(res, chk)
		}
		return nil, Errorf(ErrUnpacking, "reply from %s is neither encrypted nor signed", chk.URL)
	}
	plain, err := openReply(o, chk)
	if err != nil {
		return nil, err
	}
	var in replyInner
	if err := json.Unmarshal(plain, &in); err != nil {
		return nil, Errorf(ErrUnpacking, "decrypted reply is not JSON")
	}
	res, err := parseResult(in.Payload)
	if err != nil {
		return nil, err
	}
	return resultValue(res, chk)
}

func openReply(o *Outer, chk ReplyCheck) ([]byte, error) {
	if chk.ReplyKey == nil {
		return nil, Errorf(ErrUnpacking, "encrypted reply but no reply key")
	}
	ct, err := crypto.UnB64(o.Data)
	if err != nil {
		return nil, Errorf(ErrUnpacking, "reply data is not base64")
	}
	if len(chk.Certs) > 0 {
		if err := verifyAny(chk.Certs, o.Signature, ct); err != nil {
			return nil, err
		}
	}
	if o.Fingerprint != chk.ReplyKey.Fingerprint() {
		return nil, Errorf(ErrUnpacking, "reply was encrypted to another key")
	}
	plain, err := chk.ReplyKey.Decrypt(ct)
	if err != nil {
		return nil, Errorf(ErrUnpacking, "reply cannot be decrypted")
	}
	return plain, nil
}

func verifyAny(certs []*crypto.PublicKey, sigB64 string, ct []byte) error {
	if sigB64 == "" {
		return Errorf(ErrSignature, "reply is not signed")
	}
	sig, err := crypto.UnB64(sigB64)
	if err != nil {
		return Errorf(ErrSignature, "reply signature is not base64")
	}
	for _, c := range certs {
		if c.Verify(ct, sig) == nil {
			return nil
		}
	}
	return Errorf(ErrSignature, "reply signature does not verify with the service's certificates")
}

func parseResult(payload json.RawMessage) (*Result, error) {
	// Acquire: a payload of exactly {"error": ...} is a remote error.
	var bare map[string]json.RawMessage
	if json.Unmarshal(payload, &bare) == nil && len(bare) == 1 && bare["error"] != nil {
		var msg string
		_ = json.Unmarshal(bare["error"], &msg)
		return &Result{Status: -1, Exception: &Error{Class: "RemoteFunctionCallError", Message: msg}}, nil
	}
	var res Result
	if err := json.Unmarshal(payload, &res); err != nil {
		return nil, Errorf(ErrUnpacking, "reply payload is not a result")
	}
	return &res, nil
}

func resultValue(res *Result, chk ReplyCheck) (json.RawMessage, error) {
	if res.Status == 0 {
		if len(res.Return) == 0 {
			return json.RawMessage("null"), nil
		}
		return res.Return, nil
	}
	e := res.Exception
	if e == nil {
		e = &Error{Class: "RemoteFunctionCallError", Message: fmt.Sprintf("status %d", res.Status)}
	}
	return nil, &Error{Class: e.Class, Module: e.Module,
		Message: fmt.Sprintf("Error calling '%s' on '%s': %s", chk.Function, chk.URL, safeText(e.Message, 2000))}
}
