// console.js: a small console for this browser's own session. Every call
// is an ordinary encrypted call whose authorisation the session's
// certificate signs here, in the browser.
import * as A from "./acquire.js";
import { $, show, messageFor, when, clear, el } from "./ui.js";

window.acquire = A;

const cfg = A.pageConfig();
const client = new A.Client();
let services;
let session;

// ---- calls ----

async function signed(kind, fn, resource, args, idem) {
  const svc = services[kind];
  if (!svc) throw new Error(`this host runs no ${kind} service`);
  if (Date.parse(session.expires) <= Date.now()) throw Object.assign(new Error("expired"), { cls: "SessionClosedError" });
  const authorisation = await A.authorise(session, svc.url, resource);
  try {
    return await client.call(svc, fn, { ...args, authorisation }, idem ? { idempotencyKey: `${fn}:${A.newID()}` } : {});
  } catch (e) {
    if (e.cls === "SessionClosedError" || (e.cls === "SessionError" && kind === "identity")) await ended();
    throw e;
  }
}

// digest is the storage service's digestOf: SHA-256 of the fields, each
// followed by a newline, first 16 bytes in hex.
async function digest(...fields) {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", A.utf8(fields.map((f) => f + "\n").join(""))));
  return A.hex(h.subarray(0, 16));
}

async function sha256Hex(bytes) {
  return A.hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

// crc32c is CRC-32C (Castagnoli), as the storage service checks chunks.
const crcTable = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32c(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0");
}

// ---- the session ----

async function ended() {
  await A.forgetSession(cfg.identity_url);
  $("console").hidden = true;
  document.body.dataset.session = "ended";
  showLoginLink("Your session has ended (logged out, revoked or expired). Log in again to use the console.");
}

function showLoginLink(text) {
  const m = $("message");
  m.className = "error";
  clear(m);
  m.appendChild(document.createTextNode(text + " "));
  m.appendChild(el("a", "Log in", { href: "login" }));
}

async function start() {
  services = await A.openServices(cfg);
  session = await A.loadSession(cfg.identity_url);
  if (!session) {
    showLoginLink("This browser is not logged in.");
    document.body.dataset.ready = "1";
    return;
  }
  if (Date.parse(session.expires) <= Date.now()) {
    await ended();
    document.body.dataset.ready = "1";
    return;
  }
  await client.replyKey();
  try {
    await whoami();
  } catch (e) {
    if (!$("console").hidden || document.body.dataset.session !== "ended") show(messageFor(e), "error");
    document.body.dataset.ready = "1";
    return;
  }
  $("console").hidden = false;
  await Promise.all([sessions(), accounts(), drives(), jobs()].map((p) => p.catch((e) => show(messageFor(e), "error"))));
  document.body.dataset.ready = "1";
}

// ---- whoami, sessions, logout ----

async function whoami() {
  const w = await signed("identity", "whoami", "whoami", {});
  const dl = $("whoami");
  clear(dl);
  for (const [k, v] of [["User", w.username], ["User UID", w.user_uid], ["Session", w.session_uid],
    ["Expires", when(w.expires)], ["Admin", w.is_admin ? "yes" : "no"]]) {
    dl.appendChild(el("dt", k));
    dl.appendChild(el("dd", v, k === "User" ? { id: "whoami-user" } : {}));
  }
}

async function sessions() {
  const list = await signed("identity", "list_sessions", "list_sessions", {});
  const tb = $("sessions");
  clear(tb);
  for (const s of list.sessions || []) {
    const tr = el("tr", null, { "data-session": s.session_uid });
    const mine = s.session_uid === session.session_uid;
    tr.appendChild(el("td", s.session_uid.slice(0, 8) + (mine ? " (this browser)" : "")));
    tr.appendChild(el("td", s.status));
    tr.appendChild(el("td", s.label || "-"));
    tr.appendChild(el("td", when(s.expires)));
    const td = el("td");
    if (s.status === "approved" || s.status === "pending") {
      const b = el("button", "Revoke", { type: "button", class: "secondary", "aria-label": `Revoke session ${s.session_uid.slice(0, 8)}` });
      b.addEventListener("click", () => act(async () => {
        await signed("identity", "revoke_session", "revoke_session " + s.session_uid, { session_uid: s.session_uid }, true);
        show(`Revoked session ${s.session_uid.slice(0, 8)}.`, "ok");
        if (mine) await ended();
        else await sessions();
      }));
      td.appendChild(b);
    }
    tr.appendChild(td);
    tb.appendChild(tr);
  }
}

$("sessions-refresh").addEventListener("click", () => act(sessions));

// Other services may trust a session for up to their cache's staleness
// (30 s) after it ends; the identity service knows at once. So the console
// asks it now and then, and whenever the page is looked at again, and
// stops as soon as the session is over.
const checkEveryMs = 60_000;

async function check() {
  if (!session || document.body.dataset.session === "ended") return;
  try {
    await signed("identity", "whoami", "whoami", {});
  } catch (e) {
    if (document.body.dataset.session !== "ended") show(messageFor(e), "error");
  }
}

setInterval(check, checkEveryMs);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") check();
});

