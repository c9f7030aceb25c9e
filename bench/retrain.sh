#!/usr/bin/env bash
# retrain.sh: a retrain on the Titanic CSV through real processes and sockets
# (mlops-broker, one worker per stage and two train workers, the mlops CLI),
# from `mlops retrain` to load_model done, side by side with the Python
# reference pipeline's in-process time measured in the same session.
#
#   bench/retrain.sh              RUNS=7 by default; DATA=path to another CSV
#
# Two stacks run side by side: a broker that fsyncs every commit (the
# default) and one with --no-sync; their retrains and a fresh Python process
# running the reference once alternate, run by run, so all three see the same
# machine load. Prints the median per-stage breakdown (the worker's compute
# time, the broker-side span from dispatch committed to result committed),
# the whole run (trigger received to load_model committed) and the CLI's
# wall time (process start to exit, with its 25 ms subscription pause), and
# the broker's own cost: handler time besides store commits, mean over every
# message it handled (heartbeats included), and the mean commit time.
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

# start MODE [broker flags...]: a broker in a fresh store and its workers
start() {
    local mode=$1; shift
    local dir="$TMP/$mode" W C E
    mkdir -p "$dir"
    # free ports below the kernel's ephemeral range (tests/procs.py says why)
    read -r W C E < <($PY tests/procs.py 3)
    bin/mlops-broker --store "$dir/store" --work tcp://127.0.0.1:$W --control tcp://127.0.0.1:$C \
        --events tcp://127.0.0.1:$E "$@" 2>"$dir/broker.log" & PIDS+=($!)
    echo $! > "$dir/broker.pid"
    for s in extract preprocess train train evaluate load_model; do
        bin/mlops-worker --stage $s --broker tcp://127.0.0.1:$W 2>"$dir/worker-$s-$RANDOM.log" & PIDS+=($!)
    done
    echo "--control tcp://127.0.0.1:$C --events tcp://127.0.0.1:$E" > "$dir/cli"
    for i in $(seq 50); do
        n=$(bin/mlops status $(cat "$dir/cli") --json 2>/dev/null | grep -c '"stage"' || true)
        [ "$n" -ge 6 ] && break; sleep 0.1
    done
    bin/mlops retrain $(cat "$dir/cli") --source "$DATA" --reason warm-up --wait >/dev/null   # warm caches
}

# one timed retrain on MODE's stack
retrain() {
    local dir="$TMP/$1" s e
    s=$(date +%s%N)
    bin/mlops retrain $(cat "$dir/cli") --source "$DATA" --reason bench --wait >/dev/null
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >> "$dir/cli_ms"
}

rm -rf /tmp/mlops-ref && cp -r ../shared/anchors/python /tmp/mlops-ref   # shared/ is read-only
start fsync
start no-sync --no-sync
# interleaved, so the three see the same machine load
for i in $(seq "$RUNS"); do
    retrain fsync
    retrain no-sync
    $PY /tmp/mlops-ref/pipeline.py --data "$DATA" --out "$TMP/ref-models" --runs 1 --cv 0 \
        --json-out "$TMP/ref-$i.json" >/dev/null
done
for mode in fsync no-sync; do
    bin/mlops runs $(cat "$TMP/$mode/cli") --limit $((RUNS + 1)) --json > "$TMP/$mode/runs.json"
    kill "$(cat "$TMP/$mode/broker.pid")"
done
sleep 0.5
for mode in fsync no-sync; do cat "$TMP/$mode"/worker-*.log > "$TMP/$mode/workers.log"; done

$PY - "$TMP" "$RUNS" <<'PYEOF'
import json, re, statistics, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
med = statistics.median
STAGES = ["extract", "preprocess", "train-logreg", "train-forest", "evaluate", "load_model"]

def load(mode):
    d = "%s/%s/" % (tmp, mode)
    recs = [r for r in json.load(open(d + "runs.json"))["runs"] if r["reason"] == "bench"]
    assert recs and all(r["state"] == "succeeded" for r in recs), "a bench run failed"
    ids = {r["id"] for r in recs}
    compute, spans = {}, {}
    for m in re.finditer(r"task done task=(\d+)-(\S+) ms=(\d+)", open(d + "workers.log").read()):
        if int(m.group(1)) in ids:
            compute.setdefault(m.group(2), []).append(int(m.group(3)))
    for r in recs:
        for t in r["tasks"]:
            spans.setdefault(t["task_id"].split("-", 1)[1], []).append(t["ended_ms"] - t["started_ms"])
    fig = re.search(r"figures messages=(\d+) handler_mean_us=([\d.]+) commits=(\d+) "
                    r"commit_mean_us=([\d.]+) overhead_mean_us=([-\d.]+)", open(d + "broker.log").read())
    return {"source": recs[0]["source"], "compute": compute, "spans": spans,
            "run": [r["ended_ms"] - r["created_ms"] for r in recs],
            "cli": [int(x) / 1000 for x in open(d + "cli_ms").read().split()], "fig": fig}

fs, ns = load("fsync"), load("no-sync")
refs = [json.load(open("%s/ref-%d.json" % (tmp, i)))["stage_times_ms"]["median"]
        for i in range(1, runs + 1)]
ref = {k: med(r[k] for r in refs) for k in refs[0]}
ref_of = {"extract": "extract", "preprocess": "preprocess", "train-logreg": "train_logistic_regression",
          "train-forest": "train_random_forest", "evaluate": "evaluate", "load_model": "save_and_load_model"}
print("retrain on %s: median of %d runs each, through real processes and sockets" % (fs["source"], runs))
print("(2 cores shared with other work; the three columns ran interleaved, run by run)")
print()
print("| stage | worker compute ms | broker span ms (fsync) | broker span ms (--no-sync) | Python in-process ms |")
print("| --- | ---: | ---: | ---: | ---: |")
for name in STAGES:
    print("| %s | %.0f | %.0f | %.0f | %.1f |" % (name, med(fs["compute"].get(name, [0])),
          med(fs["spans"][name]), med(ns["spans"][name]), ref[ref_of[name]]))
print("| **whole run**: trigger to load_model done | | **%.0f** | **%.0f** | **%.1f** |" % (
    med(fs["run"]), med(ns["run"]), ref["pipeline_total"]))
print("| `mlops retrain --wait`, process start to exit | | %.0f | %.0f | |" % (med(fs["cli"]), med(ns["cli"])))
print()
print("broker span = dispatch committed to result committed: the worker's compute plus messaging,")
print("input building (tables and artifacts from the store) and one store commit per message.")
for label, r in (("fsync", fs), ("--no-sync", ns)):
    m = r["fig"]
    print("%-9s runs (ms): %s" % (label, " ".join(str(x) for x in r["run"])))
    if m:
        print("%-9s broker per message: %.0f us mean in the handler besides store commits (%s "
              "messages, heartbeats included); %s commits, %.0f us mean each" % (
                  label, float(m.group(5)), m.group(1), m.group(3), float(m.group(4))))
print("Python    runs (ms): %s" % " ".join("%.0f" % r["pipeline_total"] for r in refs))
print()
print("reproduce: bench/retrain.sh   (RUNS=%d by default; DATA=path for another CSV)" % runs)
PYEOF
