// app.js: the dashboard. Polls the gateway's /api endpoints (which ask the
// broker's control socket) once a second and redraws; buttons POST to the
// same endpoints. The token typed in goes with every call (with an admin
// token set, the gateway wants one for reads too). No library, no request to
// anything but this origin, no inline script or style: the gateway's
// Content-Security-Policy (default-src 'self') refuses them, so positions
// are set through the CSSOM (element.style), which it allows. Task logs
// (a run's "logs" button, or a click on one stage's bar) are shown as text
// only (textContent): a worker's lines never become markup.
"use strict";

const POLL_MSEC = 1000;
const $ = (sel) => document.querySelector(sel);
const state = { runs: [], models: { versions: [], production: 0 }, status: null };
const LOG_ENTRY_HEAD = (e) => `== ${e.task_id} attempt ${e.attempt} on ${e.worker || "?"} ==\n` +
  (e.bytes_dropped ? `(${e.bytes_dropped} older bytes not kept)\n` : "");

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function fmtMs(ms) {
  if (!ms || ms < 0) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

function fmtNum(x, digits = 4) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : "–";
}

function metricOf(v, name) {
  const m = v.metrics || v;
  return m[name];
}

// The metrics shown per task type ([name, label, column head when shorter]):
// the table's three columns are the first three, the chart offers all. A
// version says its task in its metrics' "task" (the registry writes it for
// multiclass and regression), else by its metrics' names (r2: regression,
// macro_f1: multiclass, else binary).
const TASK_METRICS = {
  binary: [["auc", "ROC AUC", "AUC"], ["accuracy", "accuracy"], ["f1", "F1"], ["log_loss", "log loss"]],
  multiclass: [["accuracy", "accuracy"], ["macro_f1", "macro F1"], ["log_loss", "log loss"]],
  regression: [["r2", "R²"], ["rmse", "RMSE"], ["mae", "MAE"]],
};

function taskOf(v) {
  const m = (v && v.metrics) || {};
  if (TASK_METRICS[m.task]) return m.task;
  return "r2" in m ? "regression" : "macro_f1" in m ? "multiclass" : "binary";
}

// The task of the versions shown: the newest version's (the table follows
// what the pipeline trains now).
function tableTask(versions) {
  return taskOf(versions[versions.length - 1]);
}

// Column heads and chart choices for task; the chosen metric is kept when
// the task offers it.
function drawMetricChoices(task) {
  const metrics = TASK_METRICS[task];
  document.querySelectorAll("#models th.metric").forEach((th, i) => { th.textContent = metrics[i][2] || metrics[i][1]; });
  const select = $("#metric");
  const options = metrics.map(([name, label]) => `<option value="${name}">${esc(label)}</option>`).join("");
  if (select.dataset.drawn === options) return;
  const chosen = select.value;
  select.innerHTML = options;
  select.dataset.drawn = options;
  select.value = metrics.some(([name]) => name === chosen) ? chosen : metrics[0][0];
}

// Replaces an element's content only when it changed, so a poll that brings
// nothing new leaves the page (a button under the pointer, a selection) alone.
function setHtml(el, html) {
  if (el.dataset.drawn !== html) {
    el.innerHTML = html;
    el.dataset.drawn = html;
  }
}

function say(text, bad) {
  const el = $("#message");
  el.textContent = text || "";
  el.className = bad ? "bad" : "";
}

// The Authorization header for the typed token ({} when none is typed).
function auth() {
  const token = $("#token").value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store", headers: auth() });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error(body.detail || body.error || `${path}: HTTP ${res.status}`);
    e.status = res.status;
    throw e;
  }
  return body;
}

