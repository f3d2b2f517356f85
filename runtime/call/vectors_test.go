package call_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

// The envelope vectors were produced by the original Python Acquire; the
// file's description.sections.envelope explains every field.

type vectorKey struct {
	Passphrase             string `json:"passphrase"`
	PrivateKeyEncryptedPEM string `json:"private_key_encrypted_pem"`
	PublicKeyPEM           string `json:"public_key_pem"`
	Fingerprint            string `json:"fingerprint"`
}

type vectorException struct {
	Class   string `json:"class"`
	Module  string `json:"module"`
	Message string `json:"message"`
}

type envelopeVectors struct {
	ServiceURL string          `json:"service_url"`
	Function   string          `json:"function"`
	Args       json.RawMessage `json:"args"`
	Request    struct {
		Body             string `json:"body"`
		InnerJSON        string `json:"inner_json"`
		ExpectedUnpacked struct {
			Function                      string          `json:"function"`
			Args                          json.RawMessage `json:"args"`
			EncryptionPublicKeyPEM        string          `json:"encryption_public_key_pem"`
			EncryptionPublicKeyFingerprin string          `json:"encryption_public_key_fingerprint"`
			SignWithServiceKey            string          `json:"sign_with_service_key"`
		} `json:"expected_unpacked"`
	} `json:"request"`
	Response struct {
		FunctionReturnValue json.RawMessage `json:"function_return_value"`
		Body                string          `json:"body"`
		InnerJSON           string          `json:"inner_json"`
		ExpectedReturn      json.RawMessage `json:"expected_return"`
	} `json:"response"`
	ErrorResponse struct {
		Body              string          `json:"body"`
		InnerJSON         string          `json:"inner_json"`
		ExpectedException vectorException `json:"expected_exception"`
	} `json:"error_response"`
	PlainRequest struct {
		Body             string `json:"body"`
		ExpectedUnpacked struct {
			Function string          `json:"function"`
			Args     json.RawMessage `json:"args"`
		} `json:"expected_unpacked"`
	} `json:"plain_request"`
	PlainResponse struct {
		Body                  string          `json:"body"`
		ExpectedReturn        json.RawMessage `json:"expected_return"`
		WhenSignatureExpected string          `json:"when_signature_expected"`
	} `json:"plain_response"`
	PlainErrorResponse struct {
		Body                         string          `json:"body"`
		ExpectedException            vectorException `json:"expected_exception"`
		RaisedEvenWhenSignatureExpec bool            `json:"raised_even_when_signature_expected"`
	} `json:"plain_error_response"`
	PlainScalarResponse struct {
		Body                string          `json:"body"`
		FunctionReturnValue json.RawMessage `json:"function_return_value"`
		ExpectedReturn      json.RawMessage `json:"expected_return"`
	} `json:"plain_scalar_response"`
	PlainNoneResponse struct {
		Body                string          `json:"body"`
		FunctionReturnValue json.RawMessage `json:"function_return_value"`
		ExpectedReturn      json.RawMessage `json:"expected_return"`
	} `json:"plain_none_response"`
}

type vectorFile struct {
	RSA struct {
		Keys map[string]vectorKey `json:"keys"`
	} `json:"rsa"`
	Envelope envelopeVectors `json:"envelope"`
}

type vectors struct {
	env     *envelopeVectors
	keys    map[string]vectorKey
	service *crypto.PrivateKey // rsa.keys.service_key
	cert    *crypto.PrivateKey // rsa.keys.service_certificate
	reply   *crypto.PrivateKey // rsa.keys.reply_key
}

var (
	vecOnce sync.Once
	vecData *vectors
	vecErr  error
)

// vectorsPath is the repository's own copy of the vectors (testdata/README.md names their
// source); ACQUIRE_VECTORS points at another file, e.g. a newly generated one.
func vectorsPath() string {
	if p := os.Getenv("ACQUIRE_VECTORS"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "testdata", "acquire-crypto-vectors.json")
}

