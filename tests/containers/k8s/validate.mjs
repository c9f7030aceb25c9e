// validate.mjs: checks rendered Kubernetes manifests (multi-document YAML on
// stdin, from `kubectl kustomize`) offline, one line per check:
//  - schema: every object against the Kubernetes API schema of
//    kubernetes-models (generated from Kubernetes 1.27's OpenAPI: types,
//    required fields, enums, formats) or KEDA's CRD schema
//    (@kubernetes-models/keda). Like the API's own schema, it does not
//    reject unknown fields.
//  - consistency (our own rules, which no schema states): selectors match
//    their pod labels, named ports exist, Services select pods, Secrets are
//    the documented ones, KEDA targets a rendered Deployment and its
//    Prometheus trigger has a broker started with --metrics and a Service
//    port for it, no container passes --insecure (CURVE and a token
//    instead), HTTP probes send a Host the gateway serves (not the pod IP).
// Prints "ok NAME" / "FAIL NAME: why"; exit 1 on any failure.
import { parseAllDocuments } from "yaml";
import { readFileSync } from "node:fs";

const SECRETS = new Set(["mlops-curve-server", "mlops-curve-client", "mlops-curve-allowed", "mlops-admin"]);
let failed = 0;
const report = (name, why) => {
  if (why) { failed++; console.log(`FAIL ${name}: ${why}`); } else console.log(`ok ${name}`);
};

// apiVersion + kind -> the model class that carries the schema
async function modelOf(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const path = group === "keda.sh" ? `@kubernetes-models/keda/keda.sh/${version}/${obj.kind}`
    : group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/${version}/${obj.kind}`;
  try { return (await import(path))[obj.kind]; } catch { return null; }
}

async function schemaError(obj) {
  const Model = await modelOf(obj);
  if (!Model) return `no schema for ${obj.apiVersion} ${obj.kind}`;
  try { new Model(obj).validate(); return ""; } catch (e) { return e.message.split("\n")[0]; }
}

const podSpecOf = (o) => o.spec?.template?.spec;

function consistencyError(obj, all) {
  const pod = podSpecOf(obj);
  if (obj.kind === "Service") {
    const sel = obj.spec.selector || {};
    const hit = all.some((o) => podSpecOf(o) && Object.entries(sel).every(([k, v]) => o.spec.template.metadata?.labels?.[k] === v));
    return hit ? "" : "selects no pod template";
  }
  if (obj.kind === "ScaledObject") {
    const t = obj.spec.scaleTargetRef.name;
    if (!all.some((o) => o.kind === "Deployment" && o.metadata.name === t)) return `targets no Deployment ${t}`;
    if (obj.spec.triggers.some((g) => g.type === "prometheus") && !s_metricsServed(all))
      return "a Prometheus trigger, but no broker runs with --metrics behind a Service port named metrics";
    return "";
  }
  if (!pod) return "";
  const sel = obj.spec.selector?.matchLabels || {};
  for (const [k, v] of Object.entries(sel))
    if (obj.spec.template.metadata?.labels?.[k] !== v) return `selector ${k}=${v} does not match the pod labels`;
  for (const v of pod.volumes || [])
    if (v.secret && !SECRETS.has(v.secret.secretName)) return `unknown Secret ${v.secret.secretName}`;
  for (const c of pod.containers) {
    const ports = new Set((c.ports || []).map((p) => p.name));
    for (const probe of [c.readinessProbe, c.livenessProbe].filter(Boolean)) {
      const p = probe.tcpSocket?.port ?? probe.httpGet?.port;
      if (typeof p === "string" && !ports.has(p)) return `probe port ${p} is not a port of ${c.name}`;
      if (probe.httpGet && !(probe.httpGet.httpHeaders || []).some((h) => h.name.toLowerCase() === "host"))
        return `HTTP probe of ${c.name} sends the pod IP as Host (the gateway answers 403): set httpHeaders Host`;
    }
    if ((c.args || []).concat(c.command || []).includes("--insecure")) return `${c.name} runs with --insecure`;
    for (const e of c.env || [])
      if (e.valueFrom?.secretKeyRef && !SECRETS.has(e.valueFrom.secretKeyRef.name)) return `unknown Secret ${e.valueFrom.secretKeyRef.name}`;
    const mounts = new Set((pod.volumes || []).map((v) => v.name).concat((obj.spec.volumeClaimTemplates || []).map((v) => v.metadata.name)));
    for (const m of c.volumeMounts || []) if (!mounts.has(m.name)) return `mount ${m.name} has no volume`;
    if (!(pod.securityContext?.runAsNonRoot)) return "pod may run as root";
  }
  return "";
}

// a broker container started with --metrics, and a Service port "metrics" to it
function s_metricsServed(all) {
  const broker = all.find((o) => podSpecOf(o)?.containers.some((c) => (c.args || []).includes("--metrics")));
  const labels = broker?.spec.template.metadata?.labels || {};
  return Boolean(broker) && all.some((o) => o.kind === "Service"
    && Object.entries(o.spec.selector || {}).every(([k, v]) => labels[k] === v)
    && o.spec.ports.some((p) => p.name === "metrics"));
}

const docs = parseAllDocuments(readFileSync(0, "utf8")).map((d) => d.toJS()).filter(Boolean);
if (docs.length === 0) report("rendered objects", "none");
for (const obj of docs) {
  const name = `${obj.kind}/${obj.metadata?.name}`;
  report(`schema ${name}`, await schemaError(obj));
  report(`consistency ${name}`, consistencyError(obj, docs));
}
// the check can fail: a copy of the first workload with a wrong type
const workload = docs.find((o) => o.kind === "Deployment");
if (workload) {
  const broken = structuredClone(workload);
  broken.spec.replicas = "2";
  const why = await schemaError(broken);
  report("schema rejects a Deployment with replicas \"2\"", why ? "" : "accepted");
}
// and the rules can fail: the gateway without its probe's Host, with --insecure
const gateway = docs.find((o) => o.metadata?.name === "mlops-gateway" && podSpecOf(o));
if (gateway) {
  const bare = structuredClone(gateway);
  delete podSpecOf(bare).containers[0].readinessProbe.httpGet.httpHeaders;
  report("consistency rejects a gateway probe without Host", consistencyError(bare, docs) ? "" : "accepted");
  const open = structuredClone(gateway);
  podSpecOf(open).containers[0].args.push("--insecure");
  report("consistency rejects --insecure", consistencyError(open, docs) ? "" : "accepted");
}
process.exit(failed ? 1 : 0);
