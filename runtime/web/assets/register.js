// register.js: create a user, show the authenticator QR code and the
// recovery codes once, then confirm the authenticator with its first code
// by logging this browser in.
import * as A from "./acquire.js";
import { $, show, messageFor, el, clear } from "./ui.js";
import { loginHere } from "./session.js";

window.acquire = A;

const cfg = A.pageConfig();
const client = new A.Client();
let identity;
let registered = null; // { username, password } until the first code confirms it

async function start() {
  identity = (await A.openServices({ services: { identity: cfg.services.identity } })).identity;
  await client.replyKey();
  $("submit").disabled = false;
  document.body.dataset.ready = "1";
}

$("register-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!/^[a-z0-9][a-z0-9._-]{2,63}$/.test(username)) {
    show("The username must be 3 to 64 of a–z, 0–9, “.”, “_” or “-”, starting with a letter or digit.", "error");
    return;
  }
  if (utf8Length(password) < 8) {
    show("The password must be at least 8 characters.", "error");
    return;
  }
  if (password !== $("password2").value) {
    show("The two passwords differ.", "error");
    return;
  }
  $("submit").disabled = true;
  show("Registering…", "");
  try {
    const res = await client.call(identity, "register", { username, password, qr_image: true },
      { idempotencyKey: "register:" + A.newID() });
    registered = { username: res.username, password };
    showEnrolment(res);
    show(`Registered ${res.username}. Scan the code, then confirm with your first code.`, "ok");
    $("otp").focus();
  } catch (e) {
    show(messageFor(e), "error");
    $("submit").disabled = false;
  }
});

function utf8Length(s) {
  return A.utf8(s).length;
}

function showEnrolment(res) {
  $("register-form").hidden = true;
  $("enrol").hidden = false;
  $("qr").src = "data:image/png;base64," + res.provisioning_qr_png;
  $("secret").textContent = new URL(res.provisioning_uri).searchParams.get("secret") || "";
  const list = $("recovery-codes");
  clear(list);
  for (const c of res.recovery_codes) list.appendChild(el("li", c));
}

$("confirm-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const otp = $("otp").value.trim();
  if (!/^[0-9]{6}$/.test(otp)) {
    show("The code from your authenticator app is 6 digits.", "error");
    return;
  }
  $("confirm").disabled = true;
  show("Checking…", "");
  try {
    await loginHere(client, identity, cfg, registered.username, registered.password, { otp });
    registered = null;
    location.assign("console");
  } catch (e) {
    show(messageFor(e), "error");
    $("confirm").disabled = false;
  }
});

start().catch((e) => show(messageFor(e), "error"));