$("logout").addEventListener("click", () => act(async () => {
  try {
    await signed("identity", "logout", "logout", {}, true);
  } finally {
    await ended();
  }
}));

// act runs a user's action and shows its failure.
async function act(f) {
  try {
    await f();
  } catch (e) {
    if (document.body.dataset.session !== "ended") show(messageFor(e), "error");
  }
}

// ---- accounts ----

async function accounts() {
  const list = await signed("accounting", "list_accounts", "list_accounts", {});
  const tb = $("accounts");
  clear(tb);
  for (const a of list.accounts || []) {
    const tr = el("tr");
    tr.appendChild(el("td", a.name));
    tr.appendChild(el("td", a.balance ? a.balance.balance : "", { class: "num" }));
    tr.appendChild(el("td", a.balance ? a.balance.available : "", { class: "num" }));
    const td = el("td");
    const b = el("button", "Statement", { type: "button", class: "secondary", "aria-label": `Statement of ${a.name}` });
    b.addEventListener("click", () => act(() => statement(a, "")));
    td.appendChild(b);
    tr.appendChild(td);
    tb.appendChild(tr);
  }
}

const statementPage = 20;
let statementNext = null;

async function statement(a, token) {
  const page = await signed("accounting", "statement", "statement " + a.id,
    { account: a.id, page_token: token || undefined, page_size: statementPage });
  $("statement-box").hidden = false;
  $("statement-title").textContent = `Statement of ${a.name}`;
  const tb = $("statement");
  if (!token) clear(tb);
  for (const l of page.lines || []) {
    const tr = el("tr");
    tr.appendChild(el("td", when(l.time)));
    tr.appendChild(el("td", l.leg));
    tr.appendChild(el("td", l.amount, { class: "num" }));
    tr.appendChild(el("td", l.counterparty || ""));
    tr.appendChild(el("td", l.description || ""));
    tb.appendChild(tr);
  }
  statementNext = page.next ? () => statement(a, page.next) : null;
  $("statement-more").hidden = !page.next;
}

$("statement-more").addEventListener("click", () => act(() => statementNext && statementNext()));

// ---- drives, files, PARs ----

async function drives() {
  const list = await signed("storage", "list_drives", "list_drives " + (await digest("")), {});
  const sel = $("drive");
  const before = sel.value;
  clear(sel);
  for (const d of list.drives || []) sel.appendChild(el("option", d.name, { value: d.name }));
  if (before) sel.value = before;
  if (sel.value) await files();
}

$("drive").addEventListener("change", () => act(files));
$("drive-refresh").addEventListener("click", () => act(files));

