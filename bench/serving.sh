#!/usr/bin/env bash
# serving.sh: the serving benchmark, side by side in one run on one machine:
#   - the Python reference (anchors/python: uvicorn 1 worker + FastAPI + sklearn)
#   - nginx answering a fixed JSON body (the HTTP ceiling of this machine)
#   - mlops-gateway + two mlops-worker --stage infer, serving logistic
#     regression, then the random forest
# each with wrk -t2 -c16 on 127.0.0.1 (POST /predict, POST /predict/batch with
# 100 records: the reference's own wrk scripts and bodies; ours also the
# same records as Open Inference Protocol infer requests of 1 and 100 rows),
# after a warm-up.
# Prints req/s, p50, p99 and the ratios the serving issue asks for.
#
#   bench/serving.sh                      (about 6 minutes: 4 rounds)
#   ROUNDS=5 DUR=10 WARM=2 REF_FOREST=1 NGINX_WORKERS=2 BACKEND=ipc bench/serving.sh
# Every round runs each server once, one after the other; the tables give
# medians over rounds, and each ratio is the median of the ratios taken
# within a round (the same minutes of a shared machine). Our runs go in the
# reverse order (families and endpoints) every other round, so use an even
# number of rounds for unbiased ratios.
# BACKEND=ipc connects the workers over a Unix socket instead of TCP loopback
# (the default, as workers on other hosts would).
# Needs: make all; wrk, nginx-light, python3-fastapi, python3-uvicorn,
# python3-sklearn, python3-pandas (Debian), ../shared/data/titanic.csv and
# ../shared/anchors/python. Raw wrk outputs and logs: bench/out/serving/.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY=/usr/bin/python3
DUR="${DUR:-10}"; WARM="${WARM:-2}"; THREADS="${THREADS:-2}"; CONNS="${CONNS:-16}"
DATA="${DATA:-$REPO/../shared/data/titanic.csv}"
ANCHORS="${ANCHORS:-$REPO/../shared/anchors/python}"
NGINX_WORKERS="${NGINX_WORKERS:-1}"
OUT="$REPO/bench/out/serving"
for tool in wrk nginx curl; do
  command -v $tool >/dev/null || { echo "serving.sh: $tool is not installed (see the header)" >&2; exit 1; }
done
[ -f "$DATA" ] || { echo "serving.sh: no data at $DATA" >&2; exit 1; }
[ -d "$ANCHORS" ] || { echo "serving.sh: no reference at $ANCHORS" >&2; exit 1; }
make -s all build/release/bench/bench_infer
rm -rf "$OUT"; mkdir -p "$OUT"
. bench/procs.sh   # WORK, PIDS, stop_pids; all stopped at exit

wait_http() {  # url: bounded wait for any HTTP answer
  for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "serving.sh: nothing answers at $1" >&2; return 1
}

# --- models: the reference's (joblib) and ours (artifacts) ------------------
cp -r "$ANCHORS" "$WORK/ref"
rm -rf "$WORK/ref/models" "$WORK/ref/results"
mkdir -p "$WORK/ref/results"
(cd "$WORK/ref" && $PY gen_bodies.py "$DATA" >/dev/null &&
  $PY pipeline.py --data "$DATA" --out models --runs 1 --cv 0 --json-out results/pipeline.json >/dev/null)
LUA="$WORK/ref/wrk"
# the same bodies as Open Inference Protocol (V2) infer requests: one column
# tensor per field; a missing value gets what the model imputes (V2 has no
# null), so the answers are the seed API's
$PY - "$LUA" <<'EOF'
import json, sys
d = sys.argv[1]
types = {"Pclass": "INT64", "Sex": "BYTES", "Age": "FP64", "SibSp": "INT64", "Parch": "INT64",
         "Fare": "FP64", "Embarked": "BYTES", "Name": "BYTES"}
fill = {"Age": 28.0, "Embarked": "S", "Name": "", "SibSp": 0, "Parch": 0, "Fare": 14.4542}
def v2(rows):
    cols = [{"name": k, "shape": [len(rows)], "datatype": t,
             "data": [r.get(k) if r.get(k) is not None else fill.get(k) for r in rows]} for k, t in types.items()]
    return {"inputs": [c for c in cols if None not in c["data"]]}
