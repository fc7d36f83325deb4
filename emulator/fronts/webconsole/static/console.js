// The training console's page: everything it shows comes from the server-sent event stream
// (/api/console/events); it never polls. Every action is one JSON POST to the same origin.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { hosts: [], cdn: [], keypad: [], speeds: [], speed: 1, audio: null, catalogue: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                body: JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    note("? " + (data.error || r.status));
    throw new Error(data.error || String(r.status));
  }
  return data;
}

function note(text) {
  $("scan-result").textContent = text;
}

function msk(ms) {
  return new Date(ms).toLocaleString("ru-RU", { timeZone: "Europe/Moscow" });
}

// ------------------------------------------------------------------ the device face
function showScreen(s) {
  $("line1").textContent = s.lines[0].padEnd(20, " ");
  $("line2").textContent = s.lines[1].padEnd(20, " ");
  const [clock, symbol] = [s.status_line.slice(0, 5), s.status_line.slice(5).trim()];
  $("clock").textContent = clock;
  $("symbol").textContent = symbol || "\u00a0";
  $("symbol").dataset.symbol = symbol;
  $("device").dataset.mode = s.mode;
  $("virtual-time").textContent = "часы устройства: " + msk(s.now_ms) + " МСК" + (s.waiting ? " · ждёт ответа" : "");
  state.speed = s.speed;
  for (const b of document.querySelectorAll("#speeds button")) {
    b.classList.toggle("on", Number(b.dataset.speed) === s.speed);
  }
  if (s.lesson) showLesson(s.lesson);
}

function buildKeypad(keys) {
  const pad = $("keypad");
  pad.replaceChildren();
  for (const [key, shortcut] of keys) {
    const label = shortcut === "Enter" ? "Enter" : shortcut === "Escape" ? "Esc" : shortcut;
    pad.append(el("button", { class: "key", "data-key": key, title: "клавиша " + key + " (" + label + ")",
                              onclick: () => press(key) },
                  el("span", { class: "cap" }, key), el("kbd", {}, label)));
  }
}

function press(key) {
  const b = document.querySelector(`#keypad [data-key="${CSS.escape(key)}"]`);
  if (b) { b.classList.add("down"); setTimeout(() => b.classList.remove("down"), 120); }
  post("/api/console/press", { keys: [key] }).then(showScreen).catch(() => {});
}

document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  const typing = (t instanceof HTMLInputElement && t.type !== "checkbox") || t instanceof HTMLTextAreaElement ||
                 t instanceof HTMLSelectElement;
  if (typing || ev.ctrlKey || ev.altKey || ev.metaKey) return;
  const hit = state.keypad.find(([, sc]) => sc === ev.key || sc === ev.key.toLowerCase());
  if (hit) { ev.preventDefault(); press(hit[0]); }
});

function beep() {
  const b = $("beep");
  b.classList.add("on");
  setTimeout(() => b.classList.remove("on"), 400);
  try {
    state.audio = state.audio || new AudioContext();
    const o = state.audio.createOscillator(), g = state.audio.createGain();
    o.frequency.value = 2200; g.gain.value = 0.05;
    o.connect(g).connect(state.audio.destination);
    o.start(); o.stop(state.audio.currentTime + 0.15);
  } catch (e) { /* the browser does not allow sound yet */ }
}

// ------------------------------------------------------------------ the scanner
$("scan-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const code = $("scan-code").value;
  if (!code) return;
  post("/api/console/scan", { code }).then(() => note("отсканировано")).catch(() => {});
});

function sendImage(file) {
  const reader = new FileReader();
  reader.onload = () => post("/api/console/image", { data: String(reader.result) })
    .then((r) => note(r.read === "token" ? "картинка: токен" : "картинка: " + r.read)).catch(() => {});
  reader.readAsDataURL(file);
}
const drop = $("drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault(); drop.classList.remove("over");
  if (ev.dataTransfer.files.length) sendImage(ev.dataTransfer.files[0]);
});
$("drop-file").addEventListener("change", (ev) => { if (ev.target.files.length) sendImage(ev.target.files[0]); });

async function loadCatalogue() {
  const r = await fetch("/api/console/catalogue");
  const rows = await r.json();
  const body = $("catalogue").tBodies[0];
  body.replaceChildren();
  for (const row of rows) {
    body.append(el("tr", {},
      el("td", {}, row.cases || "—"),
      el("td", { class: "code" }, row.code),
      el("td", {}, row.does),
      el("td", {}, el("button", { class: "pick", "data-code": row.code,
                                  onclick: () => { $("scan-code").value = row.code;
                                                   post("/api/console/scan", { code: row.code }).then(() => note("отсканировано: " + row.code)).catch(() => {}); } },
                      "сканировать"))));
  }
}

