package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/web"
	"github.com/openacquire/acquire/runtime/web/browsertest"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

// vectors is the file made by the original Acquire, read loosely: the
// test compares what the browser computes with the values it holds.
func vectors(t *testing.T) (raw []byte, v map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "acquire-crypto-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return raw, v
}

func obj(v any, path ...string) map[string]any {
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v.(map[string]any)
}

func list(v any, path ...string) []any {
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v.([]any)
}

func str(v any, key string) string { return v.(map[string]any)[key].(string) }

// pageWithKeys serves the pages pinned to the vectors' service keys and
// opens the login page, which loads acquire.js.
func pageWithKeys(t *testing.T, v map[string]any) context.Context {
	t.Helper()
	keys := obj(v, "rsa", "keys")
	pinned := web.PinnedKeys{KeyPublic: str(keys["service_key"], "public_key_pem"), KeyFingerprint: str(keys["service_key"], "fingerprint"),
		CertPublic: str(keys["service_certificate"], "public_key_pem"), CertFingerprint: str(keys["service_certificate"], "fingerprint")}
	var srv *httptest.Server
	h := web.Handler("/identity/web/", web.Options{Keys: func(context.Context) (map[string]web.PinnedKeys, error) {
		p := pinned
		p.URL = srv.URL + "/identity"
		return map[string]web.PinnedKeys{"identity": p}, nil
	}})
	srv = httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tab := browsertest.Tab(t)
	ctx, cancel := context.WithTimeout(tab, 2*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/identity/web/login"), chromedp.WaitVisible(chromedp.CSS("#submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.acquire !== undefined && document.body.dataset.ready !== undefined`)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// harness runs acquire.js over every vector in the browser and returns
// what it computed; the Go side compares.
const harness = `(async (V) => {
  const A = window.acquire;
  const out = { fernet: [], fernetEnc: [], serial: [], passKeys: [], rsaShort: [], rsaLong: [], fp: {}, pss: [], pssNeg: [], md5: [], env: {} };
  const caught = async (f) => { try { return { value: await f() }; } catch (e) { return { class: e.cls || e.name, message: e.message }; } };
  for (const v of V.fernet.vectors) {
    const k = A.parseFernetKey(v.key);
    out.fernet.push(A.b64(await A.fernetDecrypt(k, v.token)));
    out.fernetEnc.push(await A.fernetEncrypt(k, A.unb64(v.plaintext_b64), v.token_fields.timestamp, A.unhex(v.token_fields.iv_hex)));
  }
  for (const v of V.fernet.serialised_keys) {
    const pk = A.utf8(A.md5(A.utf8(v.passphrase)));
    out.serial.push(A.fromUtf8(await A.fernetDecrypt(pk, A.fromUtf8(A.unb64(v.to_data.bytes)))));
  }
  for (const v of V.symmetric_key_from_passphrase) {
    const pk = A.utf8(A.md5(A.utf8(v.passphrase)));
    out.passKeys.push({ md5: A.md5(A.utf8(v.passphrase)), key: A.b64url(pk), fp: A.fingerprint(A.b64url(pk)),
      pt: A.b64(await A.fernetDecrypt(pk, v.token)) });
  }
  const keys = {};
  for (const [name, k] of Object.entries(V.rsa.keys)) {
    const pem = k.private_key_pkcs8_pem_unencrypted;
    keys[name] = { dec: await A.importPrivate(pem, "decrypt"), sign: await A.importPrivate(pem, "sign"),
      enc: await A.importPublic(k.public_key_pem, "encrypt"), ver: await A.importPublic(k.public_key_pem, "verify") };
    out.fp[name] = A.fingerprint(k.public_key_pem);
  }
  for (const v of V.rsa_encrypt_short) out.rsaShort.push(A.b64(await A.decryptWith(keys[v.key].dec, A.unb64(v.ciphertext_b64))));
  for (const v of V.rsa_encrypt_long) out.rsaLong.push(A.b64(await A.decryptWith(keys[v.key].dec, A.unb64(v.ciphertext_b64))));
  for (const v of V.pss_sign.vectors) out.pss.push(await A.verifyPSS(keys[v.key].ver, A.unb64(v.message_b64), A.unb64(v.signature_b64)));
  for (const v of V.pss_sign.negative) out.pssNeg.push(await A.verifyPSS(keys[v.key].ver, A.unb64(v.message_b64), A.unb64(v.signature_b64)));
  for (const v of V.hashes.md5) out.md5.push(A.md5(A.unb64(v.input_b64)));
  out.browserSig = A.b64(await A.signPSS(keys.service_certificate.sign, A.utf8("signed in the browser")));
  out.browserShortCt = A.b64(await A.encryptTo(keys.service_key.enc, A.utf8("short, to OAEP")));
  out.browserLongCt = A.b64(await A.encryptTo(keys.service_key.enc, A.utf8("long ".repeat(200))));

  const E = V.envelope, cert = keys.service_certificate.ver, reply = keys.reply_key.dec;
  const outer = JSON.parse(E.request.body);
  out.env.requestInner = A.fromUtf8(await A.decryptWith(keys.service_key.dec, A.unb64(outer.data)));
  out.env.response = await caught(() => A.unpackReply(E.response.body, reply, [cert]));
  out.env.error = await caught(() => A.unpackReply(E.error_response.body, reply, [cert], E.function, E.service_url));
  out.env.plainWhenSigned = await caught(() => A.unpackReply(E.plain_response.body, reply, [cert]));
  out.env.plainError = await caught(() => A.unpackReply(E.plain_error_response.body, reply, [cert]));
  out.env.plainScalar = await caught(() => A.unpackReply(E.plain_scalar_response.body, null, []));
  out.env.plainNone = await caught(() => A.unpackReply(E.plain_none_response.body, null, []));
  out.env.otherSigner = await caught(() => A.unpackReply(E.response.body, reply, [keys.reply_key.ver]));
  const o = JSON.parse(E.response.body);
  o.signature = A.b64(A.unb64(o.signature).map((b, i) => (i === 7 ? b ^ 1 : b)));
  out.env.tampered = await caught(() => A.unpackReply(JSON.stringify(o), reply, [cert]));
  out.env.packed = await A.packRequest(keys.service_key.enc, V.rsa.keys.service_key.fingerprint,
    V.rsa.keys.reply_key.public_key_pem, V.rsa.keys.service_certificate.fingerprint, E.function, E.args, "idem-browser", new Date());

  // Per-call cost of the browser's crypto: pack a request (OAEP + Fernet), unpack a signed reply.
  const times = { pack: [], unpack: [] };
  for (let i = 0; i < 20; i++) {
    let t = performance.now();
    await A.packRequest(keys.service_key.enc, "fp", V.rsa.keys.reply_key.public_key_pem, "fp", E.function, E.args, "", new Date());
    times.pack.push(performance.now() - t);
    t = performance.now();
    await A.unpackReply(E.response.body, reply, [cert]);
    times.unpack.push(performance.now() - t);
  }
  out.times = times;
  return out;
})`

type harnessOut struct {
	Fernet, FernetEnc, Serial, RSAShort, RSALong, MD5 []string
	PassKeys                                          []map[string]string
	FP                                                map[string]string
	PSS, PSSNeg                                       []bool
	BrowserSig, BrowserShortCt, BrowserLongCt         string
	Env                                               struct {
		RequestInner                                  string
		Response, Error, PlainWhenSigned, PlainError  caught
		PlainScalar, PlainNone, OtherSigner, Tampered caught
		Packed                                        string
	}
	Times struct{ Pack, Unpack []float64 }
}

type caught struct {
	Value   json.RawMessage `json:"value"`
	Class   string          `json:"class"`
	Message string          `json:"message"`
}

// TestBrowserCryptoMatchesAcquireVectors runs the page's own acquire.js in
// Chromium over the vectors made by the original Acquire: Fernet tokens
// reproduced byte for byte, RSA-OAEP (short and hybrid) decrypted, PSS
// signatures verified and forgeries refused, MD5 fingerprints, the
// envelope's request opened and its replies unpacked (a reply signed by a
// key other than the pinned certificate refused), and what the browser
// makes (signature, ciphertexts, a whole request) opened by the Go code.
func TestBrowserCryptoMatchesAcquireVectors(t *testing.T) {
	raw, v := vectors(t)
	ctx := pageWithKeys(t, v)
	var out harnessOut
	res, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](harness+"("+string(raw)+")", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatal(err)
	}
	for i, x := range list(v, "fernet", "vectors") {
		if out.Fernet[i] != str(x, "plaintext_b64") || out.FernetEnc[i] != str(x, "token") {
			t.Errorf("fernet %s: decrypted %q, encrypted %q", str(x, "name"), out.Fernet[i], out.FernetEnc[i])
		}
	}
	for i, x := range list(v, "fernet", "serialised_keys") {
		if out.Serial[i] != str(x, "key") {
			t.Errorf("serialised fernet key %s: %q", str(x, "name"), out.Serial[i])
		}
	}
	for i, x := range list(v, "symmetric_key_from_passphrase") {
		got := out.PassKeys[i]
		if got["md5"] != str(x, "md5_hex") || got["key"] != str(x, "key") || got["fp"] != str(x, "key_fingerprint") || got["pt"] != str(x, "plaintext_b64") {
			t.Errorf("passphrase key %s: %v", str(x, "name"), got)
		}
	}
	for name, k := range obj(v, "rsa", "keys") {
		if out.FP[name] != str(k, "fingerprint") {
			t.Errorf("fingerprint of %s: %s", name, out.FP[name])
		}
	}
	for i, x := range list(v, "rsa_encrypt_short") {
		if out.RSAShort[i] != str(x, "plaintext_b64") {
			t.Errorf("rsa short %s", str(x, "name"))
		}
	}
	for i, x := range list(v, "rsa_encrypt_long") {
		if out.RSALong[i] != str(x, "plaintext_b64") {
			t.Errorf("rsa long %s", str(x, "name"))
		}
	}
	for i, x := range list(v, "pss_sign", "vectors") {
		if out.PSS[i] != x.(map[string]any)["must_verify"].(bool) {
			t.Errorf("pss %s: verified %v", str(x, "name"), out.PSS[i])
		}
	}
	for i, x := range list(v, "pss_sign", "negative") {
		if out.PSSNeg[i] {
			t.Errorf("pss negative %s verified", str(x, "name"))
		}
	}
	for i, x := range list(v, "hashes", "md5") {
		if out.MD5[i] != str(x, "md5") {
			t.Errorf("md5 %s: %s", str(x, "name"), out.MD5[i])
		}
	}
	checkEnvelope(t, v, &out)
	checkBrowserMade(t, v, &out)
	t.Logf("timing: browser crypto per call (20 runs): pack request %s, unpack signed reply %s", spread(out.Times.Pack), spread(out.Times.Unpack))
}

func checkEnvelope(t *testing.T, v map[string]any, out *harnessOut) {
	t.Helper()
	e := obj(v, "envelope")
	if out.Env.RequestInner != str(e["request"], "inner_json") {
		t.Errorf("request inner: %s", out.Env.RequestInner)
	}
	same := func(name string, got json.RawMessage, want any) {
		var g any
		if err := json.Unmarshal(got, &g); err != nil || !reflect.DeepEqual(g, want) {
			t.Errorf("%s: got %s, want %v", name, got, want)
		}
	}
	same("response", out.Env.Response.Value, obj(e, "response")["expected_return"])
	same("plain scalar", out.Env.PlainScalar.Value, obj(e, "plain_scalar_response")["expected_return"])
	if string(out.Env.PlainNone.Value) != "null" || out.Env.PlainNone.Class != "" {
		t.Errorf("plain none: %+v", out.Env.PlainNone)
	}
	wantErr := obj(e, "error_response", "expected_exception")
	if out.Env.Error.Class != wantErr["class"] || out.Env.Error.Message != wantErr["message"] {
		t.Errorf("error response: %+v, want %v", out.Env.Error, wantErr)
	}
	wantPlainErr := obj(e, "plain_error_response", "expected_exception")
	if out.Env.PlainError.Class != wantPlainErr["class"] {
		t.Errorf("plain error response: %+v, want %v", out.Env.PlainError, wantPlainErr)
	}
	for name, c := range map[string]caught{"a clear success when a signature was asked": out.Env.PlainWhenSigned,
		"a reply checked against another certificate": out.Env.OtherSigner, "a reply with a tampered signature": out.Env.Tampered} {
		if c.Class != "SignatureError" || c.Value != nil {
			t.Errorf("%s was not refused as a SignatureError: %+v", name, c)
		}
	}
}

// checkBrowserMade opens in Go what the browser made.
func checkBrowserMade(t *testing.T, v map[string]any, out *harnessOut) {
	t.Helper()
	keys := obj(v, "rsa", "keys")
	priv := func(name string) *crypto.PrivateKey {
		k, err := crypto.ParsePrivatePEM([]byte(str(keys[name], "private_key_pkcs8_pem_unencrypted")))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	svc, cert := priv("service_key"), priv("service_certificate")
	sig, _ := base64.StdEncoding.DecodeString(out.BrowserSig)
	if err := cert.Public().Verify([]byte("signed in the browser"), sig); err != nil {
		t.Errorf("a PSS signature made in the browser does not verify in Go: %v", err)
	}
	for ct, want := range map[string]string{out.BrowserShortCt: "short, to OAEP", out.BrowserLongCt: strings.Repeat("long ", 200)} {
		raw, _ := base64.StdEncoding.DecodeString(ct)
		if pt, err := svc.Decrypt(raw); err != nil || string(pt) != want {
			t.Errorf("a ciphertext made in the browser (%d bytes) does not decrypt in Go: %v", len(raw), err)
		}
	}
	req, err := call.UnpackRequest([]byte(out.Env.Packed), func(fp string) (*crypto.PrivateKey, error) {
		if fp != svc.Fingerprint() {
			t.Errorf("the browser's request names key %s", fp)
		}
		return svc, nil
	})
	if err != nil {
		t.Fatalf("Go cannot unpack the browser's request: %v", err)
	}
	var args, wantArgs any
	_ = json.Unmarshal(req.Args, &args)
	wantArgs = obj(v, "envelope")["args"]
	if req.Function != str(v["envelope"], "function") || !reflect.DeepEqual(args, wantArgs) || req.IdempotencyKey != "idem-browser" ||
		req.SignWith != str(keys["service_certificate"], "fingerprint") || req.ReplyKey.Fingerprint() != str(keys["reply_key"], "fingerprint") ||
		time.Since(req.SyncTime).Abs() > time.Minute {
		t.Errorf("the browser's request unpacks to %+v", req)
	}
}

// spread is "median m ms (min a, max b)".
func spread(ms []float64) string {
	if len(ms) == 0 {
		return "none"
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	return strings.Join([]string{"median ", f1(s[len(s)/2]), " ms (min ", f1(s[0]), ", max ", f1(s[len(s)-1]), ")"}, "")
}

func f1(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
