#!/usr/bin/env bash
# profile_serving.sh: where a served request's CPU goes. Starts the gateway and
# two inference workers (logistic regression trained on titanic.csv, or the
# random forest with FAMILY=forest), loads
# them with wrk -t2 -c16 (the serving benchmark's load), records every CPU
# with perf for a few seconds and prints the share of each process/library
# (kernel and ZeroMQ I/O threads included) and the top functions.
#
#   bench/profile_serving.sh                 # /predict/batch, 100 records
#   ENDPOINT=predict SECS=5 bench/profile_serving.sh
#   FAMILY=forest bench/profile_serving.sh
# Needs: make all; wrk and perf (Debian: wrk, linux-perf), root or a
# perf_event_paranoid that allows system-wide recording,
# ../shared/data/titanic.csv and ../shared/anchors/python (for its bodies).
# The gateway README's "where the time goes" figures come from this.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY=/usr/bin/python3
ENDPOINT="${ENDPOINT:-batch}"; SECS="${SECS:-5}"; FAMILY="${FAMILY:-logreg}"
DATA="${DATA:-$REPO/../shared/data/titanic.csv}"
ANCHORS="${ANCHORS:-$REPO/../shared/anchors/python}"
for tool in wrk perf curl; do
  command -v $tool >/dev/null || { echo "profile_serving.sh: $tool is not installed: skipped"; exit 0; }
done
[ -f "$DATA" ] && [ -d "$ANCHORS" ] || { echo "profile_serving.sh: no $DATA or $ANCHORS: skipped"; exit 0; }
make -s all build/release/bench/bench_infer
. bench/procs.sh   # WORK, PIDS, stop_pids; all stopped at exit
build/release/bench/bench_infer --data "$DATA" --out "$WORK" --reps 3 >/dev/null
cp -r "$ANCHORS/." "$WORK/ref"
(cd "$WORK/ref" && $PY gen_bodies.py "$DATA" >/dev/null)
read -r PORT BACKEND_PORT < <($PY tests/procs.py 2)
BACKEND="tcp://127.0.0.1:$BACKEND_PORT"
MLOPS_LOG_LEVEL=warning bin/mlops-gateway --port "$PORT" --bind 127.0.0.1 --backend "$BACKEND" \
  >"$WORK/gateway.log" 2>&1 &
PIDS+=("$!")
for i in 1 2; do
  MLOPS_LOG_LEVEL=warning bin/mlops-worker --stage infer --gateway "$BACKEND" --model "$WORK/$FAMILY.art" \
    >>"$WORK/infer.log" 2>&1 &
  PIDS+=("$!")
done
for _ in $(seq 1 100); do
  curl -s "http://127.0.0.1:$PORT/health" | grep -q '"workers_serving":2' && break; sleep 0.1
done
if [ "$ENDPOINT" = batch ]; then URL="http://127.0.0.1:$PORT/predict/batch"; LUA=batch.lua
else URL="http://127.0.0.1:$PORT/predict"; LUA=predict.lua; fi
wrk -t2 -c16 -d"$((SECS + 4))s" -s "$WORK/ref/wrk/$LUA" "$URL" >"$WORK/wrk.txt" &
WRK=$!
sleep 2
perf record -a -g -o "$WORK/perf.data" -- sleep "$SECS" >/dev/null 2>&1
wait "$WRK"
echo "wrk: $(grep Requests/sec "$WORK/wrk.txt")"
echo
echo "CPU by process and library (all CPUs, $SECS s; swapper = idle):"
perf report -i "$WORK/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -16
echo
echo "top functions:"
perf report -i "$WORK/perf.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null \
  | grep -v '^#' | grep -v '^$' | head -25
echo
echo "reproduce: FAMILY=$FAMILY ENDPOINT=$ENDPOINT SECS=$SECS bench/profile_serving.sh"