// loadVectors parses the file and unlocks its three RSA keys once.
func loadVectors(t *testing.T) *vectors {
	t.Helper()
	vecOnce.Do(func() {
		raw, err := os.ReadFile(vectorsPath())
		if err != nil {
			vecErr = err
			return
		}
		var f vectorFile
		if vecErr = json.Unmarshal(raw, &f); vecErr != nil {
			return
		}
		v := &vectors{env: &f.Envelope, keys: f.RSA.Keys}
		for name, dst := range map[string]**crypto.PrivateKey{
			"service_key": &v.service, "service_certificate": &v.cert, "reply_key": &v.reply} {
			k, ok := f.RSA.Keys[name]
			if !ok {
				vecErr = errors.New("vectors have no rsa.keys." + name)
				return
			}
			if *dst, vecErr = crypto.ParseEncryptedPEM([]byte(k.PrivateKeyEncryptedPEM), k.Passphrase); vecErr != nil {
				return
			}
			if (*dst).Fingerprint() != k.Fingerprint {
				vecErr = errors.New("fingerprint of rsa.keys." + name + " does not match its key")
				return
			}
		}
		vecData = v
	})
	if vecErr != nil {
		t.Fatalf("loading %s: %v", vectorsPath(), vecErr)
	}
	return vecData
}

// jsonEqual compares two JSON texts by value, not by spelling.
func jsonEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got is not JSON: %v (%s)", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want is not JSON: %v (%s)", what, err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, got, want)
	}
}

func wantClass(t *testing.T, err error, class *call.Error) *call.Error {
	t.Helper()
	var ce *call.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a *call.Error of class %s, got %T: %v", class.Class, err, err)
	}
	if ce.Class != class.Class {
		t.Fatalf("want class %s, got %s (%v)", class.Class, ce.Class, err)
	}
	if !errors.Is(err, class) {
		t.Fatalf("errors.Is(err, %s) is false for %v", class.Class, err)
	}
	return ce
}

func (v *vectors) keyFinder(t *testing.T) call.KeyFinder {
	return func(fp string) (*crypto.PrivateKey, error) {
		if fp != v.service.Fingerprint() {
			t.Errorf("request names key %q, want the service key %q", fp, v.service.Fingerprint())
			return nil, errors.New("unknown key")
		}
		return v.service, nil
	}
}

func (v *vectors) signedCheck() call.ReplyCheck {
	return call.ReplyCheck{ReplyKey: v.reply, Certs: []*crypto.PublicKey{v.cert.Public()},
		Function: v.env.Function, URL: v.env.ServiceURL}
}

func TestVectorRequestUnpacks(t *testing.T) {
	v := loadVectors(t)
	want := v.env.Request.ExpectedUnpacked
	req, err := call.UnpackRequest([]byte(v.env.Request.Body), v.keyFinder(t))
	if err != nil {
		t.Fatal(err)
	}
	if req.Function != want.Function || req.Function != v.env.Function {
		t.Fatalf("function %q, want %q", req.Function, want.Function)
	}
	jsonEqual(t, "args", req.Args, want.Args)
	jsonEqual(t, "args vs envelope.args", req.Args, v.env.Args)
	if req.ReplyKey == nil {
		t.Fatal("no reply key unpacked")
	}
	if string(req.ReplyKey.PEM()) != want.EncryptionPublicKeyPEM {
		t.Fatalf("reply key PEM\n got  %q\n want %q", req.ReplyKey.PEM(), want.EncryptionPublicKeyPEM)
	}
	if req.ReplyKey.Fingerprint() != want.EncryptionPublicKeyFingerprin || req.ReplyKey.Fingerprint() != v.reply.Fingerprint() {
		t.Fatalf("reply key fingerprint %s, want %s", req.ReplyKey.Fingerprint(), want.EncryptionPublicKeyFingerprin)
	}
	if req.SignWith != want.SignWithServiceKey || req.SignWith != v.cert.Fingerprint() {
		t.Fatalf("sign_with_service_key %q, want %q", req.SignWith, want.SignWithServiceKey)
	}
	if !req.Encrypted || len(req.Ciphertext) == 0 {
		t.Fatalf("encrypted=%v, %d ciphertext bytes: an encrypted request must say so", req.Encrypted, len(req.Ciphertext))
	}
	var inner struct {
		SyncTime string `json:"synctime"`
	}
	if err := json.Unmarshal([]byte(v.env.Request.InnerJSON), &inner); err != nil {
		t.Fatal(err)
	}
	if got := call.FormatSyncTime(req.SyncTime); got != inner.SyncTime {
		t.Fatalf("synctime read as %s, written back as %q, want %q", req.SyncTime, got, inner.SyncTime)
	}
}

