#!/usr/bin/env bash
# gbdt.sh: our gbdt against scikit-learn's HistGradientBoostingClassifier,
# side by side in one run on the same generated rows and the same thread
# count (OMP_NUM_THREADS for sklearn, n_threads for ours), both with their
# defaults (100 iterations, 31 leaves, learning rate 0.1, early stopping on
# above 10000 rows). Fit on the first 80% of the rows, scored on the rest.
# Then 10-fold CV on raw Titanic features (NaN kept) with the same folds.
#
# Reproduce: make build/release/bench/bench_gbdt && bench/gbdt.sh
# Knobs: ROWS="100000 1000000" THREADS="1 2" DATA=path/to/titanic.csv
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROWS=${ROWS:-100000 1000000}
THREADS=${THREADS:-1 2}
DATA=${DATA:-$PWD/../shared/data/titanic.csv}
BENCH=$PWD/build/release/bench/bench_gbdt
[ -x "$BENCH" ] || make -s build/release/bench/bench_gbdt
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
getkv() { sed -n "s/^$1=//p" "$2"; }

echo "gbdt bench: $(date -u +%FT%TZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| rows | threads | sklearn fit s | ours fit s | speed-up | sklearn iters | ours iters | sklearn acc | ours acc | sklearn AUC | ours AUC | ours predict 1 row us |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $ROWS; do
    $PY bench/gbdt_ref.py gen "$n" "$TMP/d.bin"
    for t in $THREADS; do
        OMP_NUM_THREADS=$t $PY bench/gbdt_ref.py fit "$TMP/d.bin" > "$TMP/sk.txt"
        "$BENCH" fit "$TMP/d.bin" "$t" > "$TMP/us.txt"
        awk -v n="$n" -v t="$t" -v a="$(getkv fit_s "$TMP/sk.txt")" -v b="$(getkv fit_s "$TMP/us.txt")" \
            -v ia="$(getkv n_iter "$TMP/sk.txt")" -v ib="$(getkv n_iter "$TMP/us.txt")" \
            -v ca="$(getkv accuracy "$TMP/sk.txt")" -v cb="$(getkv accuracy "$TMP/us.txt")" \
            -v ua="$(getkv auc "$TMP/sk.txt")" -v ub="$(getkv auc "$TMP/us.txt")" \
            -v lat="$(getkv predict_row_us "$TMP/us.txt")" 'BEGIN {
            printf "| %d | %d | %.2f | %.2f | %.1fx | %d | %d | %.4f | %.4f | %.4f | %.4f | %.1f |\n",
                   n, t, a, b, a / b, ia, ib, ca, cb, ua, ub, lat }'
    done
done
if [ -f "$DATA" ]; then
    echo
    echo "## 10-fold stratified CV on Titanic (Pclass, Sex, Age, SibSp, Parch, Fare, Embarked; NaN kept)"
    $PY bench/gbdt_ref.py titanic "$DATA" "$TMP/t.bin"
    OMP_NUM_THREADS=1 $PY bench/gbdt_ref.py cv "$TMP/t.bin" > "$TMP/skcv.txt"
    "$BENCH" cv "$TMP/t.bin" 1 > "$TMP/cv.txt"
    awk -v a="$(getkv cv_accuracy "$TMP/skcv.txt")" -v b="$(getkv cv_accuracy "$TMP/cv.txt")" \
        -v c="$(getkv cv_auc "$TMP/skcv.txt")" -v d="$(getkv cv_auc "$TMP/cv.txt")" 'BEGIN {
        printf "| | sklearn HistGradientBoosting | ours gbdt | diff |\n| --- | ---: | ---: | ---: |\n";
        printf "| accuracy | %.4f | %.4f | %+.2f points |\n", a, b, 100 * (b - a);
        printf "| ROC AUC | %.4f | %.4f | %+.4f |\n", c, d, d - c }'
fi
echo
echo "Reproduce: make build/release/bench/bench_gbdt && bench/gbdt.sh   (ROWS=\"$ROWS\" THREADS=\"$THREADS\")"
