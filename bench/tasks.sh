#!/usr/bin/env bash
# tasks.sh: multiclass, regression and binary quality, ours against
# scikit-learn, side by side in one run: repeated K-fold CV means of the
# linear family (multinomial logistic regression / ridge / logistic), the
# random forest and gbdt (against HistGradientBoosting) on sklearn's iris,
# wine and diabetes files, two generated sets and Titanic (bench/tasks_ref.py
# writes the CSVs and runs sklearn; ours is `mlops train --families
# logreg,forest,gbdt --cv K --repeat R --json` on the same CSVs). The folds
# differ (each side shuffles its own), so differences within a standard
# error are noise.
#
# Reproduce: make all && bench/tasks.sh
# Knobs: K=5 REPEATS=5 DATA=path/to/titanic.csv (skipped when absent)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
K=${K:-5}
REPEATS=${REPEATS:-5}
DATA=${DATA:-$PWD/../shared/data/titanic.csv}
ANCHORS=$PWD/../shared/anchors/python
BIN=$PWD/bin/mlops
[ -x "$BIN" ] || make -s all
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
TITANIC=()
[ -r "$DATA" ] && [ -r "$ANCHORS/pipeline.py" ] && TITANIC=("$DATA" "$ANCHORS")
$PY bench/tasks_ref.py "$DIR" "$K" "$REPEATS" "${TITANIC[@]}" > "$DIR/ref.json"
FAMS=logreg,forest,gbdt
for name in iris wine diabetes gen_multiclass gen_regression; do
    "$BIN" train --source "$DIR/$name.csv" --target target --families $FAMS --cv "$K" \
        --repeat "$REPEATS" --json > "$DIR/$name.json"
done
if [ ${#TITANIC[@]} -gt 0 ]; then
    "$BIN" train --source "$DATA" --target Survived --families $FAMS --cv "$K" \
        --repeat "$REPEATS" --json > "$DIR/titanic.json"
fi
$PY - "$DIR" "$K" "$REPEATS" <<'PYEOF'
import json, sys
d, k, r = sys.argv[1], sys.argv[2], sys.argv[3]
ref = json.load(open(d + "/ref.json"))
print("%s-fold CV x %s, means over folds: ours / scikit-learn" % (k, r))
print("%-15s %-11s %-7s %-20s %-20s" % ("data", "task", "family", "accuracy | R^2",
                                         "macro F1 | RMSE | AUC"))
KEYS = {"multiclass": ("accuracy", "macro_f1"), "regression": ("r2", "rmse"),
        "binary": ("accuracy", "roc_auc")}
for name, want in ref.items():
    ours = json.load(open("%s/%s.json" % (d, name)))
    assert ours["task"] == want["task"], (name, ours["task"])
    keys = KEYS[want["task"]]
    for fam in ("logreg", "forest", "gbdt"):
        cv, sk = ours["families"][fam]["cv"], want["families"][fam]
        cells = ["%.4f / %.4f" % (cv[key + "_mean"], sk[key]) for key in keys]
        print("%-15s %-11s %-7s %-20s %-20s" % (name, want["task"], fam, *cells))
PYEOF
