#!/usr/bin/python3
"""tasks_ref.py: the scikit-learn side of bench/tasks.sh.

usage: tasks_ref.py OUT_DIR K REPEATS [TITANIC_CSV ANCHORS_DIR]
Writes each data set as OUT_DIR/NAME.csv (header, features, target last)
and prints one JSON object: for each data set its task, target column and
scikit-learn's repeated K-fold CV means of the linear model
(StandardScaler + LogisticRegression(C=1.0) or Ridge(alpha=1.0)),
RandomForest(100) and HistGradientBoosting (Classifier or Regressor,
sklearn's defaults): accuracy and macro F1 (multiclass), R^2 and RMSE
(regression), accuracy and ROC AUC (binary). Folds are sklearn's
(RepeatedStratifiedKFold / RepeatedKFold, random_state=42), not ours, so
the two sides differ by the split as well as by the model.

Data: sklearn's bundled iris, wine and diabetes files, two generated sets
(make_classification with 5 classes, make_regression with noise) and,
when given, Titanic with the reference pipeline's features (ANCHORS_DIR
holds pipeline.py: fit_transform_split refitted on each fold's training
rows, as ours refits its recipe)."""
import gzip, json, os, sys
import numpy as np
from sklearn.datasets import load_iris, load_wine, load_diabetes, make_classification, make_regression
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

out, k, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
titanic_csv = sys.argv[4] if len(sys.argv) > 5 else None
os.makedirs(out, exist_ok=True)

def sets():
    iris = load_iris()
    yield "iris", "multiclass", iris.data, np.array(iris.target_names)[iris.target]
    wine = load_wine()
    yield "wine", "multiclass", wine.data, wine.target
    dia = load_diabetes(scaled=False)
    yield "diabetes", "regression", dia.data, dia.target
    X, y = make_classification(n_samples=2000, n_features=12, n_informative=6, n_classes=5,
                               random_state=7)
    yield "gen_multiclass", "multiclass", X, y
    X, y = make_regression(n_samples=2000, n_features=12, n_informative=6, noise=20.0,
                           random_state=7)
    yield "gen_regression", "regression", X, y

result = {}
for name, task, X, y in sets():
    with open(os.path.join(out, name + ".csv"), "w") as f:
        f.write(",".join("f%d" % j for j in range(X.shape[1])) + ",target\n")
        for row, t in zip(X, y):
            f.write(",".join("%.10g" % v for v in row) + ",%s\n" % (t if isinstance(t, str) else "%.10g" % t))
    if task == "multiclass":
        cv = RepeatedStratifiedKFold(n_splits=k, n_repeats=reps, random_state=42)
        models = {"logreg": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)),
                  "forest": RandomForestClassifier(n_estimators=100, random_state=42),
                  "gbdt": HistGradientBoostingClassifier(random_state=42)}
        scoring = {"accuracy": "accuracy", "macro_f1": "f1_macro"}
    else:
        cv = RepeatedKFold(n_splits=k, n_repeats=reps, random_state=42)
        models = {"logreg": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
                  "forest": RandomForestRegressor(n_estimators=100, random_state=42),
                  "gbdt": HistGradientBoostingRegressor(random_state=42)}
        scoring = {"r2": "r2", "rmse": "neg_root_mean_squared_error"}
    result[name] = {"task": task, "families": {}}
    for fam, m in models.items():
        s = cross_validate(m, X, y, cv=cv, scoring=scoring, n_jobs=1)
        result[name]["families"][fam] = {key: abs(float(np.mean(s["test_" + key]))) for key in scoring}

def titanic(path, anchors):
    """Binary Titanic: the reference's features, refitted per fold."""
    import pandas as pd
    sys.path.insert(0, anchors)
    import pipeline as ref
    df = pd.read_csv(path)
    y = df[ref.TARGET].values
    models = {"logreg": lambda: LogisticRegression(max_iter=1000),
              "forest": lambda: RandomForestClassifier(n_estimators=100, random_state=42),
              "gbdt": lambda: HistGradientBoostingClassifier(random_state=42)}
    acc = {f: [] for f in models}
    auc = {f: [] for f in models}
    cv = RepeatedStratifiedKFold(n_splits=k, n_repeats=reps, random_state=42)
    for tr, te in cv.split(df, y):
        _, _, Xtr, Xte = ref.fit_transform_split(df.iloc[tr], df.iloc[te])
        for f, make in models.items():
            p = make().fit(Xtr, y[tr]).predict_proba(Xte)[:, 1]
            acc[f].append(accuracy_score(y[te], p >= 0.5))
            auc[f].append(roc_auc_score(y[te], p))
    return {"task": "binary", "target": ref.TARGET,
            "families": {f: {"accuracy": float(np.mean(acc[f])), "roc_auc": float(np.mean(auc[f]))}
                         for f in models}}

if titanic_csv:
    result["titanic"] = titanic(titanic_csv, sys.argv[5])
print(json.dumps(result))
