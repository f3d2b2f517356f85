package call_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

// envelopeSeeds are the original Acquire's request and reply bodies.
func envelopeSeeds(f *testing.F) *envelopeVectors {
	f.Helper()
	raw, err := os.ReadFile(vectorsPath())
	if err != nil {
		f.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		f.Fatal(err)
	}
	return &v.Envelope
}

// typedCall fails unless err is a *call.Error: outside input never makes an
// untyped error (which a service would answer as internal).
func typedCall(t *testing.T, what string, err error) *call.Error {
	t.Helper()
	var ce *call.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: untyped error %v", what, err)
	}
	return ce
}

// FuzzUnpackRequest: both layers of a request (the clear outer JSON, then the
// RSA/Fernet ciphertext and the inner JSON) either give a request naming a
// function, with its time and a JSON object of arguments, or a typed error.
func FuzzUnpackRequest(f *testing.F) {
	env := envelopeSeeds(f)
	f.Add([]byte(env.Request.Body))
	f.Add([]byte(env.PlainRequest.Body))
	f.Add([]byte(`"` + `{\"encrypted\": false, \"function\": \"f\", \"payload\": {}, \"synctime\": \"2026-11-29T03:27:19.000000\"}` + `"`))
	f.Add([]byte(`{"encrypted": true, "data": "AAAA", "fingerprint": "x", "synctime": "2026-11-29T03:27:19.000000"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v := loadVectors(t)
		keys := func(fp string) (*crypto.PrivateKey, error) {
			if fp != v.service.Fingerprint() {
				return nil, errors.New("unknown key")
			}
			return v.service, nil
		}
		req, err := call.UnpackRequest(body, keys)
		if err != nil {
			typedCall(t, "UnpackRequest", err)
			return
		}
		if req.Function == "" || len(req.Function) > call.MaxFunctionBytes || req.SyncTime.IsZero() {
			t.Fatalf("UnpackRequest accepted %+v", req)
		}
		var args map[string]json.RawMessage
		if err := json.Unmarshal(req.Args, &args); err != nil {
			t.Fatalf("accepted arguments are not a JSON object: %s", req.Args)
		}
	})
}

// FuzzUnpackReply: a reply either verifies and decrypts to its return value
// or fails typed; with a signature required, an unsigned success is refused.
func FuzzUnpackReply(f *testing.F) {
	env := envelopeSeeds(f)
	for _, b := range []string{env.Response.Body, env.ErrorResponse.Body, env.PlainResponse.Body,
		env.PlainErrorResponse.Body, env.PlainScalarResponse.Body, env.PlainNoneResponse.Body} {
		f.Add([]byte(b), true)
		f.Add([]byte(b), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		v := loadVectors(t)
		chk := call.ReplyCheck{ReplyKey: v.reply, Function: v.env.Function, URL: v.env.ServiceURL}
		if signed {
			chk.Certs = []*crypto.PublicKey{v.cert.Public()}
		}
		if _, err := call.UnpackReply(body, chk); err != nil {
			typedCall(t, "UnpackReply", err)
		}
	})
}
