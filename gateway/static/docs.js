/*  docs.js: the /docs page's endpoint list and try-it (a file of its own:
    the gateway's Content-Security-Policy allows no inline script). */
"use strict";
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function allowed(p) {
  const parts = [];
  if (p.enum) parts.push("one of " + p.enum.join(", "));
  if (p["x-known-values"]) parts.push("known: " + p["x-known-values"].join(", "));
  if (p.minimum !== undefined) parts.push(">= " + p.minimum);
  if (p.maximum !== undefined) parts.push("<= " + p.maximum);
  return parts.join("; ");
}

function render(doc) {
  document.getElementById("about").textContent = doc.info.description +
    (doc.info["x-model"] ? " Served model: " + doc.info["x-model"].name + ", version " +
     doc.info["x-model"].version + "." : " No model is served yet.");
  const ep = document.querySelector("#endpoints tbody");
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === "parameters") continue;
      const tr = document.createElement("tr");
      cell(tr, method.toUpperCase(), method);
      cell(tr, path);
      cell(tr, op.summary);
      ep.appendChild(tr);
    }
  }
  const record = doc.components.schemas.Record;
  const required = new Set(record.required || []);
  const fb = document.querySelector("#fields tbody");
  for (const [name, p] of Object.entries(record.properties || {})) {
    const tr = document.createElement("tr");
    cell(tr, name);
    cell(tr, p.type);
    cell(tr, allowed(p));
    cell(tr, required.has(name) ? "yes" : "no");
    fb.appendChild(tr);
  }
  document.getElementById("try-body").value = JSON.stringify(record.example || {}, null, 2);
}

async function send() {
  const status = document.getElementById("try-status");
  const result = document.getElementById("try-result");
  status.textContent = "sending...";
  try {
    const r = await fetch("/predict", {method: "POST", headers: {"Content-Type": "application/json"},
                                       body: document.getElementById("try-body").value});
    status.textContent = "HTTP " + r.status;
    result.textContent = JSON.stringify(await r.json(), null, 2);
  } catch (e) {
    status.textContent = "failed";
    result.textContent = String(e);
  }
}

document.getElementById("try-send").addEventListener("click", send);
fetch("/openapi.json").then(r => r.json()).then(render).catch(e => {
  document.getElementById("about").textContent = "cannot read /openapi.json: " + e;
});