one = json.load(open(d + "/predict.json"))
many = json.load(open(d + "/batch100.json"))["instances"]
for name, rows in (("v2_1", [one]), ("v2_100", many)):
    json.dump(v2(rows), open("%s/%s.json" % (d, name), "w"))
    open("%s/%s.lua" % (d, name), "w").write(
        'local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"\n'
        'dofile(dir .. "post_body.lua")\nload_body("%s.json")\n' % name)
EOF
# in process, the batch being the 100 passengers wrk sends
build/release/bench/bench_infer --data "$DATA" --out "$WORK" --reps 501 --batch-body "$LUA/batch100.json" | tee "$OUT/bench_infer.txt"

# --- wrk ------------------------------------------------------------------
ROWS=()
CPU_GW=(); CPU_W=()  # our gateway's and workers' pids while they serve: CPU time per request
cpu_ticks() {  # pids: their user + system CPU time so far, in clock ticks
  local sum=0 p
  for p in "$@"; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$sum"
}
run_wrk() {  # label endpoint url lua
  local label=$1 ep=$2 url=$3 lua=$4 out="$OUT/${1}__${2}__r${ROUND}.txt"
  wrk -t"$THREADS" -c"$CONNS" -d"${WARM}s" -s "$LUA/$lua" "$url" >/dev/null
  local gw0 w0 gw1 w1
  gw0=$(cpu_ticks "${CPU_GW[@]}"); w0=$(cpu_ticks "${CPU_W[@]}")
  wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$LUA/$lua" "$url" >"$out"
  gw1=$(cpu_ticks "${CPU_GW[@]}"); w1=$(cpu_ticks "${CPU_W[@]}")
  local row; row="$($PY - "$out" "$((gw1 - gw0))" "$((w1 - w0))" "${#CPU_GW[@]}" "$(getconf CLK_TCK)" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1, "s": 1e3}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\n\s+50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"\n\s+99%\s+(\S+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: (.*)", t)
n = int(re.search(r"(\d+) requests in", t).group(1))
gw, w, ours, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cpu = lambda ticks: "%.1f" % (ticks * 1e6 / hz / n) if ours and n else "-"
print("%.1f %.3f %.3f %d %s %s %s" % (rps, p50, p99, int(bad.group(1)) if bad else 0,
                                       (err.group(1).replace(" ", "") if err else "-"), cpu(gw), cpu(w)))
EOF
)"
  ROWS+=("$ROUND $label $ep $row")
  printf '%-22s %-8s %s\n' "$label" "$ep" "$row"
}

ROUNDS="${ROUNDS:-4}"
BACKEND_KIND="${BACKEND:-tcp}"
for ROUND in $(seq 1 "$ROUNDS"); do
echo "--- round $ROUND of $ROUNDS"
# every port of the round at once from tests/procs.py: free, distinct, and
# below the kernel's ephemeral range, so no outgoing connection takes one
# before its server binds it
read -r API_PORT NGX_PORT GW_PORT BACKEND_PORT < <($PY tests/procs.py 4)
# reference: uvicorn, one worker, as RESULTS.md measured it
ref_start() {  # model path
  (cd "$WORK/ref" && MODEL_PATH="$1" exec $PY -m uvicorn api:app --host 127.0.0.1 --port "$API_PORT" \
     --workers 1 >"$OUT/uvicorn.log" 2>&1) &
  REF_PID=$!; PIDS+=("$REF_PID")
  wait_http "http://127.0.0.1:$API_PORT/health"
}
ref_start "$WORK/ref/models/model.joblib"
run_wrk ref_logreg predict "http://127.0.0.1:$API_PORT/predict" predict.lua
run_wrk ref_logreg batch100 "http://127.0.0.1:$API_PORT/predict/batch" batch.lua
stop_pids "$REF_PID"
if [ "${REF_FOREST:-0}" = 1 ]; then
  ref_start "$WORK/ref/models/candidates/random_forest.joblib"
  run_wrk ref_forest predict "http://127.0.0.1:$API_PORT/predict" predict.lua
  stop_pids "$REF_PID"
