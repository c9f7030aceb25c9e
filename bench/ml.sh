#!/usr/bin/env bash
# ml.sh: our ML library against the Python reference, side by side in one
# run on one machine, then growth on synthetic data.
#
#   1. sklearn (the reference's own code, anchors/python copied to a temp
#      dir) and ours (bench_ml) fit on the very same 712-row scaled training
#      split; medians of REPS fits. sklearn's forest runs with n_jobs=1, ours
#      with 1 thread and with all online CPUs.
#   2. `mlops train --source titanic.csv` as a whole fresh process (median of
#      PROC_REPS) against the reference pipeline's in-process total.
#   3. 10 x 5-fold CV means, ours (mlops train --cv 5 --repeat 10) against
#      sklearn's (cv_repeated.py). CV=0 skips.
#   4. mlops train --source synthetic:N for N in SCALE: wall time and peak RSS
#      (/usr/bin/time -v). SCALE="" skips.
#
# Reproduce: make all build/release/bench/bench_ml && bench/ml.sh
# Knobs: REPS=21 PROC_REPS=11 CV=1 SCALE="10000 100000 1000000" DATA=path
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
DATA=${DATA:-$PWD/../shared/data/titanic.csv}
REPS=${REPS:-21}
PROC_REPS=${PROC_REPS:-11}
CV=${CV:-1}
SCALE=${SCALE-10000 100000 1000000}
BIN=$PWD/bin/mlops
BENCH=$PWD/build/release/bench/bench_ml
REFSRC=$PWD/../shared/anchors/python
[ -x "$BIN" ] && [ -x "$BENCH" ] || make -s all build/release/bench/bench_ml
if [ ! -f "$DATA" ] || [ ! -d "$REFSRC" ]; then
    echo "ml.sh: skip (needs $DATA and $REFSRC)"; exit 0
fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cp -r "$REFSRC" "$TMP/ref"; chmod -R u+w "$TMP/ref"
cp bench/ml_ref.py "$TMP/ref/"
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
getkv() { sed -n "s/^$1=//p" "$2"; }
getjs() { $PY -c "import json,sys; d=json.load(open('$2')); print(eval('d'+sys.argv[1]))" "$1"; }

echo "ml bench: $(date -u +%FT%TZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## 1. fit on the reference's 712-row split (median of $REPS)"
(cd "$TMP/ref" && $PY ml_ref.py "$DATA" "$TMP/x712.txt" "$REPS") > "$TMP/sk.json"
"$BENCH" "$TMP/x712.txt" "$REPS" > "$TMP/ours.txt"
sk_rf=$(getjs '["rf_fit_ms"]' "$TMP/sk.json"); sk_lr=$(getjs '["lr_fit_ms"]' "$TMP/sk.json")
sk_pipe=$(getjs '["pipeline_ms"]' "$TMP/sk.json")
rf1=$(getkv forest_fit_1thread_ms "$TMP/ours.txt"); rfn=$(getkv forest_fit_threads_ms "$TMP/ours.txt")
lr=$(getkv logreg_fit_ms "$TMP/ours.txt"); thr=$(getkv threads_default "$TMP/ours.txt")
awk -v a="$sk_rf" -v b="$rf1" -v c="$rfn" -v t="$thr" -v d="$sk_lr" -v e="$lr" 'BEGIN {
  printf "| fit | sklearn ms | ours ms | speed-up |\n| --- | ---: | ---: | ---: |\n";
  printf "| random forest, 100 trees (sklearn n_jobs=1; ours 1 thread) | %.2f | %.2f | %.1fx |\n", a, b, a/b;
  printf "| random forest, 100 trees (ours %d threads) | %.2f | %.2f | %.1fx |\n", t, a, c, a/c;
  printf "| logistic regression | %.3f | %.3f | %.1fx |\n", d, e, d/e }'
echo
echo "## 2. whole pipeline (median of $PROC_REPS)"
: > "$TMP/proc.txt"
for i in $(seq "$PROC_REPS"); do
    s=$(date +%s%N); "$BIN" train --source "$DATA" > /dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 )) >> "$TMP/proc.txt"
done
proc=$(median < "$TMP/proc.txt")
awk -v p="$sk_pipe" -v q="$proc" 'BEGIN {
  printf "| what | ms |\n| --- | ---: |\n";
  printf "| reference pipeline, in process (extract..load_model, no imports) | %.1f |\n", p;
  printf "| mlops train --source titanic.csv, whole fresh process | %.1f |\n", q/1000;
  printf "| ratio | %.1fx |\n", p/(q/1000) }'

if [ "$CV" != 0 ]; then
    echo
    echo "## 3. 10 x 5-fold stratified CV on titanic.csv"
    (cd "$TMP/ref" && $PY cv_repeated.py titanic "$DATA") > "$TMP/skcv.json"
    "$BIN" train --source "$DATA" --cv 5 --repeat 10 --json > "$TMP/cv.json"
    $PY - "$TMP/skcv.json" "$TMP/cv.json" <<'PYEOF'
import json, sys
sk = json.load(open(sys.argv[1])); us = json.load(open(sys.argv[2]))["families"]
print("| family | sklearn acc | ours acc | diff (points) | sklearn AUC | ours AUC | diff |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, ours in (("logistic_regression", "logreg"), ("random_forest", "forest")):
    a, b = sk[name], us[ours]["cv"]
    print("| %s | %.4f | %.4f | %+.2f | %.4f | %.4f | %+.4f |" % (
        ours, a["accuracy_mean"], b["accuracy_mean"], 100 * (b["accuracy_mean"] - a["accuracy_mean"]),
        a["roc_auc_mean"], b["roc_auc_mean"], b["roc_auc_mean"] - a["roc_auc_mean"]))
print("(sklearn CV took %.1f s; ours %.1f s)" % (sk["seconds"], us and json.load(open(sys.argv[2]))["times_ms"]["cv"] / 1e3))
PYEOF
fi

if [ -n "$SCALE" ]; then
    echo
    echo "## 4. scale: mlops train --source synthetic:N (both families, held-out split 0.2)"
    echo "| rows | wall s | user+sys s | peak RSS MB | logreg train+eval ms | forest train+eval ms | logreg acc | forest acc | forest artifact MB |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for n in $SCALE; do
        /usr/bin/time -v "$BIN" train --source "synthetic:$n" --json > "$TMP/s.json" 2> "$TMP/time.txt"
        wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/time.txt" \
               | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
        user=$(sed -n 's/.*User time (seconds): //p; s/.*System time (seconds): //p' "$TMP/time.txt" | awk '{s+=$1} END {print s}')
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time.txt")
        $PY - "$TMP/s.json" "$n" "$wall" "$user" "$rss" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1])); f = d["families"]
print("| %s | %.2f | %.2f | %.0f | %.1f | %.1f | %.4f | %.4f | %.1f |" % (sys.argv[2], float(sys.argv[3]),
      float(sys.argv[4]), int(sys.argv[5]) / 1024, f["logreg"]["train_ms"], f["forest"]["train_ms"],
      f["logreg"]["test"]["accuracy"], f["forest"]["test"]["accuracy"], f["forest"]["artifact_bytes"] / 2**20))
PYEOF
    done
fi
echo
echo "Reproduce: make all build/release/bench/bench_ml && bench/ml.sh   (REPS=$REPS PROC_REPS=$PROC_REPS CV=$CV SCALE=\"$SCALE\")"