func TestVectorRequestWrongKeyIsUnpackingError(t *testing.T) {
	v := loadVectors(t)
	// The envelope names the service key, but the service only holds another one.
	_, err := call.UnpackRequest([]byte(v.env.Request.Body), func(string) (*crypto.PrivateKey, error) {
		return v.cert, nil
	})
	wantClass(t, err, call.ErrUnpacking)
	_, err = call.UnpackRequest([]byte(v.env.Request.Body), func(string) (*crypto.PrivateKey, error) {
		return nil, errors.New("no such key")
	})
	wantClass(t, err, call.ErrUnpacking)
}

func TestVectorResponseUnpacks(t *testing.T) {
	v := loadVectors(t)
	got, err := call.UnpackReply([]byte(v.env.Response.Body), v.signedCheck())
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "return", got, v.env.Response.ExpectedReturn)
}

func TestVectorErrorResponseUnpacks(t *testing.T) {
	v := loadVectors(t)
	want := v.env.ErrorResponse.ExpectedException
	got, err := call.UnpackReply([]byte(v.env.ErrorResponse.Body), v.signedCheck())
	if got != nil {
		t.Fatalf("an error reply returned a value: %s", got)
	}
	ce := wantClass(t, err, call.ErrPermission)
	if ce.Class != want.Class || ce.Module != want.Module || ce.Message != want.Message {
		t.Fatalf("error %+v, want %+v", *ce, want)
	}
}

func TestVectorPlainRequestUnpacks(t *testing.T) {
	v := loadVectors(t)
	req, err := call.UnpackRequest([]byte(v.env.PlainRequest.Body), func(string) (*crypto.PrivateKey, error) {
		t.Error("a clear request must not look for a key")
		return nil, errors.New("no key")
	})
	if err != nil {
		t.Fatal(err)
	}
	want := v.env.PlainRequest.ExpectedUnpacked
	if req.Function != want.Function {
		t.Fatalf("function %q, want %q", req.Function, want.Function)
	}
	jsonEqual(t, "args", req.Args, want.Args)
	if req.Encrypted || req.ReplyKey != nil || req.SignWith != "" {
		t.Fatalf("clear request unpacked as encrypted=%v replyKey=%v signWith=%q", req.Encrypted, req.ReplyKey != nil, req.SignWith)
	}
}

func TestVectorPlainResponse(t *testing.T) {
	v := loadVectors(t)
	body := []byte(v.env.PlainResponse.Body)

	// A clear success is refused when a signed reply was asked for.
	got, err := call.UnpackReply(body, v.signedCheck())
	ce := wantClass(t, err, call.ErrUnpacking)
	if ce.Class != v.env.PlainResponse.WhenSignatureExpected {
		t.Fatalf("class %s, want %s", ce.Class, v.env.PlainResponse.WhenSignatureExpected)
	}
	if got != nil {
		t.Fatalf("refused reply still returned %s", got)
	}

	// Without a signature expected, it is the return value.
	got, err = call.UnpackReply(body, call.ReplyCheck{Function: v.env.Function, URL: v.env.ServiceURL})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "plain return", got, v.env.PlainResponse.ExpectedReturn)
}

func TestVectorPlainErrorResponse(t *testing.T) {
	v := loadVectors(t)
	want := v.env.PlainErrorResponse.ExpectedException
	if !v.env.PlainErrorResponse.RaisedEvenWhenSignatureExpec {
		t.Fatal("vector says the clear error is not raised when a signature is expected; this test assumes it is")
	}
	for name, chk := range map[string]call.ReplyCheck{
		"signature expected":    v.signedCheck(),
		"no signature expected": {Function: v.env.Function, URL: v.env.ServiceURL},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := call.UnpackReply([]byte(v.env.PlainErrorResponse.Body), chk)
			ce := wantClass(t, err, call.ErrPermission)
			if ce.Class != want.Class || ce.Module != want.Module || ce.Message != want.Message {
				t.Fatalf("error %+v, want %+v", *ce, want)
			}
			if strings.Contains(err.Error(), "traceback") || strings.Contains(err.Error(), "make_crypto_vectors") {
				t.Fatalf("the remote traceback leaked into the error: %v", err)
			}
		})
	}
}

func TestVectorPlainScalarAndNone(t *testing.T) {
	v := loadVectors(t)
	chk := call.ReplyCheck{Function: v.env.Function, URL: v.env.ServiceURL}
	got, err := call.UnpackReply([]byte(v.env.PlainScalarResponse.Body), chk)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "scalar", got, v.env.PlainScalarResponse.ExpectedReturn)

	got, err = call.UnpackReply([]byte(v.env.PlainNoneResponse.Body), chk)
	if err != nil {
		t.Fatal(err)
	}
	if string(v.env.PlainNoneResponse.ExpectedReturn) != "null" || string(got) != "null" {
		t.Fatalf("none response returned %s, want null (vector says %s)", got, v.env.PlainNoneResponse.ExpectedReturn)
	}
}

