#!/usr/bin/env bash
# drift.sh: the drift watch's benchmark (issue #19), in three parts:
#  (a) the hot path: /predict and /predict/batch (100 records) requests/s of
#      mlops-gateway + two mlops-worker --stage infer serving logistic
#      regression with live profiling on (the default) and off
#      (--drift-profile off), in the same run: two such stacks side by
#      side, measured in turn, the order alternating by round (on, off /
#      off, on); medians over rounds, the ratio the median of the per-round
#      ratios (target: on at most 5 % lower), and the workers' CPU time a
#      request (from /proc/PID/task/*/schedstat: less swayed by the other
#      loads of a shared machine than the rates). The load generator is bench/serving.sh's: wrk with the
#      Python reference's scripts and bodies (../shared/anchors/python),
#      summarised by its parse_wrk.py.
#  (b) false alarms on in-distribution traffic: bench/drift_noise (the
#      broker's estimator and rule in process, many windows per cell), then
#      through the real stack (bench/drift_live.py).
#  (c) the time from a shift in live traffic to the retrain starting,
#      through the real stack (bench/drift_live.py).
#
#   bench/drift.sh                  (about 8 minutes)
#   ROUNDS=10 DUR=5 WARM=1 NOISE_WINDOWS=500 WINDOWS=20 REPEATS=5 RATE=1000 bench/drift.sh
# Needs: make all; wrk, curl, python3-requests (Debian), ../shared/data/titanic.csv
# and ../shared/anchors/python. Raw wrk outputs and logs: bench/out/drift/.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY=/usr/bin/python3
DUR="${DUR:-5}"; WARM="${WARM:-1}"; THREADS="${THREADS:-2}"; CONNS="${CONNS:-16}"
ROUNDS="${ROUNDS:-10}"; NOISE_WINDOWS="${NOISE_WINDOWS:-500}"
DATA="${DATA:-$REPO/../shared/data/titanic.csv}"
ANCHORS="${ANCHORS:-$REPO/../shared/anchors/python}"
OUT="$REPO/bench/out/drift"
for need in "$(command -v wrk)" "$(command -v curl)" "$DATA" "$ANCHORS"; do
  [ -e "$need" ] || { echo "drift.sh: wrk, curl, $DATA and $ANCHORS are needed (see the header)" >&2; exit 1; }
done
make -s all build/release/bench/drift_noise
rm -rf "$OUT"; mkdir -p "$OUT"
. bench/procs.sh   # WORK, PIDS, stop_pids; all stopped at exit

# --- (a) the hot path, profiling on vs off -----------------------------------
cp -r "$ANCHORS" "$WORK/ref"
rm -rf "$WORK/ref/results"; mkdir -p "$WORK/ref/results/wrk"
$PY "$WORK/ref/gen_bodies.py" "$DATA" >/dev/null
bin/mlops train --source "$DATA" --families logreg --out "$WORK/model.art" >"$OUT/train.txt"
# two stacks side by side, one per mode, each a gateway and two workers;
# the idle one costs nothing while the other is measured
read -r GW_on BE_on GW_off BE_off < <($PY tests/procs.py 4)
declare -A WPIDS
for mode in on off; do
  gw="GW_$mode"; be="BE_$mode"
  MLOPS_LOG_LEVEL=warning bin/mlops-gateway --port "${!gw}" --bind 127.0.0.1 \
    --backend "tcp://127.0.0.1:${!be}" >"$OUT/gateway_$mode.log" 2>&1 &
  PIDS+=("$!")
  for _ in 1 2; do
    MLOPS_LOG_LEVEL=warning bin/mlops-worker --stage infer --gateway "tcp://127.0.0.1:${!be}" \
      --model "$WORK/model.art" --drift-profile "$mode" >>"$OUT/infer_$mode.log" 2>&1 &
    PIDS+=("$!"); WPIDS[$mode]+="$! "
  done
  for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:${!gw}/health" | grep -q '"workers_serving":2' && break; sleep 0.1
  done
