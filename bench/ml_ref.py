#!/usr/bin/python3
"""ml_ref.py: the scikit-learn side of bench/ml.sh, run from a copy of
anchors/python (so `import pipeline` is the reference itself).

usage: ml_ref.py DATA MATRIX_OUT REPS
Writes the reference's 712-row scaled training split to MATRIX_OUT (label
then 16 features per line, for bench_ml) and prints one JSON object:
medians over REPS of RandomForestClassifier(100, n_jobs=1) and
LogisticRegression fits on it, and of the whole in-process pipeline
(pipeline_total, as results/pipeline.json reports it)."""
import json, statistics, sys, time
import numpy as np
import pipeline as ref
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

data, out, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
prep = ref.preprocess(ref.extract(data))
X, y = prep["X_train"], prep["y_train"]
np.savetxt(out, np.c_[y, X], fmt="%.17g")

def median_ms(fn):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)

rf = median_ms(lambda: RandomForestClassifier(n_estimators=100, random_state=42, n_jobs=1).fit(X, y))
lr = median_ms(lambda: LogisticRegression(max_iter=1000).fit(X, y))
import tempfile
with tempfile.TemporaryDirectory() as d:
    ref.run_pipeline(data, d)  # warm
    pipe = statistics.median(ref.run_pipeline(data, d)["times_s"]["pipeline_total"] * 1e3
                             for _ in range(max(3, reps // 4)))
print(json.dumps({"rows": int(len(y)), "rf_fit_ms": rf, "lr_fit_ms": lr, "pipeline_ms": pipe}))