// reencode rewrites an outer envelope after changing it.
func reencode(t *testing.T, body string, change func(o *call.Outer)) []byte {
	t.Helper()
	var o call.Outer
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	change(&o)
	b, err := json.Marshal(&o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectorResponseTamperedDataIsSignatureError(t *testing.T) {
	v := loadVectors(t)
	for _, pos := range []string{"start", "middle", "end"} {
		t.Run(pos, func(t *testing.T) {
			body := reencode(t, v.env.Response.Body, func(o *call.Outer) {
				ct, err := crypto.UnB64(o.Data)
				if err != nil {
					t.Fatal(err)
				}
				i := map[string]int{"start": 0, "middle": len(ct) / 2, "end": len(ct) - 1}[pos]
				ct[i] ^= 0x01
				o.Data = crypto.B64(ct)
			})
			got, err := call.UnpackReply(body, v.signedCheck())
			wantClass(t, err, call.ErrSignature)
			if got != nil {
				t.Fatalf("tampered reply returned %s", got)
			}
		})
	}
}

func TestVectorResponseForeignSignatureIsSignatureError(t *testing.T) {
	v := loadVectors(t)
	// Signed over the right ciphertext, but by a key that is not the service's.
	body := reencode(t, v.env.Response.Body, func(o *call.Outer) {
		ct, err := crypto.UnB64(o.Data)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := v.reply.Sign(ct)
		if err != nil {
			t.Fatal(err)
		}
		o.Signature = crypto.B64(sig)
	})
	_, err := call.UnpackReply(body, v.signedCheck())
	wantClass(t, err, call.ErrSignature)

	// The genuine reply checked against another certificate is refused too.
	chk := v.signedCheck()
	chk.Certs = []*crypto.PublicKey{v.service.Public()}
	_, err = call.UnpackReply([]byte(v.env.Response.Body), chk)
	wantClass(t, err, call.ErrSignature)

	// And an unsigned encrypted reply, when one was expected.
	body = reencode(t, v.env.Response.Body, func(o *call.Outer) { o.Signature = "" })
	_, err = call.UnpackReply(body, v.signedCheck())
	wantClass(t, err, call.ErrSignature)
}

// payloadOf returns the 'payload' member of a clear reply body.
func payloadOf(t *testing.T, body string) json.RawMessage {
	t.Helper()
	var o struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	return o.Payload
}

func TestWrapReturnMatchesPythonShapes(t *testing.T) {
	v := loadVectors(t)
	cases := []struct {
		name  string
		value json.RawMessage
		body  string
	}{
		{"dict", v.env.Response.FunctionReturnValue, v.env.PlainResponse.Body},
		{"scalar", v.env.PlainScalarResponse.FunctionReturnValue, v.env.PlainScalarResponse.Body},
		{"none", v.env.PlainNoneResponse.FunctionReturnValue, v.env.PlainNoneResponse.Body},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var value any
			if err := json.Unmarshal(c.value, &value); err != nil {
				t.Fatal(err)
			}
			res, err := call.WrapReturn(value)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, "wrapped "+c.name, got, payloadOf(t, c.body))
		})
	}
	// Go values of other shapes wrap the same way: a struct is an object,
	// a nil pointer is None, a string is a scalar.
	type point struct {
		X int `json:"x"`
	}
	for _, c := range []struct {
		value any
		want  string
	}{
		{&point{X: 1}, `{"status":0,"return":{"x":1}}`},
		{(*point)(nil), `{"status":0}`},
		{"text", `{"status":0,"return":{"result":"text"}}`},
		{[]int{1, 2}, `{"status":0,"return":{"result":[1,2]}}`},
	} {
		res, err := call.WrapReturn(c.value)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(res)
		jsonEqual(t, "wrapped Go value", got, []byte(c.want))
	}
}