fi

# ceiling: nginx returning a fixed JSON body
NGX="$WORK/nginx"; mkdir -p "$NGX"
sed -e "s#@PREFIX@#$NGX#g" -e "s#@WORKERS@#$NGINX_WORKERS#g" -e "s#127.0.0.1:8101#127.0.0.1:$NGX_PORT#" \
  "$ANCHORS/nginx.conf.in" >"$NGX/nginx.conf"
nginx -p "$NGX" -c "$NGX/nginx.conf" -g 'daemon off;' >"$OUT/nginx.log" 2>&1 &
NGX_PID=$!; PIDS+=("$NGX_PID")
wait_http "http://127.0.0.1:$NGX_PORT/"
run_wrk nginx predict "http://127.0.0.1:$NGX_PORT/predict" predict.lua
stop_pids "$NGX_PID"

# ours: gateway + two infer workers, per model family
if [ "$BACKEND_KIND" = ipc ]; then BACKEND="ipc://$WORK/backend.ipc"; else BACKEND="tcp://127.0.0.1:$BACKEND_PORT"; fi
MLOPS_LOG_LEVEL=warning bin/mlops-gateway --port "$GW_PORT" --bind 127.0.0.1 --backend "$BACKEND" \
  >"$OUT/gateway.log" 2>&1 &
GW_PID=$!; PIDS+=("$GW_PID")
wait_http "http://127.0.0.1:$GW_PORT/health"
# odd rounds: logreg then forest, each predict, batch100, v2_1, v2_100; even
# rounds the reverse, so that a ratio is not biased by which ran first
if [ $((ROUND % 2)) = 1 ]; then FAMILIES="logreg forest"; else FAMILIES="forest logreg"; fi
for family in $FAMILIES; do
  W=()
  for i in 1 2; do
    MLOPS_LOG_LEVEL=warning bin/mlops-worker --stage infer --gateway "$BACKEND" --model "$WORK/$family.art" \
      >>"$OUT/infer_$family.log" 2>&1 &
    W+=("$!"); PIDS+=("$!")
  done
  for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:$GW_PORT/health" | grep -q '"workers_serving":2' && break; sleep 0.1
  done
  curl -s -X POST --data-binary @"$LUA/predict.json" "http://127.0.0.1:$GW_PORT/predict" >"$OUT/answer_$family.json"
  CPU_GW=("$GW_PID"); CPU_W=("${W[@]}")
  EPS="predict batch100 v2_1 v2_100"
  [ $((ROUND % 2)) = 1 ] || EPS="v2_100 v2_1 batch100 predict"
  for ep in $EPS; do
    case $ep in
      predict) run_wrk "mlops_$family" predict "http://127.0.0.1:$GW_PORT/predict" predict.lua ;;
      batch100) run_wrk "mlops_$family" batch100 "http://127.0.0.1:$GW_PORT/predict/batch" batch.lua ;;
      *) run_wrk "mlops_$family" "$ep" "http://127.0.0.1:$GW_PORT/v2/models/titanic/infer" "$ep.lua" ;;
    esac
  done
  stop_pids "${W[@]}"
  CPU_GW=(); CPU_W=()
done
curl -s "http://127.0.0.1:$GW_PORT/metrics" >"$OUT/metrics.txt"
stop_pids "$GW_PID"

done

# --- table and ratios -------------------------------------------------------
printf '%s\n' "${ROWS[@]}" >"$OUT/rows.txt"
$PY - "$OUT/rows.txt" "$DUR" "$NGINX_WORKERS" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    rnd, label, ep, rps, p50, p99, bad, err, gw, w = line.split()
    cpu = lambda v: float(v) if v != "-" else None
    runs.setdefault((label, ep), []).append(dict(rps=float(rps), p50=float(p50), p99=float(p99), bad=int(bad), err=err,
                                                 gw=cpu(gw), w=cpu(w), srv=cpu(gw) + cpu(w) if w != "-" else None))