const fileLimit = 100;

async function files() {
  const drive = $("drive").value;
  if (!drive) return;
  const list = await signed("storage", "list_files", "list_files " + (await digest(drive, "", "", String(fileLimit))),
    { drive, limit: fileLimit });
  const tb = $("files");
  clear(tb);
  for (const f of list.files || []) {
    if (f.deleted) continue;
    const tr = el("tr", null, { "data-file": f.name });
    tr.appendChild(el("td", f.name));
    tr.appendChild(el("td", String(f.size), { class: "num" }));
    tr.appendChild(el("td", String(f.version), { class: "num" }));
    tr.appendChild(el("td", when(f.time)));
    const td = el("td");
    const b = el("button", "Download", { type: "button", class: "secondary", "aria-label": `Download ${f.name}` });
    b.addEventListener("click", () => act(() => download(drive, f.name)));
    td.appendChild(b);
    tr.appendChild(td);
    tb.appendChild(tr);
  }
  await pars(drive);
}

// ---- upload: small files inline, others in chunks PUT straight to the
// store through the signed chunk URLs, with a progress bar. ----

const inlineMax = 256 << 10;
const maxBrowserUpload = 1 << 30; // the whole file is hashed in memory: WebCrypto has no streaming SHA-256

$("upload-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act(upload);
});

$("upload-file").addEventListener("change", () => {
  const f = $("upload-file").files[0];
  if (f && !$("upload-name").value) $("upload-name").value = f.name;
});

async function upload() {
  const drive = $("drive").value;
  const file = $("upload-file").files[0];
  const name = $("upload-name").value.trim() || (file && file.name);
  if (!drive) throw new Error("Choose a drive first.");
  if (!file) throw new Error("Choose a file to upload.");
  if (file.size > maxBrowserUpload) throw new Error(`The console uploads files up to ${maxBrowserUpload} bytes; use 'acquire file upload'.`);
  $("upload").disabled = true;
  const prog = $("upload-progress");
  prog.max = Math.max(file.size, 1);
  prog.value = 0;
  $("upload-status").textContent = `Uploading ${name}…`;
  const t0 = performance.now();
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const sum = await sha256Hex(bytes);
    let fv;
    if (bytes.length <= inlineMax) {
      fv = await signed("storage", "put_inline", "put_inline " + (await digest(drive, name, sum, String(bytes.length))),
        { drive, name, data: A.b64(bytes), sha256: sum }, true);
      prog.value = bytes.length;
    } else {
      fv = await chunked(drive, name, bytes, sum, prog);
    }
    const secs = (performance.now() - t0) / 1000;
    $("upload-status").textContent = `Uploaded ${fv.name}, version ${fv.version}, ${fv.size} bytes in ${secs.toFixed(1)} s.`;
    document.body.dataset.uploadMs = String(performance.now() - t0);
    await files();
  } catch (e) {
    $("upload-status").textContent = "Upload failed: " + messageFor(e);
    throw e;
  } finally {
    $("upload").disabled = false;
  }
}

async function chunked(drive, name, bytes, sum, prog) {
  const size = bytes.length;
  const up = await signed("storage", "begin_upload", "begin_upload " + (await digest(drive, name, String(size), "0")),
    { drive, name, size }, true);
  const urls = new Map((up.urls || []).map((u) => [u.index, u]));
  const sums = [];
  const sent = new Array(up.chunks).fill(0);
  for (let i = 0; i < up.chunks; i++) {
    const part = bytes.subarray(i * up.chunk_bytes, Math.min(size, (i + 1) * up.chunk_bytes));
    sums.push(crc32c(part));
    if (!urls.has(i)) {
      const count = Math.min(256, up.chunks - i);
      const more = await signed("storage", "upload_urls", `upload_urls ${up.id} ${i} ${count}`, { upload: up.id, from: i, count });
      for (const u of more.urls || []) urls.set(u.index, u);
    }
    await put(urls.get(i), part, sums[i], (n) => {
      sent[i] = n;
      prog.value = sent.reduce((a, b) => a + b, 0);
    });
    sent[i] = part.length;
  }
  const resource = `commit_upload ${up.id} ` + (await digest(sum, ...sums));
  return signed("storage", "commit_upload", resource, { upload: up.id, chunks: sums, sha256: sum }, true);
}

