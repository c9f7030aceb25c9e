#!/usr/bin/env bash
# ab_serving.sh: is this build's seed API slower than an older build's?
# Two stacks side by side (mlops-gateway + two inference workers each,
# serving the same logistic regression artifact), one from OLD_BIN and one
# from this repository's bin/, measured in turn with wrk (the reference's
# bodies, as bench/serving.sh), ROUNDS rounds alternating which goes first.
# Prints each round's requests/s and the median of the per-round ratios
# new / old for /predict and /predict/batch (100 records).
#
#   bench/ab_serving.sh OLD_BIN            e.g. the bin/ of a worktree at an older commit
#   ROUNDS=6 DUR=5 bench/ab_serving.sh /work/old/bin
#   NEW_GATEWAY_FLAGS="--feedback-sample 0" bench/ab_serving.sh /work/old/bin   (what a feature costs)
#
# Needs wrk and curl; the Titanic CSV at ../shared/data and the reference at
# ../shared/anchors/python (for its wrk bodies). Not a test: it prints figures.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OLD_BIN="${1:?usage: bench/ab_serving.sh OLD_BIN}"
ROUNDS="${ROUNDS:-6}"; DUR="${DUR:-5}"; WARM="${WARM:-1}"
DATA="${DATA:-$REPO/../shared/data/titanic.csv}"
ANCHORS="${ANCHORS:-$REPO/../shared/anchors/python}"
for tool in wrk curl; do
  command -v $tool >/dev/null || { echo "ab_serving.sh: $tool is not installed" >&2; exit 1; }
done
for f in mlops-gateway mlops-worker; do
  [ -x "$OLD_BIN/$f" ] || { echo "ab_serving.sh: no $OLD_BIN/$f" >&2; exit 1; }
done
[ -f "$DATA" ] || { echo "ab_serving.sh: no data at $DATA" >&2; exit 1; }
make -s all
. bench/procs.sh   # WORK, PIDS, stop_pids; all stopped at exit

cp -r "$ANCHORS" "$WORK/ref"
(cd "$WORK/ref" && /usr/bin/python3 gen_bodies.py "$DATA" >/dev/null)
bin/mlops train --source "$DATA" --families logreg --out "$WORK/logreg.art" >/dev/null

start_stack() {  # name bin_dir http_port backend_port [gateway flags...]
  local name=$1 bin=$2 port=$3 backend=$4; shift 4
  MLOPS_LOG_LEVEL=warning "$bin/mlops-gateway" --port "$port" --backend "tcp://127.0.0.1:$backend" "$@" \
    >"$WORK/$name-gateway.log" 2>&1 &
  PIDS+=("$!")
  for i in 1 2; do
    MLOPS_LOG_LEVEL=warning "$bin/mlops-worker" --stage infer --gateway "tcp://127.0.0.1:$backend" \
      --model "$WORK/logreg.art" >>"$WORK/$name-infer.log" 2>&1 &
    PIDS+=("$!")
  done
  for _ in $(seq 1 100); do
    curl -s "http://127.0.0.1:$port/health" | grep -q '"workers_serving":2' && return 0; sleep 0.1
  done
  echo "ab_serving.sh: the $name stack does not serve (see $WORK)" >&2; return 1
}
start_stack old "$OLD_BIN" 18301 18311
# shellcheck disable=SC2086 # NEW_GATEWAY_FLAGS: words for the new gateway
start_stack new "$REPO/bin" 18302 18312 ${NEW_GATEWAY_FLAGS:-}

rps() {  # port path lua: requests/s of one wrk run after a warm-up
  wrk -t2 -c16 -d"${WARM}s" -s "$WORK/ref/wrk/$3" "http://127.0.0.1:$1$2" >/dev/null
  wrk -t2 -c16 -d"${DUR}s" -s "$WORK/ref/wrk/$3" "http://127.0.0.1:$1$2" | awk '/Requests\/sec/ {print $2}'
}
RESULTS="$WORK/results"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then ORDER="old new"; else ORDER="new old"; fi
  for side in $ORDER; do
    port=18301; [ "$side" = new ] && port=18302
    echo "$r $side predict $(rps $port /predict predict.lua)" >>"$RESULTS"
    echo "$r $side batch $(rps $port /predict/batch batch.lua)" >>"$RESULTS"
  done
done
/usr/bin/python3 - "$RESULTS" "$OLD_BIN" <<'EOF'
import collections, statistics, sys
got = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, side, ep, v = line.split()
    got[(ep, int(r))][side] = float(v)
print("endpoint  round  old req/s  new req/s  new/old")
ratios = collections.defaultdict(list)
for (ep, r), v in sorted(got.items()):
    ratios[ep].append(v["new"] / v["old"])
    print("%-8s  %5d  %9.0f  %9.0f  %7.3f" % (ep, r, v["old"], v["new"], v["new"] / v["old"]))
for ep, rs in ratios.items():
    print("%s: new/old median %.3f (min %.3f, max %.3f) over %d rounds" % (ep, statistics.median(rs), min(rs), max(rs), len(rs)))
print("old: %s; reproduce: bench/ab_serving.sh OLD_BIN (ROUNDS, DUR, WARM)" % sys.argv[2])
EOF