done
cpu_ns() {  # the CPU time of the given processes' threads so far, in ns (schedstat)
  local sum=0 t
  for p in "$@"; do
    for t in /proc/"$p"/task/*/schedstat; do sum=$((sum + $(cut -d' ' -f1 "$t"))); done
  done
  echo $sum
}
run_wrk() {  # mode endpoint path lua: a raw output named as parse_wrk.py wants,
             # and the workers' CPU time during it
  local gw="GW_$1" name="profile_${1}__${2}__r${ROUND}" url
  url="http://127.0.0.1:${!gw}$3"
  wrk -t"$THREADS" -c"$CONNS" -d"${WARM}s" -s "$WORK/ref/wrk/$4" "$url" >/dev/null
  local before; before=$(cpu_ns ${WPIDS[$1]})
  wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency -s "$WORK/ref/wrk/$4" "$url" \
    >"$WORK/ref/results/wrk/$name.txt"
  echo "profile_$1 $2 r$ROUND $(( $(cpu_ns ${WPIDS[$1]}) - before ))" >>"$WORK/cpu.txt"
  echo "round $ROUND profile $1 $2: $(grep Requests/sec "$WORK/ref/results/wrk/$name.txt")"
}
for ROUND in $(seq 1 "$ROUNDS"); do
  for ep in predict batch100; do
    if [ $((ROUND % 2)) = 1 ]; then MODES="on off"; else MODES="off on"; fi
    for mode in $MODES; do
      if [ $ep = predict ]; then run_wrk $mode predict /predict predict.lua
      else run_wrk $mode batch100 /predict/batch batch.lua; fi
    done
  done
done
stop_pids "${PIDS[@]}"; PIDS=()   # the stacks' CPU back before (b) and (c)
$PY "$WORK/ref/parse_wrk.py" >/dev/null
cp "$WORK/ref/results/wrk/"*.txt "$WORK/ref/results/wrk_summary.tsv" "$WORK/cpu.txt" "$OUT/"
echo
$PY - "$WORK/ref/results/wrk_summary.tsv" "$ROUNDS" "$WORK/cpu.txt" <<'EOF2'
import csv, statistics, sys
runs = {}
for r in csv.DictReader(open(sys.argv[1]), delimiter="\t"):
    runs.setdefault((r["server"], r["endpoint"]), {})[int(r["rep"][1:])] = r
for line in open(sys.argv[3]):
    server, ep, rep, ns = line.split()
    r = runs[(server, ep)][int(rep[1:])]
    r["cpu_us"] = int(ns) / 1e3 / int(r["requests"])
print("(a) hot path: gateway + 2 infer workers (logistic regression), median of %s rounds" % sys.argv[2])
print()
print("| endpoint | profiling on req/s | off req/s | on/off (median of per-round ratios) | target | met | p99 ms on / off | workers' CPU us a request on / off | non-2xx |")
print("| --- | ---: | ---: | ---: | ---: | --- | --- | --- | ---: |")
for ep in ("predict", "batch100"):
    on, off = runs[("profile_on", ep)], runs[("profile_off", ep)]
    med = lambda rs, k: statistics.median(float(x[k]) for x in rs.values())
    ratio = statistics.median(float(on[i]["rps"]) / float(off[i]["rps"]) for i in on)
    bad = sum(int(x["non2xx"]) for x in list(on.values()) + list(off.values()))
    print("| /%s | %.0f | %.0f | %.3f | >= 0.95 | %s | %.2f / %.2f | %.1f / %.1f | %d |" % (
        "predict" if ep == "predict" else "predict/batch (100)", med(on, "rps"), med(off, "rps"), ratio,
        "yes" if ratio >= 0.95 else "NO", med(on, "p99_ms"), med(off, "p99_ms"),
        med(on, "cpu_us"), med(off, "cpu_us"), bad))
    print("  on/off by round: " + " ".join("%.2f" % (float(on[i]["rps"]) / float(off[i]["rps"])) for i in sorted(on)))
EOF2
echo "wrk -t$THREADS -c$CONNS -d${DUR}s --latency after a ${WARM}s warm-up, loopback, 2 cores shared by wrk and the servers."

# --- (b) false alarms, (c) shift to retrain ----------------------------------
echo
echo "(b) false alarms in process: build/release/bench/drift_noise $NOISE_WINDOWS"
build/release/bench/drift_noise "$NOISE_WINDOWS" | tee "$OUT/drift_noise.txt"
echo
echo "(b, c) through the real stack: bench/drift_live.py"
$PY bench/drift_live.py | tee "$OUT/drift_live.txt"
echo
echo "reproduce: bench/drift.sh   (raw outputs in bench/out/drift/; knobs ROUNDS DUR WARM THREADS CONNS NOISE_WINDOWS, and drift_live.py's THRESHOLD MIN_ROWS WINDOWS REPEATS RATE REPORT)"
