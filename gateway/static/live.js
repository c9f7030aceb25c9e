// live.js: the dashboard's "Live feedback" and "Rollout" panels. Polls
// /api/feedback (this gateway's prediction log: counts, and per version the
// metrics of the rows that got a true label) and /api/canary (the broker's
// rollout state: a shadow or a canary, both sides' figures summed over the
// gateways, how the last one ended). Every value from the API reaches the
// page through textContent only, never as markup. Uses app.js's getJson,
// fmtNum and fmtMs.
"use strict";

const LIVE_POLL_MSEC = 1000;

// Replaces tbody's rows by rows (arrays of cell texts) when they changed;
// with no rows, one row spanning cols saying empty.
function liveRows(tbody, rows, empty, cols) {
  const drawn = JSON.stringify([rows, empty]);
  if (tbody.dataset.drawn === drawn) return;
  tbody.dataset.drawn = drawn;
  tbody.replaceChildren(...(rows.length ? rows : [[empty]]).map((cells) => {
    const tr = document.createElement("tr");
    for (const text of cells) {
      const td = tr.appendChild(document.createElement("td"));
      td.textContent = text;
      if (!rows.length) { td.colSpan = cols; td.className = "muted"; }
    }
    return tr;
  }));
}

function livePct(part, whole) {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : "–";
}

// The counts line: what the log took and what happened to the labels.
function feedbackCounts(f) {
  const parts = [`${f.logged} predictions logged`, `${f.accepted} labels accepted`,
    `${f.unknown} unknown id`, `${f.duplicate} duplicate`, `${f.invalid} invalid`];
  if (f.forwarded || f.outbox || f.forward_dropped)
    parts.push(`${f.forwarded} sent to the broker`, `${f.outbox} waiting`, `${f.forward_dropped} dropped`);
  return parts.join(" · ");
}

function feedbackDraw(f) {
  $("#feedback-counts").textContent = feedbackCounts(f);
  const rows = (f.versions || []).slice().reverse().map((v) => [`v${v.version}`, String(v.labelled),
    fmtNum(v.accuracy), fmtNum(v.log_loss), fmtNum(v.auc), fmtNum(v.mae)]);
  liveRows($("#feedback tbody"), rows, "no labels yet", 6);
}

// The live metric of version from the feedback log ("accuracy 0.812 of 40",
// regression "MAE 1.23 of 40"), "no labels yet" without one.
function liveMetricOf(version) {
  const v = ((state.feedback || {}).versions || []).find((x) => x.version === version);
  if (!v || !v.labelled) return "no labels yet";
  return typeof v.mae === "number" ? `MAE ${fmtNum(v.mae)} of ${v.labelled}`
    : `accuracy ${fmtNum(v.accuracy)} of ${v.labelled}`;
}

// What ends the rollout: the time or the candidate requests left.
function rolloutLeft(c) {
  if (c.ends_ms) return `${fmtMs(Math.max(c.ends_ms - Date.now(), 1))} left`;
  if (c.requests_target)
    return `${Math.max(c.requests_target - c.cand_requests, 0)} of ${c.requests_target} candidate requests left`;
  return c.rollout === "shadow" ? "until promoted or rolled back" : "";
}

function rolloutHead(c) {
  if (c.rollout === "none") return "no rollout";
  const what = c.rollout === "canary" ? `canary of v${c.version} at ${c.percent} % of requests`
    : `shadow of v${c.version} (a copy of every request; its answers are discarded)`;
  const since = c.started_ms ? `started ${fmtMs(Date.now() - c.started_ms)} ago` : "";
  return [what, `production v${c.production}`, since, rolloutLeft(c)].filter(Boolean).join(" · ");
}

function rolloutSide(name, version, requests, errors, p99) {
  return [name, `v${version}`, String(requests), String(errors), livePct(errors, requests),
    p99 > 0 ? `${p99.toFixed(2)} ms` : "–", liveMetricOf(version)];
}

function rolloutDraw(c) {
  const on = c.rollout !== "none";
  $("#rollout-state").textContent = rolloutHead(c);
  $("#rollout-state").className = on ? "state-running" : "muted";
  $("#rollout-agreement").textContent = c.rollout === "shadow"
    ? `agreement with production ${livePct(c.agreed, c.compared)} (${c.agreed} of ${c.compared} records)` : "";
  $("#rollout-last").textContent = c.last ? `last rollout: ${c.last}` : "";
  $("#rollout-sides").hidden = !on;
  liveRows($("#rollout-sides tbody"), on ? [
    rolloutSide("candidate", c.version, c.cand_requests, c.cand_errors, c.cand_p99_ms),
    rolloutSide("production", c.production, c.prod_requests, c.prod_errors, c.prod_p99_ms),
  ] : [], "", 7);
}

// Polls both; one failing (a broker away, a token missing) says so in its
// own panel and leaves the other drawn.
async function liveRefresh() {
  try {
    state.feedback = await getJson("/api/feedback");
    feedbackDraw(state.feedback);
  } catch (e) {
    $("#feedback-counts").textContent = `cannot read the feedback log: ${e.message}`;
  }
  try {
    rolloutDraw(await getJson("/api/canary"));
  } catch (e) {
    $("#rollout-state").textContent = `rollout unknown: ${e.message}`;
    $("#rollout-state").className = "error";
  }
}

liveRefresh();
setInterval(liveRefresh, LIVE_POLL_MSEC);