// put sends one chunk with XMLHttpRequest, whose upload events give the
// progress (fetch has none). Only the store's own headers are sent.
function put(u, part, crc, onProgress) {
  return new Promise((resolve, reject) => {
    if (!u) return reject(new Error("no URL for a chunk"));
    const x = new XMLHttpRequest();
    x.open(u.method || "PUT", u.url);
    for (const [k, v] of Object.entries(u.headers || {})) {
      if (/^x-(goog|amz|ms)-/i.test(k)) x.setRequestHeader(k, v);
    }
    x.setRequestHeader("X-Acquire-Crc32c", crc);
    x.upload.onprogress = (ev) => onProgress(ev.loaded);
    x.onload = () => (x.status >= 200 && x.status < 300 ? resolve() : reject(new Error(`chunk ${u.index}: ${x.status} ${x.responseText.slice(0, 200)}`)));
    x.onerror = () => reject(new Error(`chunk ${u.index}: the store did not answer`));
    x.send(part);
  });
}

// download fetches every chunk from its signed URL, checks each CRC-32C
// and the whole file's SHA-256, and hands the bytes to the browser.
async function download(drive, name) {
  const t0 = performance.now();
  const first = await signed("storage", "open_file", "open_file " + (await digest(drive, name, "0", "0")), { drive, name });
  let bytes;
  if (first.data !== undefined && first.file.inline) {
    bytes = A.unb64(first.data || "");
  } else {
    bytes = new Uint8Array(first.file.size);
    let d = first;
    let at = 0;
    for (let i = 0; i < first.file.chunks;) {
      for (const c of d.chunks || []) {
        const resp = await fetch(c.url, { method: c.method || "GET", credentials: "omit", cache: "no-store" });
        if (!resp.ok) throw new Error(`chunk ${c.index}: ${resp.status}`);
        const part = new Uint8Array(await resp.arrayBuffer());
        if (c.crc32c && crc32c(part) !== c.crc32c) throw new Error(`chunk ${c.index} does not match its CRC-32C`);
        bytes.set(part, at);
        at += part.length;
        i = c.index + 1;
      }
      if (i < first.file.chunks) {
        d = await signed("storage", "open_file", "open_file " + (await digest(drive, name, String(first.file.version), String(i))),
          { drive, name, version: first.file.version, from: i });
      }
    }
  }
  if ((await sha256Hex(bytes)) !== first.file.sha256) throw new Error(`${name} does not match its SHA-256`);
  const a = el("a", null, { href: URL.createObjectURL(new Blob([bytes])), download: name.split("/").pop() });
  document.body.appendChild(a);
  a.click();
  a.remove();
  document.body.dataset.downloadMs = String(performance.now() - t0);
  show(`Downloaded ${name} (${bytes.length} bytes, SHA-256 checked).`, "ok");
}

async function pars(drive) {
  const list = await signed("storage", "list_pars", "list_pars " + (await digest(drive)), { drive });
  const tb = $("pars");
  clear(tb);
  for (const p of list.pars || []) {
    if (p.revoked) continue;
    const tr = el("tr", null, { "data-par": p.id });
    tr.appendChild(el("td", p.id.slice(0, 8)));
    tr.appendChild(el("td", p.name || "(whole drive)"));
    tr.appendChild(el("td", p.mode));
    tr.appendChild(el("td", when(p.expires)));
    const td = el("td");
    const b = el("button", "Revoke", { type: "button", class: "secondary", "aria-label": `Revoke link ${p.id.slice(0, 8)}` });
    b.addEventListener("click", () => act(async () => {
      await signed("storage", "revoke_par", "revoke_par " + p.id, { par: p.id }, true);
      show(`Revoked link ${p.id.slice(0, 8)}.`, "ok");
      await pars(drive);
    }));
    td.appendChild(b);
    tr.appendChild(td);
    tb.appendChild(tr);
  }
}

