// acquire.js: the browser side of Acquire's envelope, written for the Web
// Cryptography API. It speaks the same wire format as the Go and Python
// clients: RSA-OAEP (SHA-256) for short messages, RSA-OAEP of a fresh
// Fernet key followed by the Fernet token for longer ones, and RSA-PSS
// (SHA-256, maximum salt length) signatures over the raw reply bytes.
// Private keys made here are never extractable.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export const utf8 = (s) => enc.encode(s);
export const fromUtf8 = (b) => dec.decode(b);

// ---- base64 ----

export function b64(bytes) {
  let s = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(s);
}

export function b64url(bytes) {
  return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_");
}

// unb64 reads standard or url-safe base64, padded or not.
export function unb64(text) {
  let s = String(text).replace(/-/g, "+").replace(/_/g, "/").replace(/\s/g, "");
  while (s.length % 4 !== 0) s += "=";
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function unhex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// ---- MD5 (RFC 1321), only for Acquire's key fingerprints ----

const md5K = new Uint32Array(64).map((_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);
const md5S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

export function md5(bytes) {
  const bitLen = bytes.length * 8;
  const padded = new Uint8Array(((bytes.length + 8) >> 6) * 64 + 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, bitLen >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bitLen / 2 ** 32), true);
  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  const m = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let j = 0; j < 16; j++) m[j] = view.getUint32(off + 4 * j, true);
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      let f, g;
      const round = i >> 4;
      if (round === 0) { f = (b & c) | (~b & d); g = i; }
      else if (round === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
      else if (round === 2) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
      else { f = c ^ (b | ~d); g = (7 * i) & 15; }
      const s = md5S[round * 4 + (i & 3)];
      const sum = (a + f + md5K[i] + m[g]) >>> 0;
      a = d; d = c; c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0; d0 = (d0 + d) >>> 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  [a0, b0, c0, d0].forEach((w, i) => ov.setUint32(4 * i, w, true));
  return hex(out);
}

// fingerprint is Acquire's: the MD5 of the PEM text, as "aa:bb:..".
export function fingerprint(pemText) {
  return md5(utf8(pemText)).match(/../g).join(":");
}

// ---- PEM and key import ----

export function pemToDer(pem) {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s/g, "");
  return unb64(body);
}

// derToPem writes 64-column lines with "\n" ends: the exact text the
// services fingerprint.
export function derToPem(der, label) {
  const body = b64(der).match(/.{1,64}/g).join("\n");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

const OAEP = { name: "RSA-OAEP", hash: "SHA-256" };
const PSS = { name: "RSA-PSS", hash: "SHA-256" };

export function importPublic(pem, usage) {
  const alg = usage === "verify" ? PSS : OAEP;
  return crypto.subtle.importKey("spki", pemToDer(pem), alg, true, [usage]);
}

export function importPrivate(pem, usage) {
  const alg = usage === "sign" ? PSS : OAEP;
  return crypto.subtle.importKey("pkcs8", pemToDer(pem), alg, false, [usage]);
}

// generateKeyPair makes an RSA-2048, e = 65537 pair whose private half can
// never be read out of the browser; kind is "encrypt" or "sign".
export async function generateKeyPair(kind) {
  const alg = kind === "sign" ? PSS : OAEP;
  const usages = kind === "sign" ? ["sign", "verify"] : ["encrypt", "decrypt"];
  const pair = await crypto.subtle.generateKey(
    { ...alg, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, false, usages);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const pem = derToPem(spki, "PUBLIC KEY");
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, pem, fingerprint: fingerprint(pem) };
}

// pssSaltLength is the maximum salt: emLen - hLen - 2.
function pssSaltLength(key) {
  const bits = key.algorithm.modulusLength;
  return Math.ceil((bits - 1) / 8) - 32 - 2;
}

function keyBytes(key) {
  return key.algorithm.modulusLength / 8;
}

export async function signPSS(privateKey, msg) {
  const sig = await crypto.subtle.sign({ name: "RSA-PSS", saltLength: pssSaltLength(privateKey) }, privateKey, msg);
  return new Uint8Array(sig);
}

export function verifyPSS(publicKey, msg, sig) {
  return crypto.subtle.verify({ name: "RSA-PSS", saltLength: pssSaltLength(publicKey) }, publicKey, sig, msg);
}

// ---- Fernet (github.com/fernet/spec) ----

export function parseFernetKey(text) {
  if (text.length !== 44) throw new Error("fernet key text must be 44 characters");
  const k = unb64(text);
  if (k.length !== 32) throw new Error("fernet key is not 32 bytes");
  return k;
}

async function fernetKeys(k) {
  const mac = await crypto.subtle.importKey("raw", k.subarray(0, 16), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const aes = await crypto.subtle.importKey("raw", k.subarray(16, 32), { name: "AES-CBC" }, false, ["encrypt", "decrypt"]);
  return { mac, aes };
}

// fernetEncrypt makes a token; ts (seconds) and iv are for tests that
// reproduce known tokens, and are fresh otherwise.
export async function fernetEncrypt(key, plaintext, ts, iv) {
  const { mac, aes } = await fernetKeys(key);
  iv = iv || crypto.getRandomValues(new Uint8Array(16));
  ts = ts === undefined ? Math.floor(Date.now() / 1000) : ts;
  const header = new Uint8Array(25);
  const hv = new DataView(header.buffer);
  header[0] = 0x80;
  hv.setUint32(1, Math.floor(ts / 2 ** 32));
  hv.setUint32(5, ts >>> 0);
  header.set(iv, 9);
  // AES-CBC in WebCrypto pads with PKCS#7, as Fernet does.
  const body = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv }, aes, plaintext));
  const signed = concat(header, body);
  const tag = new Uint8Array(await crypto.subtle.sign("HMAC", mac, signed));
  return b64url(concat(signed, tag));
}