async function post(path, payload) {
  const headers = { "Content-Type": "application/json", ...auth() };
  const res = await fetch(path, { method: "POST", headers, body: JSON.stringify(payload || {}) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const why = typeof body.detail === "string" ? body.detail : (body.error || JSON.stringify(body));
    throw new Error(`${res.status}: ${why}`);
  }
  return body;
}

// A running task's progress as the broker's STATUS shows it on the worker
// holding it ("1200/5000 rows (24%, about 12 s left)"), else "".
function progressOf(taskId) {
  const w = ((state.status || {}).workers || []).find((x) => x.task_id === taskId);
  return w && w.progress ? w.progress : "";
}

function timeline(run) {
  const tasks = run.tasks || [];
  const start = run.started_ms || Math.min(...tasks.map((t) => t.started_ms || Infinity));
  const end = run.ended_ms || Date.now();
  if (!isFinite(start) || !start) return '<div class="timeline"></div>';
  const span = Math.max(end - start, 1);
  const bars = tasks.map((t) => {
    if (!t.started_ms) return "";
    const left = ((t.started_ms - start) / span) * 100;
    const width = Math.max((((t.ended_ms || end) - t.started_ms) / span) * 100, 1.5);
    const label = t.family ? `${t.stage}:${t.family}` : t.stage;
    const title = `${label} ${t.state}, ${fmtMs((t.ended_ms || end) - t.started_ms)}, ` +
      `attempts ${t.attempts}${t.worker ? ", " + t.worker : ""}${t.error ? "\n" + t.error : ""}` +
      (t.state === "running" && progressOf(t.task_id) ? `\n${progressOf(t.task_id)}` : "");
    const cls = t.state === "done" ? "done" : t.state === "failed" ? "failed"
      : t.state === "running" ? "running" : "pending";
    return `<div class="bar ${cls}" data-left="${left}" data-width="${width}" data-run="${esc(run.id)}" ` +
      `data-task="${esc(t.task_id)}" title="${esc(title)}">${esc(label)}</div>`;
  }).join("");
  return `<div class="timeline">${bars}</div>`;
}

function drawRuns() {
  const rows = state.runs.map((r) => {
    const took = r.ended_ms && r.started_ms ? fmtMs(r.ended_ms - r.started_ms)
      : r.started_ms ? fmtMs(Date.now() - r.started_ms) + "…" : "–";
    const progress = r.state === "running" ? (r.tasks || []).filter((t) => t.state === "running")
      .map((t) => [t, progressOf(t.task_id)]).filter(([, p]) => p)
      .map(([t, p]) => `${t.stage}${t.family ? ":" + t.family : ""} ${p}`).join(", ") : "";
    const retries = (r.tasks || []).filter((t) => t.attempts > 1)
      .map((t) => `${t.stage}${t.family ? ":" + t.family : ""} ×${t.attempts}`).join(", ");
    return `<tr>
      <td>${esc(r.id)} <button class="small secondary logs" data-run="${esc(r.id)}">logs</button></td>
      <td class="state-${esc(r.state)}">${esc(r.state)}</td>
      <td>${esc(r.source)}${r.coalesced ? ` <span class="muted">(+${esc(r.coalesced)} coalesced)</span>` : ""}</td>
      <td>${timeline(r)}${progress ? `<div class="muted progress">${esc(progress)}</div>` : ""}${retries ? `<div class="muted">retries: ${esc(retries)}</div>` : ""}</td>
      <td>${esc(r.outcome)}${r.error ? `<div class="error">${esc(r.error)}</div>` : ""}</td>
      <td>${took}</td></tr>`;
  });
  setHtml($("#runs tbody"), rows.join("") || '<tr><td colspan="6" class="muted">no runs yet</td></tr>');
  for (const bar of document.querySelectorAll("#runs .bar")) {
    bar.style.left = `${bar.dataset.left}%`;
    bar.style.width = `${bar.dataset.width}%`;
  }
}

function drawModels() {
  const versions = state.models.versions || [];
  const task = tableTask(versions);
  drawMetricChoices(task);
  const shown = TASK_METRICS[task].slice(0, 3);
  const rows = versions.slice().reverse().map((v) => `<tr>
      <td>${esc(v.version)}</td>
      <td class="stage-${esc(v.stage)}">${esc(v.stage)}</td>
      <td>${esc(v.family)}</td>
      ${shown.map(([name]) => `<td>${fmtNum(metricOf(v, name))}</td>`).join("")}
      <td>${esc(v.run_id)}</td>
      <td title="${esc(v.dataset_hash)}">${esc(String(v.dataset_hash || "").slice(0, 10))}</td>
      <td>${esc(v.reason)}</td>
      <td>${v.stage === "production" ? "" : `<button class="small promote" data-version="${esc(v.version)}">Promote</button>`}</td>
    </tr>`);
  setHtml($("#models tbody"), rows.join("") || '<tr><td colspan="10" class="muted">no versions yet</td></tr>');
  drawChart(versions);
  $("#prod").textContent = `production: ${state.models.production ? "v" + state.models.production : "–"}`;
}

function drawChart(versions) {
  const metric = $("#metric").value;
  const pts = versions.map((v) => [v.version, metricOf(v, metric), v.stage])
    .filter((p) => typeof p[1] === "number" && isFinite(p[1]));
  const svg = $("#chart");
  if (!pts.length) { setHtml(svg, '<text x="10" y="20" fill="#6b6b66">no versions yet</text>'); return; }
  const W = 600, H = 160, P = 24;
  const ys = pts.map((p) => p[1]);
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi - lo < 1e-6) { lo -= 0.01; hi += 0.01; }
  const x = (i) => P + (pts.length === 1 ? (W - 2 * P) / 2 : (i * (W - 2 * P)) / (pts.length - 1));
  const y = (v) => H - P - ((v - lo) / (hi - lo)) * (H - 2 * P);
  const line = pts.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  const dots = pts.map((p, i) => `<circle cx="${x(i)}" cy="${y(p[1])}" r="${p[2] === "production" ? 6 : 4}"
      fill="${p[2] === "production" ? "#1f7a3d" : "#1c5fb8"}"><title>v${p[0]} ${metric} ${p[1].toFixed(4)} (${p[2]})</title></circle>
      <text x="${x(i)}" y="${H - 6}" font-size="10" text-anchor="middle" fill="#6b6b66">v${p[0]}</text>`).join("");
  setHtml(svg, `<text x="4" y="12" font-size="10" fill="#6b6b66">${hi.toFixed(3)}</text>
    <text x="4" y="${H - P + 4}" font-size="10" fill="#6b6b66">${lo.toFixed(3)}</text>
    <path d="${line}" fill="none" stroke="#1c5fb8" stroke-width="1.5"/>${dots}`);
}

