#!/usr/bin/env bash
# canary.sh: what a rollout costs the serving path. One broker, its stage
# workers, a gateway and two inference workers on loopback; two runs put
# two versions in the registry (v2 in production); then each round serves
# POST /predict with wrk three ways, one after the other:
#   plain   no rollout
#   canary  `mlops promote 1 --canary 10% --for 1h` (10 % pinned to v1)
#   shadow  `mlops promote 1 --shadow` (every request also copied to v1 when
#           a worker has a credit to spare)
# each ended with `mlops rollback` (production stays v2), in the reverse
# order every other round. Prints req/s and
# p99 per mode (medians over rounds) and each mode's rate over plain's, as
# the median of the ratios taken within a round (the same minutes of a
# shared machine), with the shadow's copies compared and skipped.
#
#   bench/canary.sh                       (about 2 minutes; an even ROUNDS is fairer)
#   ROUNDS=5 DUR=10 WARM=2 THREADS=2 CONNS=16 bench/canary.sh
# Needs: make all, wrk, curl, ../shared/data/titanic.csv (else synthetic
# rows). Raw wrk outputs and logs: bench/out/canary/.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY=/usr/bin/python3
ROUNDS="${ROUNDS:-4}"; DUR="${DUR:-8}"; WARM="${WARM:-2}"; THREADS="${THREADS:-2}"; CONNS="${CONNS:-16}"
DATA="${DATA:-$REPO/../shared/data/titanic.csv}"
BIN="${MLOPS_BIN:-$REPO/bin}"
OUT="$REPO/bench/out/canary"
for tool in wrk curl; do
  command -v $tool >/dev/null || { echo "canary.sh: $tool is not installed" >&2; exit 1; }
done
[ -n "${MLOPS_BIN:-}" ] || make -s all
rm -rf "$OUT"; mkdir -p "$OUT"
. bench/procs.sh   # WORK, PIDS, stop_pids; all stopped at exit

