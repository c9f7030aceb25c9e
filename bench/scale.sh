#!/usr/bin/env bash
# scale.sh: retrains of growing size through real processes (mlops-broker,
# one worker per stage and two train workers, the mlops CLI): for each
# source, the end-to-end time, the broker-side time per stage (dispatch to
# result, from the run record), the attempts per task, the peak RssAnon of
# the broker and of each worker (sampled from /proc/PID/status every 0.2 s)
# and the largest TASK and RESULT messages (from the workers' "task started
# ... bytes=" and "task done ... bytes=" log lines, which count the stage
# payload: names of blobs, the data going through the broker's data service
# on the work port + 4). The workers of one source share a fresh blob cache,
# as workers on one host do. Sources: synthetic data (SIZES) and CSVs made
# from the Titanic file, rows repeated with fresh PassengerIds, target
# Survived (CSV_ROWS; skipped if the file is absent). The Python reference
# (../shared/anchors/python/pipeline.py, one process) runs on the same CSVs
# at PY_ROWS for a ratio. Ends with one table of every source.
#
#   bench/scale.sh       SIZES="100000 1000000" CSV_ROWS="100000 1000000 2000000" PY_ROWS="100000 1000000"
#   SIZES="5000000" CSV_ROWS= PY_ROWS= bench/scale.sh
#   KEEP=/tmp/dir bench/scale.sh    keeps the logs, stores and results there
#   BROKER_FLAGS="--timeout 45m"     flags for the broker
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES-"100000 1000000"}
CSV_ROWS=${CSV_ROWS-"100000 1000000 2000000"}
PY_ROWS=${PY_ROWS-"100000 1000000"}   # ours runs on the same CSVs: add them to CSV_ROWS
DATA=${DATA:-$PWD/../shared/data/titanic.csv}
BROKER_FLAGS=${BROKER_FLAGS:-}   # e.g. "--timeout train=45m"
PY=/usr/bin/python3
make -s all >/dev/null
TMP=${KEEP:-$(mktemp -d /tmp/mlops-bench-scale.XXXXXX)}   # KEEP=dir: keep logs
mkdir -p "$TMP"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$TMP"; }
trap cleanup EXIT

# peak RssAnon (kB) of pid, sampled until it exits, written to FILE
sample() {
    local pid=$1 file=$2 peak=0 v
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^RssAnon/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v && echo "$peak" > "$file"
        sleep 0.2
    done
}

# csv_make ROWS: the Titanic file's rows repeated to ROWS, printed path
csv_make() {
    local out="$TMP/titanic-$1.csv"
    [ -f "$out" ] || $PY - "$DATA" "$1" "$out" <<'PYEOF'
import sys
src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head, *body = open(src).read().splitlines()
with open(out, "w") as f:
    f.write(head + "\n")
    for i in range(n):   # PassengerId, the first column, made unique
        line = body[i % len(body)]
        f.write("%d%s\n" % (i + 1, line[line.index(","):]))
PYEOF
    echo "$out"
}

