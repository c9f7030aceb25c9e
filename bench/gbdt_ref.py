#!/usr/bin/python3
"""gbdt_ref.py: the scikit-learn side of bench/gbdt.sh.

usage: gbdt_ref.py gen N FILE             -> write the synthetic binary data set
       gbdt_ref.py fit FILE               -> HistGradientBoostingClassifier on it
       gbdt_ref.py titanic CSV FILE       -> write Titanic features + 10 fold ids
       gbdt_ref.py cv FILE                -> 10-fold CV of HistGradientBoosting

FILE is what bench_gbdt reads too: doubles, n and p, then X (n x p,
row-major, NaN = missing), then y, then (titanic only) the fold of each row.
Thread count: OMP_NUM_THREADS, set by the caller. Prints key=value lines.
"""
import sys, time
import numpy as np

TRAIN_SHARE = 0.8  # fit on the first 80% of rows, score on the rest (as bench_gbdt)


def write(path, X, y, folds=None):
    with open(path, "wb") as f:
        np.array(X.shape, dtype=float).tofile(f)
        X.astype(float).tofile(f)
        y.astype(float).tofile(f)
        if folds is not None:
            folds.astype(float).tofile(f)


def read(path, with_folds=False):
    d = np.fromfile(path)
    n, p = int(d[0]), int(d[1])
    X = d[2:2 + n * p].reshape(n, p)
    y = d[2 + n * p:2 + n * p + n]
    folds = d[2 + n * p + n:].astype(int) if with_folds else None
    return X, y, folds


def gen(n, path):
    """Ten features, a non-linear boundary, 5% of x5 missing, 10% label noise."""
    rng = np.random.RandomState(42)
    X = rng.normal(size=(n, 10))
    X[:, 6] = rng.randint(0, 5, size=n)
    X[rng.rand(n) < 0.05, 5] = np.nan
    z = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] * X[:, 3] + np.sin(2 * X[:, 4])
         + np.nan_to_num(X[:, 5], nan=1.0) * 0.7 + 0.3 * (X[:, 6] == 2))
    y = (z + 0.5 * rng.normal(size=n) > 0).astype(float)
    write(path, X, y)


def fit(path):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    X, y, _ = read(path)
    k = int(len(y) * TRAIN_SHARE)
    m = HistGradientBoostingClassifier(random_state=0)
    t0 = time.perf_counter()
    m.fit(X[:k], y[:k])
    fit_s = time.perf_counter() - t0
    p = m.predict_proba(X[k:])[:, 1]
    print("fit_s=%.3f" % fit_s)
    print("n_iter=%d" % m.n_iter_)
    print("accuracy=%.5f" % accuracy_score(y[k:], p > 0.5))
    print("auc=%.5f" % roc_auc_score(y[k:], p))


def titanic(csv, path):
    """Raw Titanic features, missing left as NaN (both learners handle it):
    Pclass, Sex, Age, SibSp, Parch, Fare, Embarked (coded 0..2)."""
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold
    df = pd.read_csv(csv)
    X = np.column_stack([
        df["Pclass"], (df["Sex"] == "female").astype(float), df["Age"], df["SibSp"],
        df["Parch"], df["Fare"], df["Embarked"].map({"S": 0, "C": 1, "Q": 2})]).astype(float)
    y = df["Survived"].values.astype(float)
    folds = np.zeros(len(y))
    skf = StratifiedKFold(n_splits=10, shuffle=True, random_state=42)
    for i, (_, te) in enumerate(skf.split(X, y)):
        folds[te] = i
    write(path, X, y, folds)


def cv(path):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score
    X, y, folds = read(path, with_folds=True)
    acc, auc = [], []
    for k in range(folds.max() + 1):
        tr, te = folds != k, folds == k
        m = HistGradientBoostingClassifier(random_state=0).fit(X[tr], y[tr])
        p = m.predict_proba(X[te])[:, 1]
        acc.append(accuracy_score(y[te], p > 0.5))
        auc.append(roc_auc_score(y[te], p))
    print("cv_accuracy=%.5f" % np.mean(acc))
    print("cv_auc=%.5f" % np.mean(auc))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), sys.argv[3])
    elif cmd == "fit":
        fit(sys.argv[2])
    elif cmd == "titanic":
        titanic(sys.argv[2], sys.argv[3])
    elif cmd == "cv":
        cv(sys.argv[2])
    else:
        sys.exit("usage: gbdt_ref.py gen N FILE | fit FILE | titanic CSV FILE | cv FILE")