export async function fernetDecrypt(key, token) {
  if (!/^[A-Za-z0-9_-]*=*$/.test(token)) throw new Error("malformed fernet token");
  const raw = unb64(token);
  if (raw.length < 25 + 16 + 32 || raw[0] !== 0x80 || (raw.length - 57) % 16 !== 0) {
    throw new Error("malformed fernet token");
  }
  const { mac, aes } = await fernetKeys(key);
  const at = raw.length - 32;
  const tag = new Uint8Array(await crypto.subtle.sign("HMAC", mac, raw.subarray(0, at)));
  if (!equalBytes(tag, raw.subarray(at))) throw new Error("fernet token fails authentication");
  const pt = await crypto.subtle.decrypt({ name: "AES-CBC", iv: raw.subarray(9, 25) }, aes, raw.subarray(25, at));
  return new Uint8Array(pt);
}

// ---- Acquire's hybrid RSA ----

// encryptTo is PublicKey.encrypt: OAEP alone when the message fits,
// else OAEP(fresh Fernet key text) followed by the token text.
export async function encryptTo(publicKey, msg) {
  const room = keyBytes(publicKey) - 2 * 32 - 2;
  if (msg.length <= room) {
    return new Uint8Array(await crypto.subtle.encrypt(OAEP, publicKey, msg));
  }
  const fk = crypto.getRandomValues(new Uint8Array(32));
  const wrapped = new Uint8Array(await crypto.subtle.encrypt(OAEP, publicKey, utf8(b64url(fk))));
  const token = await fernetEncrypt(fk, msg);
  return concat(wrapped, utf8(token));
}

export async function decryptWith(privateKey, ct) {
  const size = keyBytes(privateKey);
  if (ct.length < size) throw new Error("ciphertext shorter than the key");
  const head = new Uint8Array(await crypto.subtle.decrypt(OAEP, privateKey, ct.subarray(0, size)));
  if (ct.length === size) return head;
  const fk = parseFernetKey(fromUtf8(head));
  return fernetDecrypt(fk, fromUtf8(ct.subarray(size)));
}

// ---- the envelope ----

// syncTime writes Python's isoformat() of a UTC time with six digits of
// fraction (a browser knows only milliseconds).
export function syncTime(date) {
  const iso = date.toISOString(); // 2026-12-07T19:16:00.123Z
  return iso.slice(0, 19) + "." + iso.slice(20, 23) + "000";
}

// RemoteError is a service's typed error. Its message reads as Acquire's
// ("Error calling 'f' on 'url': ..."); detail is the service's own words.
export class RemoteError extends Error {
  constructor(cls, detail, fn, url) {
    super(fn ? `Error calling '${fn}' on '${url}': ${detail}` : detail);
    this.name = cls || "RemoteFunctionCallError";
    this.cls = cls || "RemoteFunctionCallError";
    this.detail = detail;
  }
}

export class SignatureError extends Error {
  constructor(message) {
    super(message);
    this.name = "SignatureError";
    this.cls = "SignatureError";
  }
}

// packRequest encrypts a call to a service key (with its fingerprint),
// asking for the reply encrypted to replyPem and signed by certificate signWith.
export async function packRequest(serviceKey, serviceKeyFingerprint, replyPem, signWith, fn, args, idemKey, now) {
  const sync = syncTime(now || new Date());
  const inner = { encryption_public_key: b64(utf8(replyPem)), sign_with_service_key: signWith,
    payload: args, synctime: sync, function: fn };
  if (idemKey) inner.idempotency_key = idemKey;
  const ct = await encryptTo(serviceKey, utf8(JSON.stringify(inner)));
  return JSON.stringify({ data: b64(ct), encrypted: true, fingerprint: serviceKeyFingerprint, synctime: sync });
}

function resultOf(payload, fn, url) {
  if (payload && typeof payload === "object" && Object.keys(payload).length === 1 && "error" in payload) {
    throw new RemoteError("RemoteFunctionCallError", String(payload.error), fn, url);
  }
  if (!payload || typeof payload.status !== "number") throw new Error("reply payload is not a result");
  if (payload.status === 0) return payload.return === undefined ? null : payload.return;
  const e = payload.exception || {};
  throw new RemoteError(e.class, e.error || e.message || `status ${payload.status}`, fn, url);
}

