"""test_pipeline_tasks.py: multiclass and regression retrains through the
whole distributed pipeline (a real broker and one worker per stage) on
small CSVs generated with a fixed seed in the test's tmp dir: the task type
decided at preprocess reaches train, evaluate and load_model, the version
is registered with the task's metrics, judged on the task's default metric
and promoted; a run of another task type than production is not compared
with it; a regression on a string target and a one-class target fail the
run at preprocess with their own error.

Each promoted version is then served by a real gateway and an inference
worker that fetches it from the broker: /predict, /predict/batch and V2
infer answer with the task's shapes and the promoted version, and with the
values the artifact computes, evaluated here from its bytes (the artifact,
byte for byte the one `mlops train` writes for the same CSV and seed)."""
import hashlib
import math
import os
import random
import struct
import subprocess

import pytest
import requests

from procs import Broker, Gateway, exe, read_log, start_infer, wait_for

msgpack = pytest.importorskip("msgpack", reason="python3-msgpack is not installed")

ROWS = 300
MODEL = "tasks"     # the gateway's model name (V2 paths)


def write_multiclass(path, seed=7):
    """3 classes (a, b, c) from two numbers and a category, with noise."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("x1,x2,colour,label\n")
        for _ in range(ROWS):
            x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
            colour = rng.choice(["red", "green", "blue"])
            score = x1 + 0.5 * (colour == "red") + rng.gauss(0, 0.3)
            label = "a" if score < -0.5 else ("b" if x2 < 0.3 else "c")
            f.write("%.4f,%.4f,%s,%s\n" % (x1, x2, colour, label))


def write_regression(path, seed=11, missing=4):
    """y = 3 x1 - 2 x2 + 5 + noise; the first `missing` rows have no y."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("x1,x2,shop,y\n")
        for i in range(ROWS):
            x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
            shop = rng.choice(["north", "south"])
            y = 3 * x1 - 2 * x2 + 5 + (1.5 if shop == "north" else 0) + rng.gauss(0, 0.5)
            f.write("%.4f,%.4f,%s,%s\n" % (x1, x2, shop, "" if i < missing else "%.4f" % y))


