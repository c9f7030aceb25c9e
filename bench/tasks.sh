#!/usr/bin/env bash
# tasks.sh: multiclass and regression quality, ours against scikit-learn,
# side by side in one run: repeated K-fold CV means of the linear family
# (multinomial logistic regression / ridge) and the random forest on
# sklearn's iris, wine and diabetes files and two generated sets
# (bench/tasks_ref.py writes the CSVs and runs sklearn; ours is
# `mlops train --cv K --repeat R --json` on the same CSVs). The folds
# differ (each side shuffles its own), so differences within a standard
# error are noise.
#
# Reproduce: make all && bench/tasks.sh
# Knobs: K=5 REPEATS=5
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
K=${K:-5}
REPEATS=${REPEATS:-5}
BIN=$PWD/bin/mlops
[ -x "$BIN" ] || make -s all
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
$PY bench/tasks_ref.py "$DIR" "$K" "$REPEATS" > "$DIR/ref.json"
for name in iris wine diabetes gen_multiclass gen_regression; do
    "$BIN" train --source "$DIR/$name.csv" --target target --cv "$K" --repeat "$REPEATS" \
        --json > "$DIR/$name.json"
done
$PY - "$DIR" "$K" "$REPEATS" <<'PYEOF'
import json, sys
d, k, r = sys.argv[1], sys.argv[2], sys.argv[3]
ref = json.load(open(d + "/ref.json"))
print("%s-fold CV x %s, means over folds: ours / scikit-learn" % (k, r))
print("%-15s %-11s %-7s %-20s %-20s" % ("data", "task", "family", "accuracy | R^2", "macro F1 | RMSE"))
for name, want in ref.items():
    ours = json.load(open("%s/%s.json" % (d, name)))
    assert ours["task"] == want["task"], (name, ours["task"])
    keys = ("accuracy", "macro_f1") if want["task"] == "multiclass" else ("r2", "rmse")
    for fam in ("logreg", "forest"):
        cv, sk = ours["families"][fam]["cv"], want["families"][fam]
        cells = ["%.4f / %.4f" % (cv[key + "_mean"], sk[key]) for key in keys]
        print("%-15s %-11s %-7s %-20s %-20s" % (name, want["task"], fam, *cells))
PYEOF
