// login.js: approve a login another machine asked for (the URL carries
// #session=UID), or log this browser in for the console.
import * as A from "./acquire.js";
import { $, show, messageFor, when } from "./ui.js";
import { loginHere } from "./session.js";

window.acquire = A; // the tests read the crypto timings from here

const t0 = performance.now();
const cfg = A.pageConfig();
const client = new A.Client();
const sessionUID = new URLSearchParams(location.hash.slice(1)).get("session") || "";
let identity;

async function start() {
  identity = (await A.openServices({ services: { identity: cfg.services.identity } })).identity;
  await client.replyKey(); // made now, so the first call does not wait for it
  if (sessionUID) {
    await showRequest();
  } else {
    $("submit").disabled = false;
  }
  document.body.dataset.ready = String(performance.now() - t0);
}

async function showRequest() {
  $("title").textContent = "Approve a login";
  $("submit").textContent = "Approve login";
  $("request").hidden = false;
  $("req-code").textContent = sessionUID.slice(0, 8);
  let info;
  try {
    info = await client.call(identity, "session_info", { session_uid: sessionUID });
  } catch (e) {
    show(e.cls === "SessionError" ? "No such login request. Check the URL the asking machine printed." : messageFor(e), "error");
    return;
  }
  $("req-label").textContent = info.label || "(no label)";
  $("req-user").textContent = info.username;
  $("req-time").textContent = when(info.requested);
  $("req-status").textContent = info.status;
  $("username").value = info.username;
  if (info.status === "pending") {
    $("submit").disabled = false;
    $("password").focus();
    return;
  }
  const why = {
    approved: "This login request was already approved. Nothing more to do here.",
    expired: "This login request has expired. Start a new login on the asking machine.",
  }[info.status] || `This login request is ${info.status}; it cannot be approved.`;
  show(why, "error");
}

function secondFactor() {
  const otp = $("otp").value.trim();
  const recovery = $("recovery").value.trim();
  if (otp && recovery) throw new Error("Give the 6-digit code or a recovery code, not both.");
  if (!otp && !recovery) throw new Error("Give the 6-digit code from your authenticator app (or a recovery code).");
  if (otp && !/^[0-9]{6}$/.test(otp)) throw new Error("The code from your authenticator app is 6 digits.");
  return otp ? { otp } : { recovery_code: recovery };
}

async function approve(username, password, factor) {
  const t = performance.now();
  const res = await client.call(identity, "approve_login", { session_uid: sessionUID, username, password, ...factor });
  document.body.dataset.approvedMs = String(performance.now() - t0);
  document.body.dataset.approveCallMs = String(performance.now() - t);
  $("req-status").textContent = "approved";
  show(`Approved. ${$("req-label").textContent} is now logged in as ${res.username}. You can close this page.`, "ok");
  $("submit").disabled = true;
}

async function loginHereAndGo(username, password, factor) {
  const s = await loginHere(client, identity, cfg, username, password, factor);
  document.body.dataset.approvedMs = String(performance.now() - t0);
  show(`Logged in as ${s.username}.`, "ok");
  location.assign("console");
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  let factor;
  try {
    if (!username || !password) throw new Error("Give your username and password.");
    factor = secondFactor();
  } catch (e) {
    show(e.message, "error");
    return;
  }
  $("submit").disabled = true;
  show("Checking…", "");
  try {
    if (sessionUID) await approve(username, password, factor);
    else await loginHereAndGo(username, password, factor);
  } catch (e) {
    show(messageFor(e), "error");
    $("submit").disabled = false;
    $("otp").value = "";
  } finally {
    $("password").value = sessionUID && $("submit").disabled ? "" : $("password").value;
  }
});

start().catch((e) => show(messageFor(e), "error"));