class Artifact:
    """A generic recipe (numbers and one-hot categories, PROTOCOL.md
    "Artifacts") and its model, evaluated from the artifact's bytes: a ridge
    (logreg family, regression) or a multiclass forest (a leaf's `left`
    indexes its row of class fractions in `leaves`; the probabilities are
    the mean over the trees)."""

    def __init__(self, data):
        envelope = msgpack.unpackb(data, raw=False, strict_map_key=False)
        body = msgpack.unpackb(envelope[3], raw=False, strict_map_key=False)
        self.family, self.model = body["family"], body["model"]
        self.recipe = msgpack.unpackb(body["recipe"], raw=False, strict_map_key=False)

    def features(self, record):
        raw = []
        for inp in self.recipe["inputs"]:
            v = record.get(inp["name"])
            if inp["type"] == 1:
                raw.append(inp["fill"] if v is None else v)
            else:
                v = inp["fill_str"] if v is None else v
                raw += [float(v == level) for level in inp["levels"]] + [float(v not in inp["levels"])]
        r = self.recipe
        return [(v - m) / s for v, m, s in zip(raw, r["mean"], r["scale"])]

    def value(self, record):
        x = self.features(record)
        return self.model["intercept"] + sum(w * v for w, v in zip(self.model["coef"], x))

    def probabilities(self, record):
        x, m = self.features(record), self.model
        k, n_trees = m["n_classes"], m["n_trees"]
        nodes = list(struct.iter_unpack("<diI", m["nodes"]))
        leaves = struct.unpack("<%dd" % (len(m["leaves"]) // 8), m["leaves"])
        total = [0.0] * k
        for i in struct.unpack("<%dI" % n_trees, m["roots"]):
            while nodes[i][1] >= 0:
                threshold, feature, left = nodes[i]
                i = left if x[feature] <= threshold else left + 1
            row = nodes[i][2]
            total = [t + leaves[row * k + c] for c, t in enumerate(total)]
        return [t / n_trees for t in total]


def train_cli(tmp_path, source, *flags):
    """The artifact `mlops train` writes for source (its default seed and
    split, the broker's too)."""
    out = str(tmp_path / "cli.art")
    r = subprocess.run([exe("mlops"), "train", "--source", source, *flags, "--out", out],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        return f.read()


def serve(procs, broker, version):
    """A gateway and an inference worker fetching the production model from
    the broker, once it serves `version`; returns the gateway and the
    artifact bytes the worker fetched (its cache keeps them by sha256)."""
    gw = Gateway(procs, "--model-name", MODEL)
    cache = os.path.join(procs.tmp, "infer-cache")
    start_infer(procs, gw.backend, "--broker", broker.control, "--cache-dir", cache)
    gw.wait_workers(1, version=version, timeout=30)
    wait_for(lambda: requests.get(gw.url + "/v2/models/" + MODEL, timeout=2).status_code == 200,
             what="signature at the gateway")
    [name] = os.listdir(cache)
    with open(os.path.join(cache, name), "rb") as f:
        return gw, f.read()


def post(gw, path, body):
    r = requests.post(gw.url + path, json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def v2_body(records, types):
    """Column tensors of the records; types: name -> V2 datatype."""
    return {"inputs": [{"name": n, "datatype": t, "shape": [len(records)],
                        "data": [rec[n] for rec in records]} for n, t in types.items()]}


def retrain(broker, source):
    out = broker.cli("retrain", "--source", source, "--wait", "--timeout", "60s", timeout=90)
    return out


CLASSES = ["a", "b", "c"]
# records far from write_multiclass's class borders, with the class its rule gives
MC_RECORDS = [({"x1": -2.0, "x2": 0.0, "colour": "blue"}, "a"),
              ({"x1": 1.5, "x2": -1.5, "colour": "green"}, "b"),
              ({"x1": 1.5, "x2": 1.5, "colour": "red"}, "c"),
              ({"x1": -2.5, "x2": 2.0, "colour": "red"}, "a")]
MC_TYPES = {"x1": "FP64", "x2": "FP64", "colour": "BYTES"}
# records for write_regression's model, with the y its rule gives (noise aside)
RG_RECORDS = [({"x1": 1.0, "x2": -1.0, "shop": "north"}, 11.5),
              ({"x1": -1.0, "x2": 0.5, "shop": "south"}, 1.0),
              ({"x1": 0.0, "x2": 0.0, "shop": "south"}, 5.0)]
RG_TYPES = {"x1": "FP64", "x2": "FP64", "shop": "BYTES"}


def version(broker, number):
    return next(v for v in broker.models()["versions"] if v["version"] == number)


def test_multiclass_run_registers_and_promotes(procs, tmp_path):
    path = str(tmp_path / "three.csv")
    write_multiclass(path)
    broker = Broker(procs, extra=("--target", "label"))   # --task auto (the default)
    broker.all_workers(trains=1)
    out = retrain(broker, path)
    assert out.returncode == 0, out.stdout + out.stderr
    run = broker.run(1)
    assert run["state"] == "succeeded" and run["promoted"] and run["version"] == 1
    v1 = version(broker, 1)
    m = v1["metrics"]
    assert m["task"] == "multiclass"
    assert 0.6 < m["accuracy"] <= 1 and 0 < m["macro_f1"] <= 1 and m["log_loss"] > 0
    assert v1["stage"] == "production" and broker.models()["production"] == 1
    assert "accuracy" in v1["reason"]        # the multiclass default metric
    assert "auc" not in run["outcome"]
    shown = broker.cli("models")
    assert shown.returncode == 0 and " - " in shown.stdout   # no AUC for a multiclass row

    # served: the promoted forest, the very artifact `mlops train` makes
    gw, data = serve(procs, broker, 1)
    assert hashlib.sha256(data).hexdigest() == v1["sha256"]
    assert data == train_cli(tmp_path, path, "--target", "label")
    model = Artifact(data)
    assert model.family == v1["family"] == "forest" and model.recipe["classes"] == CLASSES
    records = [rec for rec, _ in MC_RECORDS]
    singles = [post(gw, "/predict", rec) for rec in records]
    for rec, a in zip(records, singles):
        assert set(a) == {"prediction", "probabilities", "model_version", "request_id"}
        assert a["model_version"] == 1 and list(a["probabilities"]) == CLASSES
        assert math.fsum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-12)
        probs = [a["probabilities"][c] for c in CLASSES]
        assert probs == pytest.approx(model.probabilities(rec), rel=1e-9, abs=1e-12)
        assert a["prediction"] == CLASSES[probs.index(max(probs))]
    assert [a["prediction"] for a in singles] == [label for _, label in MC_RECORDS]
    b = post(gw, "/predict/batch", {"instances": records})
    assert b.pop("request_id") not in [a["request_id"] for a in singles]
    assert b == {"predictions": [a["prediction"] for a in singles],
                 "probabilities": [a["probabilities"] for a in singles], "model_version": 1}
    v2 = post(gw, "/v2/models/%s/infer" % MODEL, v2_body(records, MC_TYPES))
    assert v2["model_version"] == "1"
    outs = {o["name"]: o for o in v2["outputs"]}
    assert outs["predict"]["datatype"] == "BYTES" and outs["predict"]["shape"] == [len(records)]
    assert outs["predict"]["data"] == b["predictions"]
    assert outs["probability"]["datatype"] == "FP64"
    assert outs["probability"]["shape"] == [len(records), len(CLASSES)]
    assert outs["probability"]["data"] == [p[c] for p in b["probabilities"] for c in CLASSES]


def test_regression_run_drops_rows_and_promotes(procs, tmp_path):
    path = str(tmp_path / "numbers.csv")
    write_regression(path)
    broker = Broker(procs, extra=("--target", "y", "--task", "regression"))
    workers = broker.all_workers(trains=1)
    out = retrain(broker, path)
    assert out.returncode == 0, out.stdout + out.stderr
    run = broker.run(1)
    assert run["state"] == "succeeded" and run["promoted"]
    v1 = version(broker, 1)
    m = v1["metrics"]
    assert m["task"] == "regression"
    assert 0.8 < m["r2"] <= 1 and 0 < m["mae"] <= m["rmse"] < 2
    assert "r2" in v1["reason"]              # the regression default metric
    preprocess = workers[1]
    assert "4 rows without a target left out" in read_log(preprocess)
    shown = broker.cli("models")
    assert "r2 " in shown.stdout and "rmse " in shown.stdout

    # served: the promoted ridge, the very artifact `mlops train` makes
    gw, data = serve(procs, broker, 1)
    assert hashlib.sha256(data).hexdigest() == v1["sha256"]
    assert data == train_cli(tmp_path, path, "--target", "y", "--task", "regression")
    model = Artifact(data)
    assert model.family == v1["family"] == "logreg" and model.recipe["task"] == "regression"
    records = [rec for rec, _ in RG_RECORDS]
    singles = [post(gw, "/predict", rec) for rec in records]
    for (rec, rule), a in zip(RG_RECORDS, singles):
        assert set(a) == {"prediction", "model_version", "request_id"} and a["model_version"] == 1
        assert a["prediction"] == pytest.approx(model.value(rec), rel=1e-12)
        assert abs(a["prediction"] - rule) < 1.0     # the noise's sd is 0.5
    b = post(gw, "/predict/batch", {"instances": records})
    assert b.pop("request_id") not in [a["request_id"] for a in singles]
    assert b == {"predictions": [a["prediction"] for a in singles], "model_version": 1}
    v2 = post(gw, "/v2/models/%s/infer" % MODEL, v2_body(records, RG_TYPES))
    assert v2["model_version"] == "1" and [o["name"] for o in v2["outputs"]] == ["predict"]
    out = v2["outputs"][0]
    assert out["datatype"] == "FP64" and out["shape"] == [len(records)]
    assert out["data"] == b["predictions"]

    # the same store, now a multiclass run: not compared with the regression
    # in production, archived with the reason, production unchanged
    multi = str(tmp_path / "three.csv")
    write_multiclass(multi)
    broker.kill()
    broker.extra = ["--target", "label"]
    broker.start()
    out = retrain(broker, multi)
    assert out.returncode == 0, out.stdout + out.stderr
    v2 = version(broker, 2)
    assert v2["metrics"]["task"] == "multiclass" and v2["stage"] == "archived"
    assert "task changed" in v2["reason"] and "production v1 regression" in v2["reason"]
    assert broker.models()["production"] == 1
    again = post(gw, "/predict", records[0])
    assert again.pop("request_id") != singles[0]["request_id"]
    assert again == {k: v for k, v in singles[0].items() if k != "request_id"}   # still v1


def test_bad_targets_fail_at_preprocess(procs, tmp_path):
    strings = str(tmp_path / "three.csv")
    write_multiclass(strings)
    one = str(tmp_path / "one.csv")
    with open(one, "w") as f:
        f.write("x1,label\n" + "".join("%d,a\n" % i for i in range(50)))
    broker = Broker(procs, extra=("--target", "label", "--task", "regression",
                                  "--max-attempts", "1"))
    broker.all_workers(trains=1)
    out = retrain(broker, strings)
    assert out.returncode == 1
    run = broker.run(1)
    assert run["state"] == "failed"
    assert [t["stage"] for t in run["tasks"] if t["state"] == "failed"] == ["preprocess"]
    assert "--task regression needs a numeric target; 'label' holds strings" in run["error"]
    out = retrain(broker, one)
    assert out.returncode == 1
    run = broker.run(2)
    assert run["state"] == "failed"
    assert "target 'label' has one value only: nothing to learn" in run["error"]
    assert broker.models()["versions"] == []
