// leakguard dashboard: polls the admin API (the session cookie
// authenticates; state changes add X-Leakguard: 1 against CSRF). No raw
// personal data is ever shown: keys are hashes, counts are counts.
"use strict";

const $ = (id) => document.getElementById(id);
let last = null;

async function api(path, opts = {}) {
  opts.headers = Object.assign({"X-Leakguard": "1"}, opts.headers || {});
  opts.credentials = "same-origin";
  const r = await fetch(path, opts);
  if (r.status === 401) { location.reload(); throw new Error("signed out"); }
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

function sum(m) { return Object.values(m || {}).reduce((a, b) => a + b, 0); }
function fmt(n) { return n >= 100 ? Math.round(n).toLocaleString() : (Math.round(n * 10) / 10).toString(); }
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

async function refreshStats() {
  const s = await api("/api/stats");
  $("mode").textContent = s.mode;
  $("mode").className = "badge " + s.mode;
  $("toggle-mode").textContent = s.mode === "shadow" ? "enforce" : "back to shadow";
  $("cold").textContent = (s.cold_share * 100).toFixed(1) + "%";
  $("sanctioned").textContent = s.sanctioned_keys;
  const t = new Date(s.time).getTime() / 1000;
  if (last) {
    const dt = Math.max(t - last.t, 0.001);
    const req = sum(s.requests), rec = sum(s.records);
    const refused = (s.requests.blocked || 0) + (s.requests.throttled || 0) + (s.requests.challenged || 0);
    $("rps").textContent = fmt((req - last.req) / dt);
    $("recps").textContent = fmt((rec - last.rec) / dt);
    $("suspps").textContent = fmt((s.suspect_records - last.sus) / dt);
    $("refused").textContent = fmt((refused - last.refused) / dt);
  }
  last = {t, req: sum(s.requests), rec: sum(s.records), sus: s.suspect_records,
    refused: (s.requests.blocked || 0) + (s.requests.throttled || 0) + (s.requests.challenged || 0)};
  $("decisions-by-action").textContent = "decisions since start: " +
    (Object.entries(s.decisions).map(([a, n]) => a + " " + n).join(", ") || "none");
  drawTimeline(s.timeline || []);
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

function drawTimeline(samples) {
  const svg = $("timeline");
  svg.replaceChildren();
  if (samples.length < 2) return;
  const max = Math.max(1, ...samples.map((x) => x.records));
  const pts = (f) => samples.map((x, i) =>
    (i * 800 / (samples.length - 1)).toFixed(1) + "," + (155 - f(x) * 150 / max).toFixed(1)).join(" ");
  for (const [f, color] of [[(x) => x.records, "#4c78a8"], [(x) => x.suspect, "#e45756"]]) {
    const p = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    p.setAttribute("points", pts(f));
    p.setAttribute("fill", "none");
    p.setAttribute("stroke", color);
    p.setAttribute("stroke-width", "2");
    p.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(p);
  }
}

async function refreshActors() {
  const q = new URLSearchParams({top: "15"});
  if ($("window").value) q.set("window", $("window").value);
  if ($("kind").value) q.set("kind", $("kind").value);
  const r = await api("/api/actors?" + q);
  if (!$("window").options.length) {
    for (const w of r.windows || [r.window]) $("window").append(el("option", {}, w));
  }
  const body = $("actors").tBodies[0];
  body.replaceChildren(...r.actors.map((a) => el("tr", {"data-key": a.key},
    el("td", {}, el("code", {}, a.key)),
    el("td", {}, Object.entries(a.records).map(([e, n]) => n.toLocaleString() + " " + e).join(", ") || "0"),
    el("td", {}, a.requests.toLocaleString()),
    el("td", {}, a.misses.toLocaleString()),
    el("td", {}, new Date(a.last_seen).toLocaleTimeString()),
    el("td", {},
      el("button", {type: "button", class: "details", onclick: () => showActor(a.key)}, "why"), " ",
      el("button", {type: "button", class: "unblock", onclick: () => unblock(a.key)}, "unblock")))));
}

function decisionText(d) {
  if (d.msg === "operator") {
    return "operator " + d.action + (d.key ? " " + d.key : "") + (d.prefix ? " " + d.prefix : "") + (d.mode ? " " + d.mode : "");
  }
  let s = d.action + " " + d.key + " by " + d.rule;
  if (d.count) s += " (" + d.count + (d.limit ? " of " + d.limit : "") + ")";
  if (d.route) s += " on " + d.route;
  if (d.signals && d.signals.length) s += " signals: " + d.signals.join(", ");
  if (d.shadow) s += " [shadow]";
  return s;
}

function decisionItem(d) {
  return el("li", {}, el("span", {class: "muted"}, new Date(d.time).toLocaleTimeString() + " "),
    el("span", {class: "act-" + d.action}, decisionText(d)));
}

async function refreshDecisions() {
  const ds = await api("/api/decisions");
  $("decisions").replaceChildren(...ds.slice(0, 30).map(decisionItem));
}

async function showActor(key) {
  const d = await api("/api/actor?key=" + encodeURIComponent(key));
  $("detail").hidden = false;
  $("detail-key").textContent = key;
  const box = $("detail-series");
  box.replaceChildren();
  for (const [w, ents] of Object.entries(d.series)) {
    for (const [e, vals] of Object.entries(ents)) {
      const max = Math.max(1, ...vals);
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 130 40");
      svg.setAttribute("style", "width:260px;height:60px");
      vals.forEach((v, i) => {
        const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
        const h = v * 38 / max;
        r.setAttribute("x", i * 10); r.setAttribute("width", 8); r.setAttribute("y", 39 - h); r.setAttribute("height", h);
        r.setAttribute("fill", "#4c78a8");
        svg.append(r);
      });
      box.append(el("div", {class: "spark"}, el("div", {class: "muted"},
        e + " per " + d.bucket_width[w] + " over " + w + ": " + vals.reduce((a, b) => a + b, 0).toLocaleString() +
        " (requests " + (d.requests[w] || 0) + ", misses " + (d.misses[w] || 0) + ")"), svg));
    }
  }
  $("detail-decisions").replaceChildren(...(d.decisions.length ? d.decisions.map(decisionItem) : [el("li", {class: "muted"}, "no decision on this key")]));
}

async function unblock(key) {
  await api("/api/unblock?key=" + encodeURIComponent(key), {method: "POST"});
  await Promise.all([refreshDecisions(), refreshActors()]);
}

async function refreshReports() {
  const rs = await api("/api/reports");
  if (!rs.length) return;
  $("reports").replaceChildren(...rs.map((r) => el("li", {}, el("strong", {}, r.kind), " " + r.file + ": " +
    Object.entries(r.summary).map(([k, v]) => k + " " + (typeof v === "object" ? JSON.stringify(v) : v)).join(", "))));
}

$("toggle-mode").addEventListener("click", async () => {
  const to = $("mode").textContent === "shadow" ? "enforce" : "shadow";
  await api("/api/mode?set=" + to, {method: "POST"});
  await Promise.all([refreshStats(), refreshDecisions()]);
});
$("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
$("window").addEventListener("change", refreshActors);
$("kind").addEventListener("change", refreshActors);
// The allowlist in force (config and run time), each with a remove button.
async function refreshAllows() {
  const r = await api("/api/allow");
  $("allows").replaceChildren(...r.allowed.map((p) => el("li", {}, p + " ",
    el("button", {class: "small", onclick: async () => {
      try { await api("/api/allow?prefix=" + encodeURIComponent(p), {method: "DELETE"}); $("allow-result").textContent = "removed " + p; }
      catch (e) { $("allow-result").textContent = String(e); }
      refreshAllows(); refreshDecisions();
    }}, "remove"))));
}
$("allow-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("/api/allow?prefix=" + encodeURIComponent($("allow-prefix").value), {method: "POST"});
    $("allow-result").textContent = "allowed " + r.allowed + " (" + r.note + ")";
  } catch (e) { $("allow-result").textContent = String(e); }
  refreshAllows();
  refreshDecisions();
});

// The budgets in force, with what calibration learnt (kept across restarts),
// and each partner's own normal under its allowlisted budgets.
async function refreshPolicy() {
  const p = await api("/api/policy");
  $("policy-summary").textContent = p.summary;
  const learnt = p.learnt || {};
  $("policy").querySelector("tbody").replaceChildren(...(p.budgets || []).map((b) =>
    el("tr", {}, el("td", {}, b.id), el("td", {}, String(b.limit)),
      el("td", {}, learnt[b.id] ? String(learnt[b.id]) : (b.learn ? "learning" : "–")), el("td", {}, b.action))));
  $("partners").querySelector("tbody").replaceChildren(...(p.partners || []).map((x) =>
    el("tr", {}, el("td", {}, x.key), el("td", {}, x.budget),
      el("td", {}, x.own_normal ? String(x.own_normal) : "not known yet"), el("td", {}, String(x.limit)), el("td", {}, x.since))));
}

async function tick() {
  try { await Promise.all([refreshStats(), refreshActors(), refreshDecisions()]); } catch (e) { $("updated").textContent = String(e); }
}
tick();
refreshReports();
refreshAllows().catch((e) => { $("allow-result").textContent = String(e); });
refreshPolicy().catch((e) => { $("policy-summary").textContent = String(e); });
setInterval(() => refreshPolicy().catch(() => {}), 30000);
setInterval(tick, 2000);
