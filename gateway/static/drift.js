// drift.js: the dashboard's drift panel. Polls /api/drift (the broker's
// DRIFT: per watched version, each input field's Jensen-Shannon distance to
// the training data and both sides' bin counts) and draws, per field of the
// newest watched version, the training data's shares (grey) beside the live
// window's (blue; red when the field has drifted). Uses app.js's getJson,
// esc and setHtml; hidden while the broker watches nothing.
"use strict";

const DRIFT_POLL_MSEC = 2000;

// The bin labels of a field: number bins by their edges, category levels
// then "unseen"; "missing" last, as the counts come.
function driftLabels(f) {
  if (f.kind === "number") {
    const e = f.edges.map((x) => +x.toPrecision(3));
    const bins = e.length ? [`≤ ${e[0]}`] : ["all"];
    for (let i = 1; i < e.length; i++) bins.push(`${e[i - 1]}–${e[i]}`);
    if (e.length) bins.push(`> ${e[e.length - 1]}`);
    return [...bins, "missing"];
  }
  return [...f.levels, "unseen", "missing"];
}

function driftShares(counts) {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total ? c / total : 0));
}

// One field's histogram as an SVG: a pair of bars per bin.
function driftChart(f) {
  const labels = driftLabels(f), ref = driftShares(f.reference), live = driftShares(f.live);
  const W = 260, H = 90, base = 72, n = labels.length, slot = W / n;
  const top = Math.max(...ref, ...live, 0.01);
  let bars = "";
  for (let i = 0; i < n; i++) {
    const x = i * slot, w = Math.max(slot / 2 - 1, 1);
    const hr = (ref[i] / top) * (base - 4), hl = (live[i] / top) * (base - 4);
    bars += `<rect class="ref" x="${x.toFixed(1)}" y="${(base - hr).toFixed(1)}" width="${w.toFixed(1)}" height="${hr.toFixed(1)}">` +
      `<title>${esc(labels[i])}: training ${(ref[i] * 100).toFixed(1)} %</title></rect>` +
      `<rect class="live" x="${(x + w).toFixed(1)}" y="${(base - hl).toFixed(1)}" width="${w.toFixed(1)}" height="${hl.toFixed(1)}">` +
      `<title>${esc(labels[i])}: live ${(live[i] * 100).toFixed(1)} %</title></rect>` +
      `<text x="${(x + slot / 2).toFixed(1)}" y="${H - 4}">${esc(labels[i].slice(0, 8))}</text>`;
  }
  return `<svg viewBox="0 0 ${W} ${H}" class="drift-chart${f.drifted ? " drifted" : ""}" ` +
    `aria-label="${esc(f.name)}: training vs live">${bars}</svg>`;
}

function driftHtml(d) {
  const v = d.versions[d.versions.length - 1];
  const head = `<p class="muted">v${v.version}: ${v.rows} live rows in the window` +
    (v.measured ? "" : ` (decisions from ${d.min_rows})`) +
    `; a field drifts at distance ≥ ${d.threshold}. Grey: training data, blue: live.</p>`;
  const cards = v.fields.filter((f) => f.reference).map((f) =>
    `<figure class="drift-field"><figcaption>${esc(f.name)} <span class="${f.drifted ? "error" : "muted"}">` +
    `JS ${f.js.toFixed(3)} · PSI ${f.psi.toFixed(3)}${f.drifted ? " · drifted" : ""}</span></figcaption>` +
    `${driftChart(f)}</figure>`).join("");
  return head + `<div class="drift-grid">${cards}</div>`;
}

async function driftRefresh() {
  const panel = $("#drift-panel");
  try {
    const d = await getJson("/api/drift");
    panel.hidden = !(d.versions && d.versions.length);
    if (!panel.hidden) setHtml($("#drift"), driftHtml(d));
  } catch (e) {
    panel.hidden = true;   // a broker older than DRIFT, or away: app.js says so
  }
}

driftRefresh();
setInterval(driftRefresh, DRIFT_POLL_MSEC);
