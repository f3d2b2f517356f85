package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

// tokenSplit is where the OAEP-wrapped key ends and the Fernet token text
// begins in a hybrid ciphertext (RSA-2048 service keys).
const tokenSplit = 256

// reencoded returns the texts of one captured envelope that a lenient
// decoder would read as the same request: re-encoded Fernet token, re-encoded
// outer base64, and JSON-level rewrites that leave every decoded byte alone.
func reencoded(t *testing.T, body []byte) map[string][]byte {
	t.Helper()
	var o call.Outer
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	ct, err := crypto.UnB64(o.Data)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, token := ct[:tokenSplit], string(ct[tokenSplit:])
	withToken := func(tok string) []byte {
		c := o
		c.Data = crypto.B64(append(append([]byte(nil), wrapped...), tok...))
		b, _ := json.Marshal(&c)
		return b
	}
	withData := func(data string) []byte {
		c := o
		c.Data = data
		b, _ := json.Marshal(&c)
		return b
	}
	out := map[string][]byte{
		"token newline":      withToken(token[:30] + "\n" + token[30:]),
		"token crlf":         withToken(token[:30] + "\r\n" + token[30:]),
		"token cr":           withToken(token[:30] + "\r" + token[30:]),
		"token trailing lf":  withToken(token + "\n"),
		"token extra pad":    withToken(token + "="),
		"token std alphabet": withToken(strings.NewReplacer("-", "+", "_", "/").Replace(token)),
		"data newline":       withData(o.Data[:40] + "\n" + o.Data[40:]),
		"data url alphabet":  withData(strings.NewReplacer("+", "-", "/", "_").Replace(o.Data)),
		"data unpadded":      withData(strings.TrimRight(o.Data, "=")),
		"data escaped":       []byte(strings.Replace(string(body), `"data":"`, `"data":"\u00`+hexByte(o.Data[0]), 1)),
		"body as string":     mustJSON(t, string(body)),
		"body spaced":        append([]byte("  "), body...),
	}
	if trimmed := strings.TrimRight(token, "="); trimmed != token {
		out["token unpadded"] = withToken(trimmed)
	}
	return out
}

func hexByte(c byte) string { return fmt.Sprintf("%02x", c) }

func asCallError(err error, ce **call.Error) bool { return errors.As(err, ce) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A captured envelope re-sent in any other text form is refused, unrun:
// either its text is not canonical (UnpackingError) or it decodes to the
// same ciphertext and meets the replay marker (ReplayError).
func TestReencodedEnvelopeRunsOnce(t *testing.T) {
	f := newFixture(t)
	keys := f.keys(t)
	body, chk := f.pack(t, keys, "echo", &echoArgs{Text: strings.Repeat("long enough for the Fernet layer ", 4)}, f.clock.Now())
	status, reply := f.post(t, body)
	wantStatus(t, status, http.StatusOK)
	if _, err := call.UnpackReply(reply, chk); err != nil {
		t.Fatal(err)
	}
	for name, variant := range reencoded(t, body) {
		if string(variant) == string(body) {
			continue // e.g. a token without url-safe characters to swap
		}
		status, reply := f.post(t, variant)
		_, err := call.UnpackReply(reply, chk)
		var ce *call.Error
		if status == http.StatusOK || !asCallError(err, &ce) ||
			(ce.Class != call.ErrReplay.Class && ce.Class != call.ErrUnpacking.Class) {
			t.Errorf("%s: status %d, err %v; want ReplayError or UnpackingError", name, status, err)
		}
	}
	if n := f.echoCalls.Load(); n != 1 {
		t.Fatalf("one captured envelope ran echo %d times, want 1", n)
	}
}