med = lambda key, k: statistics.median(r[k] for r in runs[key])
n = max(len(v) for v in runs.values())
print()
print("median of %d round(s); each round runs every server once, one after the other" % n)
print()
print("| server | endpoint | req/s | p50 ms | p99 ms | req/s in each round | CPU us/req: gateway, workers | non-2xx | socket errors |")
print("| --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- |")
for key, rs in runs.items():
    cpu = "%.0f, %.0f" % (med(key, "gw"), med(key, "w")) if rs[0]["w"] is not None else "-"
    print("| %s | %s | %.0f | %.2f | %.2f | %s | %s | %d | %s |" % (key[0], key[1], med(key, "rps"), med(key, "p50"), med(key, "p99"),
          " ".join("%.0f" % r["rps"] for r in rs), cpu, sum(r["bad"] for r in rs), ",".join(sorted(set(r["err"] for r in rs)))))
# ratios: per round (same moment), then their median
def ratio(a, b, k="rps"):
    return statistics.median(x[k] / y[k] for x, y in zip(runs[a], runs[b]))
R = lambda l, e: (l, e)
checks = [
    ("/predict, ours (LR) / reference", ratio(R("mlops_logreg", "predict"), R("ref_logreg", "predict")), 100, "x"),
    ("/predict, ours (LR) / nginx (%s worker)" % sys.argv[3], ratio(R("mlops_logreg", "predict"), R("nginx", "predict")), 0.30, ""),
    ("/predict p99 ms, ours (LR)", med(R("mlops_logreg", "predict"), "p99"), 2.0, "max"),
    ("/predict/batch (100), ours (LR) / reference", ratio(R("mlops_logreg", "batch100"), R("ref_logreg", "batch100")), 100, "x"),
    ("/predict, forest / logreg (ours)", ratio(R("mlops_forest", "predict"), R("mlops_logreg", "predict")), 0.50, ""),
    ("/predict/batch, forest / logreg (ours)", ratio(R("mlops_forest", "batch100"), R("mlops_logreg", "batch100")), 0.60, ""),
    ("V2 infer 1 row / /predict (LR)", ratio(R("mlops_logreg", "v2_1"), R("mlops_logreg", "predict")), 0.85, ""),
    ("V2 infer 1 row / /predict (forest)", ratio(R("mlops_forest", "v2_1"), R("mlops_forest", "predict")), 0.85, ""),
    ("V2 infer 100 rows / /predict/batch (LR)", ratio(R("mlops_logreg", "v2_100"), R("mlops_logreg", "batch100")), None, ""),
    ("V2 infer 100 rows, forest / logreg", ratio(R("mlops_forest", "v2_100"), R("mlops_logreg", "v2_100")), None, ""),
    #  the same comparisons by our processes' CPU time a request (logreg's
    #  over the forest's: the rate ratio if the cores were ours alone), which
    #  other work on the machine moves far less than it moves the rates
    ("/predict/batch, forest / logreg, by server CPU a request", ratio(R("mlops_logreg", "batch100"), R("mlops_forest", "batch100"), "srv"), None, ""),
    ("/predict, forest / logreg, by server CPU a request", ratio(R("mlops_logreg", "predict"), R("mlops_forest", "predict"), "srv"), None, ""),
]
print()
print("| ratio (median over rounds of the ratio within a round) | measured | target | met |")
print("| --- | ---: | ---: | --- |")
for name, v, target, kind in checks:
    if target is None:
        print("| %s | %.2f | - | - |" % (name, v))
    elif kind == "max":
        print("| %s | %.2f | < %.2f | %s |" % (name, v, target, "yes" if v < target else "NO"))
    else:
        print("| %s | %.2f%s | >= %g%s | %s |" % (name, v, kind, target, kind, "yes" if v >= target else "NO"))
bad = sum(r["bad"] for (l, _), rs in runs.items() if l.startswith("mlops") for r in rs)
print("\nnon-2xx answers from mlops-gateway in all runs: %d" % bad)
EOF
echo
echo "wrk -t$THREADS -c$CONNS -d${DUR}s --latency after a ${WARM}s warm-up, loopback, 2 cores shared by wrk and the servers."
echo "backend: $BACKEND"
echo "reproduce: bench/serving.sh   (raw outputs in bench/out/serving/; knobs ROUNDS DUR WARM THREADS CONNS NGINX_WORKERS REF_FOREST BACKEND)"