// The broker's name for one of the gateway's inference workers (which the
// gateway knows by host and pid only): from STATUS's serving list, else
// host:pid, as the broker calls a worker that sent no name.
function inferName(s, w) {
  const known = (s.serving || []).find((v) => v.host === w.host && v.pid === w.pid);
  return known && known.name ? known.name : `${w.host}:${w.pid}`;
}

function drawWorkers() {
  const s = state.status || {};
  const infer = (s.infer_workers || []).map((w) => ({ ...w, name: inferName(s, w) }));
  const workers = (s.workers || []).concat(infer);
  workers.sort((a, b) => String(a.stage).localeCompare(String(b.stage)));
  const now = Date.now();
  setHtml($("#workers tbody"), workers.map((w) => `<tr>
      <td>${esc(w.stage)}</td><td>${esc(w.name || `${w.host}:${w.pid}`)}</td><td>${esc(w.host)}</td><td>${esc(w.pid)}</td>
      <td class="${w.state === "busy" ? "state-running" : ""}">${esc(w.state)}</td>
      <td>${esc(w.task_id || (w.model_version ? "serving v" + w.model_version : ""))}</td>
      <td>${w.last_seen_ms ? fmtMs(now - w.last_seen_ms) + " ago" : "–"}</td></tr>`).join("")
    || '<tr><td colspan="7" class="muted">no live workers</td></tr>');
  const next = s.next_schedule_ms ? `next scheduled run: ${new Date(s.next_schedule_ms).toLocaleString()}` : "";
  $("#next").textContent = [next, s.waiting].filter(Boolean).join(" · ");
}

async function refresh() {
  try {
    const [runs, models, status] = await Promise.all(
      [getJson("/api/runs"), getJson("/api/models"), getJson("/api/workers")]);
    state.runs = runs.runs || [];
    state.models = models;
    state.status = status;
    $("#conn").textContent = "live";
    $("#conn").className = "pill state-succeeded";
    drawRuns(); drawModels(); drawWorkers();
  } catch (e) {
    $("#conn").textContent = e.status === 401 || e.status === 403
      ? `token needed: ${e.message}` : `broker unreachable: ${e.message}`;
    $("#conn").className = "pill state-failed";
  }
}

// Shows the log lines of run's tasks (of one task when task is given) in
// the logs panel, as text.
async function showLogs(run, task) {
  const path = `/api/runs/${encodeURIComponent(run)}/logs` + (task ? `?task=${encodeURIComponent(task)}` : "");
  $("#logs-of").textContent = task ? `task ${task}` : `run ${run}`;
  $("#logs-panel").hidden = false;
  try {
    const body = await getJson(path);
    const entries = body.logs || [];
    $("#logs").textContent = entries.map((e) => LOG_ENTRY_HEAD(e) + e.text).join("\n")
      || "no log lines were kept for this " + (task ? "task" : "run");
  } catch (e) {
    $("#logs").textContent = `cannot read the logs: ${e.message}`;
  }
}

async function act(what, path, payload) {
  try {
    const body = await post(path, payload);
    say(`${what}: ${JSON.stringify(body)}`);
    refresh();
  } catch (e) {
    say(`${what} failed: ${e.message}`, true);
  }
}

$("#retrain").addEventListener("click", () => {
  const source = $("#source").value.trim();
  act("retrain", "/api/retrain", source ? { source, reason: "dashboard" } : { reason: "dashboard" });
});
$("#rollback").addEventListener("click", () => act("rollback", "/api/rollback", { reason: "dashboard" }));
$("#models").addEventListener("click", (ev) => {
  const btn = ev.target.closest("button.promote");
  if (btn) act(`promote v${btn.dataset.version}`, "/api/promote",
    { version: Number(btn.dataset.version), reason: "dashboard" });
});
$("#runs").addEventListener("click", (ev) => {
  const el = ev.target.closest("button.logs, .bar");
  if (el) showLogs(el.dataset.run, el.dataset.task);
});
$("#logs-close").addEventListener("click", () => { $("#logs-panel").hidden = true; });
$("#metric").addEventListener("change", () => drawChart(state.models.versions || []));
$("#token").value = sessionStorage.getItem("mlops-token") || "";
$("#token").addEventListener("change", () => sessionStorage.setItem("mlops-token", $("#token").value));
$("#token").addEventListener("input", refresh);

refresh();
setInterval(refresh, POLL_MSEC);