# free ports: broker W..W+4 (work, control, events, -, data), gateway HTTP, backend
BASE=$($PY -c 'import socket,random
for _ in range(200):
    p = random.randrange(20000, 60000, 10); ok = True
    for q in range(p, p + 8):
        s = socket.socket()
        try: s.bind(("127.0.0.1", q))
        except OSError: ok = False
        s.close()
    if ok: print(p); break')
WORKE="tcp://127.0.0.1:$BASE"; CONTROL="tcp://127.0.0.1:$((BASE + 1))"; EVENTS="tcp://127.0.0.1:$((BASE + 2))"
HTTP=$((BASE + 5)); BACKEND="tcp://127.0.0.1:$((BASE + 6))"
URL="http://127.0.0.1:$HTTP"
start() {  # name argv...: a background process logging to OUT/name.log
  local name=$1; shift
  "$@" >"$OUT/$name.log" 2>&1 &
  PIDS+=($!)
}
cli() { "$BIN/mlops" "$@" --control "$CONTROL" --events "$EVENTS"; }

start broker "$BIN/mlops-broker" --store "$WORK/store" --work "$WORKE" --control "$CONTROL" \
  --events "$EVENTS" --margin -1 --no-sync
start worker-extract "$BIN/mlops-worker" --stage extract --broker "$WORKE" --data-root /
for stage in preprocess train evaluate load_model; do
  start "worker-$stage" "$BIN/mlops-worker" --stage "$stage" --broker "$WORKE"
done
SOURCE="synthetic:2000:7"; [ -f "$DATA" ] && SOURCE="$DATA"
for run in 1 2; do
  cli retrain --source "$SOURCE" --reason "bench $run" --wait >/dev/null
done
start gateway "$BIN/mlops-gateway" --port "$HTTP" --bind 127.0.0.1 --backend "$BACKEND" --broker "$CONTROL"
for i in 1 2; do
  start "infer-$i" "$BIN/mlops-worker" --stage infer --gateway "$BACKEND" --broker "$CONTROL" --events "$EVENTS"
done
for _ in $(seq 1 150); do
  curl -s "$URL/health" | grep -q '"workers_serving":2' && break; sleep 0.2
done
curl -s "$URL/health" | grep -q '"model_version":2' || { echo "canary.sh: v2 is not served" >&2; exit 1; }

cat >"$WORK/predict.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"Pclass":3,"Sex":"male","Age":22,"SibSp":1,"Parch":0,"Fare":7.25,"Embarked":"S","Name":"Braund, Mr. Owen Harris"}'
EOF

metric() {  # the value of one /metrics line (its name and labels as given)
  curl -s "$URL/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
wait_rollout() {  # rollout name: until the gateway applied it and warmed up
  for _ in $(seq 1 100); do
    if curl -s "$URL/metrics" | grep -q "mlops_rollout_info{rollout=\"$1\""; then
      curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"Pclass":1,"Sex":"female","Age":30}' "$URL/predict"
      [ "$(metric mlops_rollout_warming)" = "0" ] && return 0
    fi
    sleep 0.1
  done
  echo "canary.sh: the gateway did not take the $1" >&2; exit 1
}
serve() {  # mode round: wrk after a warm-up; "req/s p99_ms" on stdout
  wrk -t"$THREADS" -c"$CONNS" -d"$WARM"s -s "$WORK/predict.lua" "$URL/predict" >/dev/null
  wrk -t"$THREADS" -c"$CONNS" -d"$DUR"s --latency -s "$WORK/predict.lua" "$URL/predict" \
    >"$OUT/$1-$2.txt"
  $PY - "$OUT/$1-$2.txt" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
rate = float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
print("%.1f %.3f" % (rate, p99))
EOF
}

run_mode() {  # mode round: serves it; sets plain / canary / shadow (and the counters)
  case $1 in
    plain) plain=$(serve plain "$2") ;;
    canary)
      cli promote 1 --canary 10% --for 1h >/dev/null
      wait_rollout canary
      canary=$(serve canary "$2")
      cand=$(metric 'mlops_rollout_requests_total{side="cand"}')
      cli rollback --reason "bench round $2" >/dev/null ;;
    shadow)
      cli promote 1 --shadow >/dev/null
      wait_rollout shadow
      shadow=$(serve shadow "$2")
      compared=$(metric 'mlops_rollout_shadow_total{result="compared"}')
      skipped=$(metric 'mlops_rollout_shadow_total{result="skipped"}')
      cli rollback --reason "bench round $2" >/dev/null ;;
  esac
}

: >"$OUT/rounds.txt"
for r in $(seq 1 "$ROUNDS"); do
  # the order turns every other round, so no mode always has the first minutes
  order="plain canary shadow"; [ $((r % 2)) -eq 0 ] && order="shadow canary plain"
  for mode in $order; do run_mode "$mode" "$r"; done
  echo "$r $plain $canary $shadow $cand $compared $skipped" | tee -a "$OUT/rounds.txt"
done

$PY - "$OUT/rounds.txt" <<'EOF'
import statistics as st, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = lambda i: st.median(r[i] for r in rows)
print("\n| mode | req/s | p99 ms | rate / plain (median of per-round ratios) |")
print("| --- | --- | --- | --- |")
print("| plain | %.0f | %.2f | 1 |" % (med(1), med(2)))
print("| canary 10%% | %.0f | %.2f | %.3f |" % (med(3), med(4), st.median(r[3] / r[1] for r in rows)))
print("| shadow | %.0f | %.2f | %.3f |" % (med(5), med(6), st.median(r[5] / r[1] for r in rows)))
print("\ncanary requests to v1 (last round, incl. warm-up): %d; shadow: %d records compared, %d copies skipped"
      % (rows[-1][7], rows[-1][8], rows[-1][9]))
EOF
