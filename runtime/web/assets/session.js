// session.js: this browser's own session, made by logging in here. Its
// keys are made in the browser and their private halves can never be read
// out, not even by these pages; IndexedDB keeps them as opaque handles.
import * as A from "./acquire.js";

export async function loginHere(client, identity, cfg, username, password, factor) {
  const key = await A.generateKeyPair("encrypt");
  const cert = await A.generateKeyPair("sign");
  const req = await client.call(identity, "request_login", { username, key_public: key.pem, cert_public: cert.pem,
    label: "browser: " + (navigator.userAgentData?.platform || navigator.platform || "web") });
  const res = await client.call(identity, "approve_login", { session_uid: req.session_uid, username, password, ...factor });
  const s = { identity_url: cfg.identity_url, session_uid: res.session_uid, user_uid: res.user_uid,
    username: res.username, expires: res.expires, key: key.privateKey, cert: cert.privateKey };
  await A.saveSession(s);
  return s;
}