$("par-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act(async () => {
    const drive = $("drive").value;
    const name = $("par-name").value.trim();
    const mode = $("par-mode").value;
    const hours = Number($("par-hours").value);
    if (!drive) throw new Error("Choose a drive first.");
    if (!(hours >= 1 && hours <= 720)) throw new Error("A link is valid for 1 to 720 hours.");
    // Whole seconds, so the text signed is the text the service writes back.
    const expires = new Date(Math.floor(Date.now() / 1000) * 1000 + hours * 3600e3).toISOString().replace(".000Z", "Z");
    const res = await signed("storage", "create_par", "create_par " + (await digest(drive, name, mode, expires)),
      { drive, name: name || undefined, mode, expires }, true);
    $("par-link").textContent = `New link (shown only now): ${res.link}`;
    await pars(drive);
  });
});

// ---- jobs ----

const jobLimit = 20;

async function jobs() {
  if (!services.compute) return;
  const list = await signed("compute", "list_jobs", `list_jobs  ${jobLimit}`, { limit: jobLimit });
  const tb = $("jobs");
  clear(tb);
  for (const j of list.jobs || []) {
    const tr = el("tr", null, { "data-job": j.id });
    tr.appendChild(el("td", j.id.slice(0, 8)));
    tr.appendChild(el("td", j.state));
    tr.appendChild(el("td", [j.spec.command, ...(j.spec.args || [])].join(" ")));
    tr.appendChild(el("td", when(j.created)));
    const td = el("td");
    const st = el("button", "Status", { type: "button", class: "secondary", "aria-label": `Status of job ${j.id.slice(0, 8)}` });
    st.addEventListener("click", () => act(async () => {
      const s = await signed("compute", "job_status", "job_status " + j.id, { job_id: j.id });
      detail(JSON.stringify(s, null, 2));
    }));
    const lg = el("button", "Logs", { type: "button", class: "secondary", "aria-label": `Logs of job ${j.id.slice(0, 8)}` });
    lg.addEventListener("click", () => act(() => logs(j)));
    td.appendChild(st);
    td.appendChild(lg);
    tr.appendChild(td);
    tb.appendChild(tr);
  }
}

$("jobs-refresh").addEventListener("click", () => act(jobs));

function detail(text) {
  const p = $("job-detail");
  p.hidden = false;
  p.textContent = text;
}

// logs reads the job's stdout from the drive its output link writes to,
// with this session (the link itself only writes).
async function logs(j) {
  const link = j.spec.output;
  if (!link) throw new Error(`Job ${j.id.slice(0, 8)} has no output link: its logs were not kept.`);
  const [rest, secret] = link.split("#");
  const at = rest.lastIndexOf("/par/");
  if (!secret || at <= 0) throw new Error("The job's output link is malformed.");
  const svc = services.storage;
  if (rest.slice(0, at) !== svc.url) throw new Error("The job's output goes to another storage service; use 'acquire job logs'.");
  const info = await client.call(svc, "par_info", { par_id: rest.slice(at + 5), par_secret: secret });
  const name = `${j.id}/logs/stdout.txt`;
  const d = await signed("storage", "open_file", "open_file " + (await digest(info.drive, name, "0", "0")), { drive: info.drive, name });
  if (!d.file.inline) throw new Error("The log is large; use 'acquire job logs'.");
  detail(A.fromUtf8(A.unb64(d.data || "")));
}

start().catch((e) => show(messageFor(e), "error"));
