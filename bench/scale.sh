#!/usr/bin/env bash
# scale.sh: retrains of synthetic data of growing size through real
# processes (mlops-broker, one worker per stage and two train workers, the
# mlops CLI): for each size, the end-to-end time, the attempts per task,
# the peak RssAnon of the broker and of each worker (sampled from
# /proc/PID/status every 0.2 s) and the largest TASK and RESULT messages
# (from the workers' "task started ... bytes=" and "task done ... bytes="
# log lines, which count the stage payload: names of blobs, the data going
# through the broker's data service on the work port + 4). The workers of
# one size share a fresh blob cache, as workers on one host do.
#
#   bench/scale.sh                 SIZES="100000 1000000" by default
#   SIZES="5000000" bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"100000 1000000"}
PY=/usr/bin/python3
make -s all >/dev/null
TMP=$(mktemp -d /tmp/mlops-bench-scale.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
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

run_size() {
    local rows=$1 dir="$TMP/$1" W C E
    mkdir -p "$dir"
    read -r W C E _ _ < <($PY tests/procs.py 5)   # W + 4: the data service
    bin/mlops-broker --store "$dir/store" --work tcp://127.0.0.1:$W --control tcp://127.0.0.1:$C \
        --events tcp://127.0.0.1:$E 2>"$dir/broker.log" & local broker=$!; PIDS+=($broker)
    sample $broker "$dir/rss-broker" & PIDS+=($!)
    local n=0
    for s in extract preprocess train train evaluate load_model; do
        n=$((n + 1))
        bin/mlops-worker --stage $s --broker tcp://127.0.0.1:$W --cache-dir "$dir/cache" \
            2>"$dir/worker-$n-$s.log" &
        local w=$!; PIDS+=($w)
        sample $w "$dir/rss-worker-$n-$s" & PIDS+=($!)
    done
    local cli="--control tcp://127.0.0.1:$C --events tcp://127.0.0.1:$E"
    for i in $(seq 50); do
        [ "$(bin/mlops status $cli --json 2>/dev/null | grep -c '"stage"' || true)" -ge 6 ] && break
        sleep 0.1
    done
    local s e
    s=$(date +%s%N)
    bin/mlops retrain $cli --source "synthetic:$rows" --wait > "$dir/cli.out" 2>&1 || echo "retrain failed: $(tail -3 "$dir/cli.out")"
    e=$(date +%s%N)
    bin/mlops runs $cli --json > "$dir/runs.json"
    kill $broker; sleep 0.5
    cat "$dir"/worker-*.log > "$dir/workers.log"
    $PY - "$dir" "$rows" $(( (e - s) / 1000000 )) <<'PYEOF'
import glob, json, os, re, sys
d, rows, ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def kb(f):
    try: return int(open(f).read())
    except (OSError, ValueError): return 0
runs = json.load(open(d + "/runs.json"))
runs = runs.get("runs", runs) if isinstance(runs, dict) else runs
run = runs[0]
attempts = {t["task_id"].split("-", 1)[1]: t["attempts"] for t in run["tasks"]}
log = open(d + "/workers.log").read()
task = [int(x) for x in re.findall(r"task started .* bytes=(\d+)", log)]
res = [int(x) for x in re.findall(r"task done .* bytes=(\d+)", log)]
workers = {os.path.basename(f)[11:]: kb(f) for f in sorted(glob.glob(d + "/rss-worker-*"))}
print("rows=%d state=%s e2e=%.1fs attempts=%s" % (rows, run["state"], ms / 1000, attempts))
print("  broker RssAnon peak %.0f MiB; workers %s" % (kb(d + "/rss-broker") / 1024,
      ", ".join("%s %.0f MiB" % (k, v / 1024) for k, v in workers.items())))
print("  largest TASK input %d bytes, largest RESULT output %d bytes" % (max(task or [0]), max(res or [0])))
PYEOF
}

for rows in $SIZES; do run_size "$rows"; done