// ------------------------------------------------------------------ the switchboard
function hostCard(h, cdn, device) {
  const name = h.host;
  const change = (body) => post("/api/hosts/" + encodeURIComponent(name), body).catch(() => {});
  const plan = (items, repeat) => change({ plan: items, repeat: !!repeat });
  const blocked = cdn && cdn.blocked && cdn.blocked_until ? "заблокирован до " + msk(cdn.blocked_until) : "";
  const card = el("div", { class: "host" + (h.down ? " down" : "") + (cdn && cdn.blocked ? " blocked" : ""),
                           "data-host": name },
    el("h3", {}, name, " ", el("small", {}, h.contour + (h.base ? " · базовый" : ""))),
    el("p", { class: "facts" },
      cdn ? `место ${cdn.rank} · измерено ${cdn.latency_ms ?? "—"} мс · ${blocked || "в работе"}` : "не в списке устройства",
      el("br"),
      `задержка сервера ${h.latency_ms} мс · запросов ${h.requests}` + (h.connections !== undefined ? ` · соединений ${h.connections}` : "") +
      (h.plan.length ? ` · план [${h.plan.join(" ")}]${h.repeat ? " повтор" : ""}` : "") +
      (h.tls ? ` · TLS ${h.tls}` : "") + (h.emergency ? " · 203" : ""),
      el("br"),
      `устройство: запросов ${device.requests[name] || 0} · соединений открыто ${device.opened[name] || 0}`),
    el("div", { class: "buttons" },
      el("label", {}, el("input", { type: "checkbox", class: "down-switch", checked: h.down,
                                     onchange: (ev) => change({ down: ev.target.checked }) }), " недоступен"),
      el("label", {}, el("input", { type: "checkbox", class: "slow-switch", checked: h.latency_ms >= 1500,
                                     onchange: (ev) => change({ latency_ms: ev.target.checked ? 2000 : 50 }) }), " медленный (2 с)"),
      el("label", {}, el("input", { type: "checkbox", class: "emergency-switch", checked: h.emergency,
                                     onchange: (ev) => change({ emergency: ev.target.checked }) }), " 203")),
    el("div", { class: "buttons" },
      el("button", { onclick: () => plan([429, 429]) }, "429 ×2"),
      el("button", { onclick: () => plan([500, 500]) }, "500 ×2"),
      el("button", { onclick: () => plan([504], true) }, "504 всегда"),
      el("button", { onclick: () => plan(["5000", "5000"]) }, "5000"),
      el("button", { onclick: () => plan(["close"]) }, "обрыв"),
      el("button", { onclick: () => plan([]) }, "сбросить план"),
      tlsSelect(h, change)));
  return card;
}

function tlsSelect(h, change) {
  const s = el("select", { class: "tls", title: "неисправность TLS",
                           onchange: (ev) => change({ tls: ev.target.value }) });
  for (const [v, label] of [["none", "TLS в порядке"], ["unknown-ca", "чужой CA"], ["expired", "просрочен"],
                            ["wrong-host", "чужое имя"], ["stall", "зависает"]]) {
    s.append(el("option", { value: v, selected: (h.tls || "none") === v }, label));
  }
  return s;
}

function showHosts(s) {
  state.hosts = s.hosts; state.cdn = s.cdn;
  const byName = Object.fromEntries(s.cdn.map((c) => [c.host, c]));
  const box = $("hosts");
  const focused = document.activeElement && box.contains(document.activeElement);
  if (focused && document.activeElement.tagName === "SELECT") return;   // do not close an open list
  const device = { requests: s.device_requests || {}, opened: s.device_connections || {} };
  box.replaceChildren(...s.hosts.map((h) => hostCard(h, byName[h.host], device)));
  $("world-emergency").checked = !!s.world_emergency;
  $("token-blocked").checked = !!s.token_blocked;
  for (const box of document.querySelectorAll("[data-link]")) {
    const known = s.links && box.dataset.link in s.links;
    box.disabled = !known;
    box.checked = known && s.links[box.dataset.link];
  }
}

$("world-emergency").addEventListener("change", (ev) =>
  post("/api/world", { emergency: { prod: ev.target.checked } }).catch(() => {}));
$("token-blocked").addEventListener("change", (ev) =>
  post("/api/console/token", { blocked: ev.target.checked }).catch(() => {}));

for (const box of document.querySelectorAll("[data-link]")) {
  box.addEventListener("change", () =>
    post("/api/console/link", { name: box.dataset.link, down: box.checked }).catch(() => {}));
}