// unpackReply checks and opens a reply. With certs given, an encrypted
// reply must carry a signature by one of them; a clear reply is accepted
// only when it reports a failure (as Acquire does).
export async function unpackReply(bodyText, replyKey, certs, fn, url) {
  let outer = JSON.parse(bodyText);
  for (let i = 0; i < 3 && typeof outer === "string"; i++) outer = JSON.parse(outer);
  if (!outer.encrypted) {
    const payload = outer.payload;
    if (replyKey && payload && payload.status === 0) {
      throw new SignatureError(`reply from ${url} is neither encrypted nor signed`);
    }
    return resultOf(payload, fn, url);
  }
  const ct = unb64(outer.data);
  if (certs && certs.length > 0) {
    if (!outer.signature) throw new SignatureError("reply is not signed");
    const sig = unb64(outer.signature);
    let ok = false;
    for (const c of certs) ok = ok || (await verifyPSS(c, ct, sig));
    if (!ok) throw new SignatureError("reply signature does not verify with the pinned service certificate");
  }
  const plain = await decryptWith(replyKey, ct);
  const inner = JSON.parse(fromUtf8(plain));
  return resultOf(inner.payload, fn, url);
}

// ---- a client for one page ----

// Service is one service's pinned keys, as the page was served with them.
export class Service {
  constructor(url, keys) {
    this.url = url;
    this.keyPem = keys.key_public;
    this.keyFingerprint = keys.key_fingerprint;
    this.certPem = keys.cert_public;
    this.certFingerprint = keys.cert_fingerprint;
  }

  async open() {
    if (fingerprint(this.keyPem) !== this.keyFingerprint || fingerprint(this.certPem) !== this.certFingerprint) {
      throw new SignatureError(`the keys of ${this.url} do not match their fingerprints`);
    }
    this.key = await importPublic(this.keyPem, "encrypt");
    this.cert = await importPublic(this.certPem, "verify");
    return this;
  }
}

export const timings = [];

// Client makes calls with one reply key per page.
export class Client {
  constructor() {
    this.reply = null;
  }

  async replyKey() {
    if (!this.reply) this.reply = await generateKeyPair("encrypt");
    return this.reply;
  }

  async call(svc, fn, args, opts = {}) {
    const reply = await this.replyKey();
    const t0 = performance.now();
    const body = await packRequest(svc.key, svc.keyFingerprint, reply.pem, svc.certFingerprint, fn, args || {},
      opts.idempotencyKey, opts.now);
    const t1 = performance.now();
    const resp = await fetch(svc.url, { method: "POST", body, credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json" } });
    const text = await resp.text();
    const t2 = performance.now();
    try {
      return await unpackReply(text, reply.privateKey, [svc.cert], fn, svc.url);
    } finally {
      timings.push({ fn, pack_ms: t1 - t0, fetch_ms: t2 - t1, unpack_ms: performance.now() - t2 });
      if (timings.length > 200) timings.shift();
    }
  }
}

export function newID() {
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

// ---- authorisations ----

function rfc3339(date) {
  // Go's RFC3339Nano drops trailing zeros of the fraction; any fraction parses.
  return date.toISOString();
}

export async function authorise(session, audience, resource, now) {
  const a = { user_uid: session.user_uid, session_uid: session.session_uid, identity_url: session.identity_url,
    audience, resource, time: rfc3339(now || new Date()) };
  const msg = ["acquire-authorisation-v2", a.identity_url, a.user_uid, a.session_uid, a.audience, a.resource, a.time].join("\n");
  a.signature = b64(await signPSS(session.cert, utf8(msg)));
  return a;
}

// ---- the page's pinned configuration ----

// pageConfig reads what the server put into the page's <meta> tags: the
// services' URLs and the keys the page pins.
export function pageConfig() {
  const meta = document.querySelector('meta[name="acquire-config"]');
  if (!meta) throw new Error("page has no configuration");
  return JSON.parse(fromUtf8(unb64(meta.content)));
}

export async function openServices(cfg) {
  const out = {};
  for (const [kind, keys] of Object.entries(cfg.services)) {
    out[kind] = await new Service(keys.url, keys).open();
  }
  return out;
}

// ---- the session kept in IndexedDB ----
// The session's private keys are non-extractable CryptoKeys: IndexedDB
// keeps them as opaque handles, never as bytes a script could read.

const DB = "acquire", STORE = "session";

function db() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => { d.close(); resolve(req && req.result); };
    t.onerror = () => { d.close(); reject(t.error); };
  });
}

export function saveSession(s) {
  return tx("readwrite", (st) => st.put(s, s.identity_url));
}

export function loadSession(identityURL) {
  return tx("readonly", (st) => st.get(identityURL));
}

export function forgetSession(identityURL) {
  return tx("readwrite", (st) => st.delete(identityURL));
}
