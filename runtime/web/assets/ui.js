// ui.js: what the pages share: looking up elements, showing a message,
// and turning a service's error into words a person can act on.
export const $ = (id) => document.getElementById(id);

export function show(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = kind || "";
}

const messages = {
  PasswordError: "Wrong username, password or code. Nothing was approved; try again.",
  OTPError: "That code is not right. Use the code your authenticator shows now (check its clock). Nothing was approved.",
  OTPReusedError: "That code was already used. Wait for your authenticator's next code, then try again.",
  AccountLockedError: "Locked: too many failed attempts.",
  SessionError: "This login request is no longer waiting for approval: it expired or was already approved. Start a new login on the asking machine.",
  SessionClosedError: "Your session has ended (logged out, revoked or expired). Log in again.",
  SignatureError: "Refused: the reply was not signed by the service key this page was served with.",
  UsernameError: "",
  WeakPasswordError: "",
  AlreadyExistsError: "That username is taken.",
};

// messageFor explains err; the service's own words follow where they add
// something (how long a lock lasts, which rule a password broke).
export function messageFor(err) {
  const cls = err && err.cls;
  const base = cls && Object.prototype.hasOwnProperty.call(messages, cls) ? messages[cls] : null;
  const detail = err && (err.detail || err.message) ? String(err.detail || err.message) : String(err);
  if (base === null || base === undefined) return `${cls || "Error"}: ${detail}`;
  if (base === "") return detail;
  if (cls === "AccountLockedError") return `${base} ${detail}`;
  return base;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// el builds an element with text content (never HTML).
export function el(tag, text, attrs) {
  const n = document.createElement(tag);
  if (text !== undefined && text !== null) n.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  return n;
}