# run_size LABEL SOURCE: one retrain of SOURCE on a fresh stack
run_size() {
    local label=$1 source=$2 dir="$TMP/$1" W C E
    mkdir -p "$dir"
    read -r W C E _ _ < <($PY tests/procs.py 5)   # W + 4: the data service
    bin/mlops-broker --store "$dir/store" --work tcp://127.0.0.1:$W --control tcp://127.0.0.1:$C \
        --events tcp://127.0.0.1:$E $BROKER_FLAGS 2>"$dir/broker.log" & local broker=$!; PIDS+=($broker)
    sample $broker "$dir/rss-broker" & PIDS+=($!)
    local n=0 workers=()
    for s in extract preprocess train train evaluate load_model; do
        n=$((n + 1))
        local root=()   # extract reads the CSVs made here
        [ $s = extract ] && root=(--data-root "$TMP")
        bin/mlops-worker --stage $s --broker tcp://127.0.0.1:$W --cache-dir "$dir/cache" "${root[@]}" \
            2>"$dir/worker-$n-$s.log" &
        local w=$!; PIDS+=($w); workers+=($w)
        sample $w "$dir/rss-worker-$n-$s" & PIDS+=($!)
    done
    local cli="--control tcp://127.0.0.1:$C --events tcp://127.0.0.1:$E"
    for i in $(seq 50); do
        [ "$(bin/mlops status $cli --json 2>/dev/null | grep -c '"stage"' || true)" -ge 6 ] && break
        sleep 0.1
    done
    local s e
    s=$(date +%s%N)
    bin/mlops retrain $cli --source "$source" --wait > "$dir/cli.out" 2>&1 || echo "retrain failed: $(tail -3 "$dir/cli.out")"
    e=$(date +%s%N)
    bin/mlops runs $cli --json > "$dir/runs.json"
    kill $broker "${workers[@]}"; sleep 0.5   # this size's memory freed before the next
    cat "$dir"/worker-*.log > "$dir/workers.log"
    $PY - "$dir" "$label" $(( (e - s) / 1000000 )) <<'PYEOF' | tee -a "$TMP/results.txt"
import glob, json, os, re, sys
d, label, ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
def kb(f):
    try: return int(open(f).read())
    except (OSError, ValueError): return 0
runs = json.load(open(d + "/runs.json"))
runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
run = runs[0]
attempts = {t["task_id"].split("-", 1)[1]: t["attempts"] for t in run["tasks"]}
stage_s = {}
for t in run["tasks"]:   # the two train tasks: the longer one
    k = t["task_id"].split("-", 1)[1].split("-")[0]
    if t.get("ended_ms") and t.get("started_ms"):
        stage_s[k] = max(stage_s.get(k, 0), (t["ended_ms"] - t["started_ms"]) / 1000)
log = open(d + "/workers.log").read()
task = [int(x) for x in re.findall(r"task started .* bytes=(\d+)", log)]
res = [int(x) for x in re.findall(r"task done .* bytes=(\d+)", log)]
workers = {os.path.basename(f)[11:]: kb(f) for f in sorted(glob.glob(d + "/rss-worker-*"))}
print("source=%s state=%s e2e=%.1fs attempts=%s" % (label, run["state"], ms / 1000, attempts))
print("  stage s %s" % " ".join("%s=%.1f" % kv for kv in stage_s.items()))
print("  broker RssAnon peak %.0f MiB; workers %s" % (kb(d + "/rss-broker") / 1024,
      ", ".join("%s %.0f MiB" % (k, v / 1024) for k, v in workers.items())))
print("  largest TASK input %d bytes, largest RESULT output %d bytes" % (max(task or [0]), max(res or [0])))
print("ROW " + json.dumps({"source": label, "state": run["state"], "e2e": ms / 1000,
      "stages": stage_s, "attempts": max(attempts.values()), "broker": kb(d + "/rss-broker") / 1024,
      "worker": max(workers.values()) / 1024, "task": max(task or [0]), "result": max(res or [0])}))
PYEOF
}

# py_ref ROWS: the Python reference once on the Titanic CSV of ROWS rows
py_ref() {
    local csv s e
    csv=$(csv_make "$1")
    s=$(date +%s%N)
    $PY "$TMP/ref/pipeline.py" --data "$csv" --out "$TMP/ref-models" --runs 1 --cv 0 \
        --json-out "$TMP/ref-$1.json" >/dev/null
    e=$(date +%s%N)
    $PY - "$TMP/ref-$1.json" "$1" $(( (e - s) / 1000000 )) <<'PYEOF' | tee -a "$TMP/results.txt"
import json, sys
t = json.load(open(sys.argv[1]))["stage_times_ms"]["first_run"]
print("python rows=%s process %.1fs pipeline %.1fs" % (sys.argv[2], int(sys.argv[3]) / 1000, t["pipeline_total"] / 1000))
print("PY " + json.dumps({"rows": int(sys.argv[2]), "process": int(sys.argv[3]) / 1000,
      "pipeline": t["pipeline_total"] / 1000}))
PYEOF
}

for rows in $SIZES; do run_size "synthetic-$rows" "synthetic:$rows"; done
if [ -f "$DATA" ]; then
    for rows in $CSV_ROWS; do run_size "titanic-csv-$rows" "$(csv_make "$rows")"; done
    rm -rf "$TMP/ref" && cp -r ../shared/anchors/python "$TMP/ref" && chmod -R u+w "$TMP/ref"
    for rows in $PY_ROWS; do py_ref "$rows"; done
elif [ -n "$CSV_ROWS$PY_ROWS" ]; then
    echo "skip the Titanic CSV and the Python reference: no data at $DATA"
fi
$PY bench/scale_table.py "$TMP/results.txt"