function buildSpeeds(speeds) {
  const box = $("speeds");
  box.replaceChildren();
  for (const sp of speeds) {
    box.append(el("button", { "data-speed": sp, id: "speed-" + sp,
                              onclick: () => post("/api/console/clock", { speed: sp }).then(showScreen).catch(() => {}) },
                  sp === 0 ? "пауза" : sp === 1 ? "реальное" : "×" + sp));
  }
}
for (const b of document.querySelectorAll("[data-jump]")) {
  b.addEventListener("click", () => post("/api/console/clock", { jump_ms: Number(b.dataset.jump) }).then(showScreen).catch(() => {}));
}

// ------------------------------------------------------------------ what happened
function addLog(r) {
  const item = el("li", { class: "record", "data-code": r.code, value: r.seq },
    el("pre", {}, r.text), el("p", { class: "explanation" }, r.explanation));
  $("log").prepend(item);
  while ($("log").children.length > 200) $("log").lastChild.remove();
}

function showReceipts(list) {
  $("receipts").replaceChildren(...list.map((p) =>
    el("figure", { class: "receipt" }, el("pre", {}, p.text),
       p.qr ? el("img", { src: p.qr, alt: "QR-код чека: " + p.qr_text }) : "")));
}

function addEvent(e) {
  $("events").prepend(el("li", { class: "ev-" + e.kind }, `${msk(e.t).slice(-8)} [${e.kind}] ${e.text}`));
  while ($("events").children.length > 300) $("events").lastChild.remove();
}

// ------------------------------------------------------------------ lessons
function showLesson(l) {
  $("lesson-start").disabled = l.recording;
  $("lesson-stop").disabled = !l.recording;
  $("lesson-state").textContent = l.recording ? `идёт запись: шагов ${l.steps}` : "";
  $("lesson-step").disabled = !(l.playback && l.playback.position < l.playback.total);
  if (l.playback) {
    $("lesson-play").dataset.position = l.playback.position;
    const next = l.playback.next ? JSON.stringify(l.playback.next) : "урок пройден";
    $("lesson-play").dataset.next = next;
  }
}
$("lesson-start").addEventListener("click", () => post("/api/console/lesson", { action: "start" }).then((r) => showLesson(r.lesson)).catch(() => {}));
$("lesson-stop").addEventListener("click", async () => {
  const r = await post("/api/console/lesson", { action: "stop" });
  showLesson(r.lesson);
  const a = $("lesson-download");
  a.href = "data:application/yaml;charset=utf-8," + encodeURIComponent(r.yaml);
  a.hidden = false;
  $("lesson-yaml").value = r.yaml;
});
$("lesson-load").addEventListener("click", () =>
  post("/api/console/lesson", { action: "load", yaml: $("lesson-yaml").value })
    .then((r) => { showLesson(r.lesson); $("lesson-play").textContent = "загружено: шагов " + r.lesson.playback.total; }).catch(() => {}));
$("lesson-step").addEventListener("click", () =>
  post("/api/console/lesson", { action: "step" })
    .then((r) => { showLesson(r.lesson); $("lesson-play").textContent = `шаг ${r.lesson.playback.position}/${r.lesson.playback.total}: ${r.done}`; }).catch(() => {}));

// ------------------------------------------------------------------ the stream
// What the page received, for the events-per-second figure (window.kktConsole.events).
window.kktConsole = { events: 0, since: performance.now() };

function connect() {
  const es = new EventSource("/api/console/events");
  const count = (type) => es.addEventListener(type, () => { window.kktConsole.events += 1; });
  ["screen", "hosts", "log", "receipts", "event", "beep", "lesson"].forEach(count);
  es.addEventListener("open", () => { $("link").textContent = "на связи"; $("link").className = "link on"; });
  es.addEventListener("error", () => { $("link").textContent = "нет связи"; $("link").className = "link off"; });
  es.addEventListener("state", (m) => {
    const s = JSON.parse(m.data);
    state.keypad = s.keypad; buildKeypad(s.keypad); buildSpeeds(s.speeds);
    showScreen(s.screen); showHosts(s); showReceipts(s.receipts);
    $("token").textContent = s.token ? "токен " + s.token : "токена нет";
    $("log").replaceChildren(); s.log.forEach(addLog);
    document.body.dataset.ready = "1";
  });
  es.addEventListener("screen", (m) => showScreen(JSON.parse(m.data)));
  es.addEventListener("hosts", (m) => showHosts(JSON.parse(m.data)));
  es.addEventListener("log", (m) => addLog(JSON.parse(m.data)));
  es.addEventListener("receipts", (m) => showReceipts(JSON.parse(m.data)));
  es.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
  es.addEventListener("beep", beep);
  es.addEventListener("lesson", (m) => showLesson(JSON.parse(m.data)));
  es.addEventListener("catalogue", () => loadCatalogue().catch(() => note("каталог недоступен")));
  es.addEventListener("resync", () => { es.close(); connect(); });
}
connect();
loadCatalogue().catch(() => note("каталог недоступен"));