func TestWrapErrorMatchesPythonShape(t *testing.T) {
	v := loadVectors(t)
	// The error vector's payload, without the traceback Acquire-Go never sends.
	var want struct {
		Payload struct {
			Status    int `json:"status"`
			Exception struct {
				Class  string `json:"class"`
				Module string `json:"module"`
				Error  string `json:"error"`
			} `json:"exception"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(v.env.ErrorResponse.InnerJSON), &want); err != nil {
		t.Fatal(err)
	}
	e := want.Payload.Exception
	res := call.WrapError(&call.Error{Class: e.Class, Module: e.Module, Message: e.Error})
	got, _ := json.Marshal(res)
	wantJSON, _ := json.Marshal(map[string]any{"status": want.Payload.Status,
		"exception": map[string]string{"class": e.Class, "module": e.Module, "error": e.Error}})
	jsonEqual(t, "wrapped error", got, wantJSON)
}

// TestPackRequestMatchesVector packs the vector's call with the vector's
// keys and checks the service sees exactly the inner object Python wrote.
func TestPackRequestMatchesVector(t *testing.T) {
	v := loadVectors(t)
	var inner map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v.env.Request.InnerJSON), &inner); err != nil {
		t.Fatal(err)
	}
	var syncText string
	_ = json.Unmarshal(inner["synctime"], &syncText)
	now, err := call.ParseSyncTime(syncText)
	if err != nil {
		t.Fatal(err)
	}
	var args any
	if err := json.Unmarshal(v.env.Args, &args); err != nil {
		t.Fatal(err)
	}
	body, err := call.PackRequest(v.service.Public(), v.reply.Public(), v.cert.Fingerprint(), v.env.Function, args, "", now)
	if err != nil {
		t.Fatal(err)
	}
	var outer call.Outer
	if err := json.Unmarshal(body, &outer); err != nil {
		t.Fatal(err)
	}
	if !outer.Encrypted || outer.Fingerprint != v.service.Fingerprint() || outer.SyncTime != syncText || outer.Payload != nil || outer.Function != nil {
		t.Fatalf("outer envelope %+v", outer)
	}
	if bytes.Contains(body, []byte("deposits")) {
		t.Fatal("the arguments are readable in the packed body")
	}
	ct, err := crypto.UnB64(outer.Data)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := v.service.Decrypt(ct)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "inner request", plain, []byte(v.env.Request.InnerJSON))
	// And it unpacks as the vector does.
	req, err := call.UnpackRequest(body, v.keyFinder(t))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "args", req.Args, v.env.Request.ExpectedUnpacked.Args)
}

// TestPackReplyMatchesVector answers the vector's request as a Go service
// would and checks the client reads the value Python's client would.
func TestPackReplyMatchesVector(t *testing.T) {
	v := loadVectors(t)
	req, err := call.UnpackRequest([]byte(v.env.Request.Body), v.keyFinder(t))
	if err != nil {
		t.Fatal(err)
	}
	var value any
	if err := json.Unmarshal(v.env.Response.FunctionReturnValue, &value); err != nil {
		t.Fatal(err)
	}
	res, err := call.WrapReturn(value)
	if err != nil {
		t.Fatal(err)
	}
	certs := func(fp string) (*crypto.PrivateKey, error) {
		if fp != v.cert.Fingerprint() {
			return nil, errors.New("no such certificate")
		}
		return v.cert, nil
	}
	body, err := call.PackReply(req, res, certs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var outer call.Outer
	if err := json.Unmarshal(body, &outer); err != nil {
		t.Fatal(err)
	}
	if outer.Signature == "" || !outer.Encrypted || outer.Fingerprint != v.reply.Fingerprint() {
		t.Fatalf("reply outer %+v: want signed, encrypted to the reply key", outer)
	}
	got, err := call.UnpackReply(body, v.signedCheck())
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "return", got, v.env.Response.ExpectedReturn)

	// Decrypted, the reply has Python's inner shape: payload, synctime, function null.
	ct, _ := crypto.UnB64(outer.Data)
	plain, err := v.reply.Decrypt(ct)
	if err != nil {
		t.Fatal(err)
	}
	var inner, want map[string]json.RawMessage
	if err := json.Unmarshal(plain, &inner); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(v.env.Response.InnerJSON), &want); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "reply payload", inner["payload"], want["payload"])
	if string(inner["function"]) != "null" || len(inner) != 3 {
		t.Fatalf("reply inner %s: want payload, synctime and function null", plain)
	}
	var syncText string
	_ = json.Unmarshal(inner["synctime"], &syncText)
	if syncText != outer.SyncTime {
		t.Fatalf("inner synctime %q differs from outer %q", syncText, outer.SyncTime)
	}

	// A request asking for a certificate the service does not hold is refused.
	req.SignWith = v.service.Fingerprint()
	if _, err := call.PackReply(req, res, certs, time.Now()); !errors.Is(err, call.ErrUnpacking) {
		t.Fatalf("signing with an unknown certificate: %v", err)
	}
}

func TestSyncTimeRoundTrip(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 29, 3, 27, 19, 0, time.UTC), "2026-11-29T03:27:19"},
		{time.Date(2026, 11, 29, 3, 27, 19, 323067000, time.UTC), "2026-11-29T03:27:19.323067"},
		// Python's isoformat always writes six digits when there are any.
		{time.Date(2026, 11, 29, 3, 27, 19, 320000000, time.UTC), "2026-11-29T03:27:19.320000"},
		{time.Date(2026, 1, 2, 3, 4, 5, 1000, time.UTC), "2026-01-02T03:04:05.000001"},
		{time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC), "2026-01-02T03:04:05.500000"},
		// Below a microsecond Python has nothing to write.
		{time.Date(2026, 1, 2, 3, 4, 5, 999, time.UTC), "2026-01-02T03:04:05"},
		// Any zone is written as UTC.
		{time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600)), "2026-01-02T03:04:05"},
	}
	for _, c := range cases {
		got := call.FormatSyncTime(c.t)
		if got != c.want {
			t.Errorf("FormatSyncTime(%s) = %q, want %q", c.t, got, c.want)
			continue
		}
		back, err := call.ParseSyncTime(got)
		if err != nil {
			t.Errorf("ParseSyncTime(%q): %v", got, err)
			continue
		}
		if !back.Equal(c.t.Truncate(time.Microsecond)) || back.Location() != time.UTC {
			t.Errorf("ParseSyncTime(%q) = %s, want %s in UTC", got, back, c.t.UTC().Truncate(time.Microsecond))
		}
	}
	// Every synctime in the vectors reads and writes back unchanged.
	v := loadVectors(t)
	for _, body := range []string{v.env.Request.Body, v.env.Response.Body, v.env.ErrorResponse.Body,
		v.env.PlainRequest.Body, v.env.PlainResponse.Body, v.env.PlainScalarResponse.Body, v.env.PlainNoneResponse.Body} {
		var o call.Outer
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			t.Fatal(err)
		}
		tm, err := call.ParseSyncTime(o.SyncTime)
		if err != nil {
			t.Fatalf("vector synctime %q: %v", o.SyncTime, err)
		}
		if got := call.FormatSyncTime(tm); got != o.SyncTime {
			t.Errorf("vector synctime %q written back as %q", o.SyncTime, got)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-11-29 03:27:19", "2026-13-01T00:00:00"} {
		if _, err := call.ParseSyncTime(bad); !errors.Is(err, call.ErrUnpacking) {
			t.Errorf("ParseSyncTime(%q) = %v, want UnpackingError", bad, err)
		}
	}
}

func TestUnpackBodyLimitsAndStringWrapping(t *testing.T) {
	v := loadVectors(t)
	// Acquire sometimes sends the envelope as a JSON string holding JSON.
	wrapped, _ := json.Marshal(v.env.PlainRequest.Body)
	req, err := call.UnpackRequest(wrapped, v.keyFinder(t))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "args", req.Args, v.env.PlainRequest.ExpectedUnpacked.Args)

	big := bytes.Repeat([]byte(" "), call.MaxBodyBytes+1)
	if _, err := call.UnpackRequest(big, v.keyFinder(t)); !errors.Is(err, call.ErrTooLarge) {
		t.Fatalf("oversized body: %v", err)
	}
	if _, err := call.UnpackReply(big, v.signedCheck()); !errors.Is(err, call.ErrTooLarge) {
		t.Fatalf("oversized reply: %v", err)
	}
	for _, bad := range []string{"", "null", "[]", "not json", `{"payload": {}, "synctime": "2026-11-29T03:27:19"}`,
		`{"payload": {}, "synctime": "2026-11-29T03:27:19", "function": ""}`,
		`{"payload": {}, "synctime": "whenever", "function": "f"}`} {
		if _, err := call.UnpackRequest([]byte(bad), v.keyFinder(t)); !errors.Is(err, call.ErrUnpacking) {
			t.Errorf("UnpackRequest(%q) = %v, want UnpackingError", bad, err)
		}
	}
}
