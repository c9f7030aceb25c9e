#!/usr/bin/env bash
# retrain.sh: a retrain on the Titanic CSV through real processes and sockets
# (mlops-broker, one worker per stage and two train workers, the mlops CLI),
# from `mlops retrain` to load_model done, side by side with the Python
# reference pipeline's in-process time measured in the same session.
#
#   bench/retrain.sh              RUNS=7 by default; DATA=path to another CSV
#
# Prints per run the CLI's wall time (process start to exit, including its
# 25 ms subscription pause) and the broker's (trigger received to run
# committed as succeeded), then the median per-stage breakdown: the worker's
# compute time, the broker-side span (dispatch committed to result committed)
# and the difference (messaging, input building, commits), and the broker's
# own cost per message (handler time excluding store commits) and per commit.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
PY=/usr/bin/python3
DATA=${DATA:-$PWD/../shared/data/titanic.csv}
[ -f "$DATA" ] || { echo "skip retrain bench: no data at $DATA"; exit 0; }
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")
make -s all >/dev/null
TMP=$(mktemp -d /tmp/mlops-bench-retrain.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
W=$(port); C=$(port); E=$(port)
bin/mlops-broker --store "$TMP/store" --work tcp://127.0.0.1:$W --control tcp://127.0.0.1:$C \
    --events tcp://127.0.0.1:$E 2>"$TMP/broker.log" & PIDS+=($!)
BROKER=$!
for s in extract preprocess train train evaluate load_model; do
    bin/mlops-worker --stage $s --broker tcp://127.0.0.1:$W 2>"$TMP/worker-$s-$RANDOM.log" & PIDS+=($!)
done
CLI=(--control tcp://127.0.0.1:$C --events tcp://127.0.0.1:$E)
for i in $(seq 50); do
    n=$(bin/mlops status "${CLI[@]}" --json 2>/dev/null | grep -c '"stage"' || true)
    [ "$n" -ge 6 ] && break; sleep 0.1
done
bin/mlops retrain "${CLI[@]}" --source "$DATA" --reason warm-up --wait >/dev/null   # warm caches
: > "$TMP/cli_ms"
for i in $(seq "$RUNS"); do
    s=$(date +%s%N)
    bin/mlops retrain "${CLI[@]}" --source "$DATA" --reason bench --wait >/dev/null
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >> "$TMP/cli_ms"
done
bin/mlops runs "${CLI[@]}" --limit $((RUNS + 1)) --json > "$TMP/runs.json"
kill "$BROKER"; wait "$BROKER" 2>/dev/null || true
cat "$TMP"/worker-*.log > "$TMP/workers.log"

# the Python reference, in process, same machine, same session
rm -rf /tmp/mlops-ref && cp -r ../shared/anchors/python /tmp/mlops-ref 2>/dev/null || cp -r /work/shared/anchors/python /tmp/mlops-ref
$PY /tmp/mlops-ref/pipeline.py --data "$DATA" --out "$TMP/ref-models" --runs "$RUNS" --cv 0 \
    --json-out "$TMP/ref.json" >/dev/null

$PY - "$TMP" "$RUNS" <<'PYEOF'
import json, re, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
med = statistics.median
recs = [r for r in json.load(open(tmp + "/runs.json"))["runs"] if r["reason"] == "bench"]
cli = [int(x) / 1000 for x in open(tmp + "/cli_ms").read().split()]
broker = [r["ended_ms"] - r["created_ms"] for r in recs]
assert all(r["state"] == "succeeded" for r in recs), "a bench run failed"
compute = {}
for m in re.finditer(r"task done task=(\d+)-(\S+) ms=(\d+)", open(tmp + "/workers.log").read()):
    if any(int(m.group(1)) == r["id"] for r in recs):
        compute.setdefault(m.group(2), []).append(int(m.group(3)))
spans = {}
for r in recs:
    for t in r["tasks"]:
        name = t["task_id"].split("-", 1)[1]
        spans.setdefault(name, []).append(t["ended_ms"] - t["started_ms"])
ref = json.load(open(tmp + "/ref.json"))["stage_times_ms"]["median"]
ref_of = {"extract": "extract", "preprocess": "preprocess", "train-logreg": "train_logistic_regression",
          "train-forest": "train_random_forest", "evaluate": "evaluate", "load_model": "save_and_load_model"}
fig = open(tmp + "/broker.log").read()
m = re.search(r"figures messages=(\d+) handler_mean_us=([\d.]+) commits=(\d+) commit_mean_us=([\d.]+) "
              r"overhead_mean_us=([-\d.]+)", fig)
print("retrain on %s, %d runs (median), 2 cores shared" % (json.load(open(tmp + "/runs.json"))["runs"][0]["source"], len(recs)))
print()
print("| stage | worker compute ms | broker span ms | messaging + store ms | Python in-process ms |")
print("| --- | ---: | ---: | ---: | ---: |")
for name in ["extract", "preprocess", "train-logreg", "train-forest", "evaluate", "load_model"]:
    c, s = med(compute.get(name, [0])), med(spans[name])
    print("| %s | %.0f | %.0f | %.0f | %.1f |" % (name, c, s, s - c, ref[ref_of[name]]))
print("| **whole run** (trigger to load_model done) | | **%.0f** | | **%.1f** |" % (med(broker), ref["pipeline_total"]))
print()
print("mlops retrain --wait, process start to exit: median %.0f ms (min %.0f, max %.0f)" % (med(cli), min(cli), max(cli)))
print("broker run time per run (ms): %s" % " ".join(str(b) for b in broker))
print("Python reference pipeline_total per run (ms): %s" % " ".join(
    str(x) for x in json.load(open(tmp + "/ref.json"))["stage_times_ms"]["all_pipeline_total"]))
if m:
    print("broker per message: %s messages, %.0f us mean in the handler excluding store commits; "
          "%s commits, %.0f us mean each (fsync)" % (m.group(1), float(m.group(5)), m.group(3), float(m.group(4))))
print()
print("reproduce: bench/retrain.sh   (RUNS=%d; DATA=... for another CSV)" % runs)
PYEOF
